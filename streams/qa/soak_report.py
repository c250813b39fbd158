"""What a soak run found (:mod:`streams.qa.soak_run`): what was sent and scored, and every
process's memory after the warm-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from streams.qa.memory_samples import SeriesSummary

__all__ = ["SoakPlan", "SoakReport"]


@dataclass(frozen=True)
class SoakPlan:
    """What a soak run does: ``minutes`` of live scoring of ``partners``' transactions from
    ``start`` on, after ``history_days`` of history sent as feature-state warm-up; at most
    ``in_flight`` transactions sent and not scored yet; RSS every ``sample_s`` seconds; after
    sending stops, the scores may take ``drain_s`` seconds without progress before what is
    missing counts as lost. ``ttl_s`` is the run's join TTL and request maximum age (the
    wall-clock bounds of the decryptor's join table and of the scorer's remembered nonces)."""

    partners: tuple[str, ...]
    minutes: float
    sample_s: float
    in_flight: int
    start: date
    history_days: int
    drain_s: float = 300.0
    ttl_s: float = 600.0

    @property
    def warmup_share(self) -> float:
        """The part of the live minutes left out of the fit (memory settles in it)."""
        return 0.1


@dataclass
class SoakReport:
    """The counts of a soak run and the summaries of its memory samples."""

    plan: SoakPlan
    model: str = ""
    history_transactions: int = 0
    history_labels: int = 0
    history_s: float = 0.0
    sent: int = 0
    labels: int = 0
    scored: int = 0
    scored_twice: int = 0
    live_s: float = 0.0
    data_from: str = ""
    data_to: str = ""
    warmup_s: float = 0.0
    samples: int = 0
    series: list[SeriesSummary] = field(default_factory=list)
    exited: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        """Transactions sent and never scored."""
        return self.sent - self.scored

    @property
    def ok(self) -> bool:
        """Nothing lost, every worker still running at the end."""
        return self.lost == 0 and not self.exited

    def markdown(self, image: str | None = None) -> str:
        """The report as Markdown (docs/reliability.md's soak block), with the curve's image
        when ``image`` (a path relative to the document) is given."""
        plan = self.plan
        rate = self.scored / self.live_s if self.live_s else 0.0
        lines = [
            f"{round(self.live_s / 60, 1):g} min of live scoring with model {self.model} "
            f"({', '.join(plan.partners)}; at most "
            f"{plan.in_flight} transactions in flight) after {plan.history_days} days of history "
            f"as warm-up ({self.history_transactions:,} transactions and "
            f"{self.history_labels:,} labels, processed in {self.history_s / 60:.0f} min); "
            f"{self.seconds / 60:.0f} min in all. Join TTL and request maximum age "
            f"{plan.ttl_s:g} s. RSS sampled every {plan.sample_s:g} s; the "
            f"columns below are over the live part without its first {plan.warmup_share:.0%} "
            f"(from {self.warmup_s / 60:.1f} min after the workers started).",
            "",
            "| transactions sent | scored | lost | scored twice | labels sent | scored/s | "
            "data time covered |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {self.sent:,} | {self.scored:,} | {self.lost:,} | {self.scored_twice:,} | "
            f"{self.labels:,} | {rate:.2f} | {self.data_from} .. {self.data_to} |",
            "",
            "| process | samples | RSS after warm-up (MB) | at end (MB) | max (MB) | "
            "slope (MB/h) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for s in self.series:
            slope = "(too few samples)" if s.slope_mb_per_h is None else f"{s.slope_mb_per_h:+.1f}"
            lines.append(
                f"| {s.series} | {s.samples} | {s.start_mb:.0f} | {s.end_mb:.0f} | "
                f"{s.max_mb:.0f} | {slope} |"
            )
        if self.exited:
            lines += ["", "Exited during the run: " + ", ".join(self.exited) + "."]
        if image is not None:
            lines += ["", f"![RSS of every process over the soak run]({image})"]
        return "\n".join(lines)
