"""The pipeline bench's results as docs/benchmarks.md shows them: one run, or several, and the
latency percentiles of a run's scores."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from streams.core.outputs import Score

__all__ = [
    "OTHERS_NICE",
    "RATIO_TARGET",
    "BenchResult",
    "BenchRuns",
    "evaluation_seconds",
    "latencies",
    "others_priority",
]

#: What each run's pipeline/bare ratio should reach (docs/benchmarks.md).
RATIO_TARGET = 0.95
#: The nice value of (b)'s broker and partner worker unless told otherwise: the lowest priority.
OTHERS_NICE = 19
#: The stages of a score's timings the latency table shows, in the pipeline's order.
STAGES = ("features_ms", "encrypt_ms", "queued_ms", "fhe_ms", "transport_ms", "decrypt_ms")


@dataclass(frozen=True)
class BenchResult:
    """Both measurements and the latency breakdown of the pipeline run."""

    model_version: str
    transactions: int
    #: Seconds of each bare loop of (a): before and after (b), or B + 1 blocks around B blocks
    #: of (b) (``--blocks``), each of ``transactions`` / B evaluations.
    bare_loops: tuple[float, ...]
    pipeline_seconds: float
    latencies: dict[str, tuple[float, float]]  # stage → (p50, p99) milliseconds
    #: Transactions per second offered in (b) (open loop), or None: all sent at once (backlog).
    rate: float | None = None
    #: Bytes (keys and values) each transaction put on each topic of (b), by topic.
    topic_bytes: dict[str, float] = field(default_factory=dict)
    #: CPU seconds per timed transaction of each process of (b) (with its child processes).
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    #: Cores of the machine (for the CPU table's share of it).
    cores: int = 1
    #: CPU seconds per timed transaction of (a), the bare loop (every thread of its process).
    bare_cpu_seconds: float | None = None
    #: Nice value (CPU priority) of (b)'s broker and partner worker; 0 is the scorer's.
    others_nice: int = OTHERS_NICE
    #: Seconds of each block of (b) (with ``--blocks``; otherwise the one block, all of it):
    #: their sum is ``pipeline_seconds``. Empty if not given (then ``block_ratios`` is too).
    pipeline_blocks: tuple[float, ...] = ()
    #: Whether (b)'s broker and partner worker ran in the kernel's idle scheduling class too.
    others_idle: bool = False
    #: Seconds (b)'s scorer spent evaluating the timed transactions (their scores' ``fhe_ms``),
    #: or None if not known; and how many evaluations it ran at once (its pool's processes).
    evaluation_seconds: float | None = None
    evaluations_at_once: int = 1

    def __post_init__(self) -> None:
        if not self.bare_loops:
            msg = "a bench result needs at least one bare loop's seconds"
            raise ValueError(msg)

    def cpu_markdown(self) -> str:
        """Where (b)'s CPU went, per transaction, against what the machine had."""
        if not self.cpu_seconds:
            return ""
        had = self.pipeline_seconds / self.transactions * self.cores
        rows = [
            f"| process of (b) | CPU s per transaction | share of the {self.cores} cores |",
            "|---|---|---|",
        ]
        rows += [f"| {name} | {s:.3f} | {s / had:.0%} |" for name, s in self.cpu_seconds.items()]
        used = sum(self.cpu_seconds.values())
        rows.append(f"| all | {used:.3f} | {used / had:.0%} |")
        if self.others_nice or self.others_idle:
            rows += [
                "",
                "The broker and the partner's worker ran at "
                f"{others_priority(self.others_nice, self.others_idle)}, the scorer and this "
                "bench at their own (docs/benchmarks.md says why).",
            ]
        # Under a backlog only: in open loop (b)'s CPU per transaction also holds the idle work
        # of the gaps between transactions, which the bare loop has none of.
        if self.bare_cpu_seconds and self.rate is None:
            bare_had = self.bare_seconds / self.transactions * self.cores
            rows += [
                "",
                f"(a), for comparison: the bare loop used {self.bare_cpu_seconds:.3f} CPU s per "
                f"transaction ({self.bare_cpu_seconds / bare_had:.0%} of the {self.cores} cores "
                f"while it ran); (b) in all used {used / self.bare_cpu_seconds - 1:.0%} more.",
            ]
        return "\n".join(rows)

    def split_markdown(self) -> str:
        """Where (b)'s time went against (a)'s: in its evaluations, or outside them (the fill
        and drain of each block, the gaps between evaluations). Under a backlog with one
        evaluation at a time only: otherwise evaluations overlap or wait for sends."""
        if self.evaluation_seconds is None or self.rate is not None or self.evaluations_at_once > 1:
            return ""
        n, pipeline = self.transactions, self.pipeline_seconds
        inside, bare = self.evaluation_seconds / n, self.bare_seconds / n
        outside = pipeline / n - inside
        return (
            f"Where (b)'s time went: one evaluation took {inside:.3f} s (the mean of the scores' "
            f"FHE time) against {bare:.3f} s in (a) ({inside / bare - 1:+.1%}); outside the "
            f"evaluations (fill, drain, gaps between them) (b) spent {outside * 1000:.1f} ms per "
            f"transaction ({outside / (pipeline / n):.1%} of its time)."
        )

    def _loops_text(self) -> str:
        """``; times averaged from P tx/s before (b) and Q after`` when (a) ran on both sides
        of (b) (the throughput shown is that of the mean time, not the mean of P and Q); in
        blocks, their count and range."""
        if len(self.bare_loops) > 2:  # blocks
            low, high = min(self.bare_loop_throughputs), max(self.bare_loop_throughputs)
            return (
                f"; {len(self.bare_loops)} blocks of {self.transactions // self.blocks} between "
                f"{low:.3f} and {high:.3f} tx/s, around {self.blocks} blocks of (b)"
            )
        if len(self.bare_loops) != 2:  # before and after
            return ""
        before, after = self.bare_loop_throughputs
        return f"; times averaged from {before:.3f} tx/s before (b) and {after:.3f} after"

    def bytes_markdown(self) -> str:
        """Bytes per transaction on each topic, and the verdict's as one line a script reads."""
        if not self.topic_bytes:
            return ""
        rows = ["| topic | bytes per transaction |", "|---|---|"]
        rows += [f"| {topic} | {size:,.0f} |" for topic, size in self.topic_bytes.items()]
        verdict = self.topic_bytes.get("verdicts", 0.0)
        return "\n".join([*rows, "", f"verdict bytes per transaction: {verdict:.0f}"])

    @property
    def blocks(self) -> int:
        """Blocks of (b), each between two loops of (a) (1: (a) before and after all of (b))."""
        return max(1, len(self.bare_loops) - 1)

    @property
    def backlog(self) -> str:
        """What the latencies queue behind: all N sent at once, or each block's N / B."""
        if self.blocks > 1:
            return f"backlog of each block of {self.transactions // self.blocks}"
        return "backlog of all N"

    @property
    def bare_seconds(self) -> float:
        """Seconds of (a) for all the transactions: each block of (b) is set against the mean of
        the two loops around it, so that the machine's drift between them cancels (with one
        block, the mean of the loops before and after (b))."""
        if len(self.bare_loops) == 1:
            return self.bare_loops[0]
        return sum(self._bare_around_blocks)

    @property
    def _bare_around_blocks(self) -> tuple[float, ...]:
        """For each block of (b), the mean seconds of the two loops of (a) around it."""
        return tuple((before + after) / 2 for before, after in itertools.pairwise(self.bare_loops))

    @property
    def bare_throughput(self) -> float:
        """Transactions per second of the bare evaluation loop."""
        return self.transactions / self.bare_seconds

    @property
    def bare_loop_throughputs(self) -> tuple[float, ...]:
        """Transactions per second of each bare loop (before and after (b), or each block)."""
        per_loop = self.transactions / self.blocks
        return tuple(per_loop / seconds for seconds in self.bare_loops)

    @property
    def pipeline_throughput(self) -> float:
        """Transactions per second through the broker and every stage."""
        return self.transactions / self.pipeline_seconds

    @property
    def ratio(self) -> float:
        """Pipeline throughput over bare-loop throughput."""
        return self.pipeline_throughput / self.bare_throughput

    @property
    def block_ratios(self) -> tuple[float, ...]:
        """Each block of (b)'s ratio to the mean of the two loops of (a) around it (``ratio`` is
        that of their sums; one block: ``ratio`` itself)."""
        return tuple(
            bare / seconds
            for bare, seconds in zip(self._bare_around_blocks, self.pipeline_blocks, strict=False)
        )

    def markdown(self) -> str:
        """The result as the Markdown block of docs/benchmarks.md."""
        rows = [
            "| measure | value |",
            "|---|---|",
            f"| model | `{self.model_version}` |",
            f"| transactions (after warm-up) | {self.transactions} |",
            f"| (a) bare loop of evaluations | {self.bare_throughput:.3f} tx/s "
            f"({self.bare_seconds / self.transactions:.3f} s/tx{self._loops_text()}) |",
            f"| (b) whole pipeline through the broker | {self.pipeline_throughput:.3f} tx/s "
            f"({self.pipeline_seconds / self.transactions:.3f} s/tx) |",
        ]
        if self.rate is None:
            rows += [
                f"| **ratio (b)/(a)** | **{self.ratio:.3f}** (target ≥ {RATIO_TARGET}) |",
                "",
                f"| stage (ms, {self.backlog}) | p50 | p99 |",
            ]
        else:
            rows += [
                f"| offered load (open loop) | {self.rate:.3f} tx/s, "
                f"{self.rate / self.bare_throughput:.0%} of (a) |",
                "",
                f"| stage (ms, open loop at {self.rate:.3f} tx/s) | p50 | p99 |",
            ]
        rows.append("|---|---|---|")
        return "\n".join(rows + self.stage_and_appendix_rows())

    def stage_and_appendix_rows(self) -> list[str]:
        """The latency table's rows (after its header), then the CPU and bytes tables."""
        rows = [
            f"| {stage.removesuffix('_ms').replace('_', ' ')} | {p50:.1f} | {p99:.1f} |"
            for stage, (p50, p99) in self.latencies.items()
        ]
        parts = (self.split_markdown(), self.cpu_markdown(), self.bytes_markdown())
        extra = [part for part in parts if part]
        return rows + [line for part in extra for line in ("", part)]


@dataclass(frozen=True)
class BenchRuns:
    """Several independent runs of the bench (each its own broker, pipeline and bare loop)."""

    runs: tuple[BenchResult, ...]

    def ratio_line(self) -> str:
        """Every run's ratio, in run order, as one line a script can read, each rounded down to
        two decimals (so that 0.949 shows as 0.94, not as the target); runs at another priority
        than the bench's own say so in the line's name (they are not its ratio)."""
        name = "pipeline/bare ratio runs"
        nices = sorted({r.others_nice for r in self.runs})
        idle = any(r.others_idle for r in self.runs)
        if nices != [OTHERS_NICE] or idle:
            priority = others_priority(", ".join(map(str, nices)), idle)
            name += f" (broker and partner worker at {priority})"
        return f"{name}: " + ", ".join(f"{_down(r.ratio):.2f}" for r in self.runs)

    @property
    def median_run(self) -> int:
        """The number (from 1, in run order) of the run with the median ratio."""
        median = sorted(self.runs, key=lambda r: r.ratio)[len(self.runs) // 2]
        return self.runs.index(median) + 1

    def markdown(self) -> str:
        """One run: its block; several: a row per run, the ratio line, then the latency table
        of the run with the median ratio."""
        if len(self.runs) == 1:
            return self.runs[0].markdown()
        loops = "blocks of (a)" if self.runs[0].blocks > 1 else "(a) before / after (b)"
        rows = [
            f"| run | model | (a) bare tx/s | {loops} | (b) pipeline tx/s | ratio (b)/(a) |",
            "|---|---|---|---|---|---|",
        ]
        rows += [
            f"| {n} | `{r.model_version}` | {r.bare_throughput:.3f} | "
            + _loops_cell(r)
            + f" | {r.pipeline_throughput:.3f} | {r.ratio:.3f} |"
            for n, r in enumerate(self.runs, 1)
        ]
        number = self.median_run
        median = self.runs[number - 1]
        rows += [
            "",
            f"Every run's ratio (target: each ≥ {RATIO_TARGET}; rounded down):",
            "",
            self.ratio_line(),
            "",
            f"Run {number} (the median ratio), {median.transactions} transactions after warm-up:",
            "",
            f"| stage (ms, {median.backlog}) | p50 | p99 |",
            "|---|---|---|",
        ]
        return "\n".join(rows + median.stage_and_appendix_rows())


def _loops_cell(run: BenchResult) -> str:
    """Each loop of (a) before / after (b); with blocks, their range; one loop only: "-" (its
    throughput is the column before)."""
    speeds = run.bare_loop_throughputs
    if len(speeds) > 2:
        return f"{min(speeds):.3f}-{max(speeds):.3f} ({len(speeds)} blocks)"
    return " / ".join(f"{tx_per_s:.3f}" for tx_per_s in speeds) if len(speeds) > 1 else "-"


def others_priority(nice: int | str, idle: bool) -> str:
    """How the reports name the priority of (b)'s broker and partner worker: their nice value
    (or values), and the kernel's idle scheduling class if they were in it (``--others-idle``)."""
    return f"nice {nice}" + (" in the idle scheduling class" if idle else "")


def _down(ratio: float) -> float:
    """``ratio`` rounded down to two decimals (a hair of float error above kept: 0.95 is 0.95)."""
    return math.floor(ratio * 100 + 1e-9) / 100


def latencies(timed: Sequence[tuple[Score, float]]) -> dict[str, tuple[float, float]]:
    """p50 and p99 of each stage's milliseconds and of the end to end (from the send)."""
    found = {stage: _stage(timed, stage) for stage in STAGES}
    found["end_to_end_ms"] = _percentiles([s.scored_at_ms - sent for s, sent in timed])
    return found


def evaluation_seconds(timed: Sequence[tuple[Score, float]]) -> float | None:
    """Seconds the scorer spent evaluating the transactions of ``timed`` (their scores' FHE
    time), or None if a score does not carry it."""
    times = [t for s, _ in timed if (t := s.timings.fhe_ms) is not None]
    return sum(times) / 1000 if len(times) == len(timed) else None


def _stage(timed: Sequence[tuple[Score, float]], stage: str) -> tuple[float, float]:
    """p50 and p99 of one stage's milliseconds, over the scores that timed it (NaN if none)."""
    values = [v for s, _ in timed if (v := getattr(s.timings, stage)) is not None]
    return _percentiles(values) if values else (math.nan, math.nan)


def _percentiles(values: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0], ordered[0]
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return statistics.median(ordered), cuts[98]
