"""What ``fraudstream bench … --json`` prints: each benchmark's result as JSON records.

One record per row of the result's table (a run, a file, a number of key sets, a fault kind,
a process…), then a ``summary`` record with the lines under the table (the ratios, the
verdict). Every record names what it is in its ``record`` field. The numbers are the tables'
(docs/benchmarks.md, docs/reliability.md, docs/threat-model.md), unrounded; field names carry
their unit (``_s``, ``_ms``, ``_us``, ``_mb``, ``_bytes``, ``_per_s``). Pure functions: the
commands print them (:func:`streams.cli._common.json_lines`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

from streams.qa.bench_report import RATIO_TARGET, BenchResult, BenchRuns
from streams.qa.data_bench import DataBenchResult
from streams.qa.fault_run import FAULT_KINDS, FaultReport, p50_p99
from streams.qa.fuzz_report import FuzzReport
from streams.qa.key_memory import KeyMemory
from streams.qa.pool_bench import PoolSweep
from streams.qa.soak_report import SoakReport

__all__ = [
    "data_records",
    "fault_records",
    "fuzz_records",
    "memory_records",
    "pipeline_records",
    "pool_records",
    "soak_records",
    "verdict",
]

Record = dict[str, Any]


def verdict(ok: bool) -> str:
    """A check's verdict as the summary records give it."""
    return "pass" if ok else "fail"


def pipeline_records(result: BenchRuns) -> Iterator[Record]:
    """One ``run`` record per run (throughputs, ratio, latencies, CPU and bytes per
    transaction), then the ``summary``: every run's ratio (the ``pipeline/bare ratio runs:``
    line) and which run has the median one (whose latencies the table shows)."""
    for number, run in enumerate(result.runs, 1):
        yield {"record": "run", "run": number, **_pipeline_run(run)}
    yield {
        "record": "summary",
        "runs": len(result.runs),
        "ratios": [run.ratio for run in result.runs],
        "median_ratio_run": result.median_run,
        "ratio_target": RATIO_TARGET,
    }


def _pipeline_run(run: BenchResult) -> Record:
    """A run's numbers: those of its table, its latency table and its CPU and bytes tables."""
    cpu = dict(run.cpu_seconds)
    if cpu:
        cpu["all"] = sum(run.cpu_seconds.values())
    had = run.pipeline_seconds / run.transactions * run.cores  # CPU s per transaction in (b)
    return {
        "model_version": run.model_version,
        "transactions": run.transactions,
        "bare_s": run.bare_seconds,
        # (a) before and after (b), bare_s their mean; or blocks around (b)'s (bench_report).
        "bare_loops_s": list(run.bare_loops),
        "blocks": run.blocks,
        "others_nice": run.others_nice,
        "others_idle": run.others_idle,
        "pipeline_s": run.pipeline_seconds,
        # Each block of (b) (one: all of it) and its ratio to the loops of (a) around it.
        "pipeline_blocks_s": list(run.pipeline_blocks),
        "block_ratios": list(run.block_ratios),
        "bare_tx_per_s": run.bare_throughput,
        "pipeline_tx_per_s": run.pipeline_throughput,
        "bare_s_per_tx": run.bare_seconds / run.transactions,
        "bare_cpu_s_per_tx": run.bare_cpu_seconds,
        "pipeline_s_per_tx": run.pipeline_seconds / run.transactions,
        "ratio": run.ratio,
        # (b)'s seconds inside its evaluations (the scores' FHE time), and how many ran at once.
        "evaluation_s": run.evaluation_seconds,
        "evaluations_at_once": run.evaluations_at_once,
        # Open loop (--rate): the offered load, and its share of (a)'s throughput.
        "offered_tx_per_s": run.rate,
        "offered_share_of_bare": None if run.rate is None else run.rate / run.bare_throughput,
        "latency_ms": {
            stage.removesuffix("_ms"): {"p50": p50, "p99": p99}
            for stage, (p50, p99) in run.latencies.items()
        },
        "cpu_s_per_tx": cpu,
        "cpu_share_of_cores": {name: seconds / had for name, seconds in cpu.items()},
        "cores": run.cores,
        "topic_bytes_per_tx": dict(run.topic_bytes),
        "verdict_bytes_per_tx": run.topic_bytes.get("verdicts"),
    }


def fuzz_records(report: FuzzReport) -> Iterator[Record]:
    """One ``family`` record per family of bad inputs (sent, refused with a reason), then the
    ``summary``: the totals, what went wrong (counts) and the verdict."""
    for family, sent in sorted(report.sent.items()):
        refused = report.refused[family]
        yield {"record": "family", "family": family, "sent": sent, "refused": refused}
    yield {
        "record": "summary",
        "model": report.model,
        "seed": report.seed,
        "kinds": len(report.kinds),
        "duration_s": report.seconds,
        "sent": report.sent.total(),
        "refused": report.refused.total(),
        "error_classes": dict(report.error_classes.most_common()),
        "refused_without_reason": len(report.unexpected),
        "workers_crashed": len(report.crashed),
        "groups_left_behind": len(report.stuck),
        # The good transaction after them: None when it was not scored.
        "good_features_diff": report.good_features_diff,
        "good_score_diff": report.good_score_diff,
        "verdict": verdict(report.ok),
    }


def data_records(result: DataBenchResult) -> Iterator[Record]:
    """One ``file`` record per file read (bundled, larger), then the ``summary``: the
    per-row time of the larger file over the bundled one's."""
    files = (
        ("bundled", result.bundled_rows, result.bundled_seconds, result.bundled_per_row_us),
        ("larger", result.larger_rows, result.larger_seconds, result.larger_per_row_us),
    )
    for name, rows, seconds, per_row in files:
        yield {
            "record": "file",
            "file": name,
            "rows": rows,
            "median_s": statistics.median(seconds),
            "runs_s": list(seconds),
            "per_row_us": per_row,
        }
    yield {"record": "summary", "repeats": len(result.bundled_seconds), "ratio": result.ratio}


def memory_records(result: KeyMemory) -> Iterator[Record]:
    """One ``key_sets`` record per number of key sets held (0 first), then the ``summary``:
    the model and the size of one serialized evaluation key set."""
    base = result.rss_mb[0]
    for count, rss in sorted(result.rss_mb.items()):
        yield {
            "record": "key_sets",
            "key_sets": count,
            "rss_mb": rss,
            "above_no_keys_mb": rss - base,
            "per_key_set_mb": (rss - base) / count if count else None,
        }
    yield {
        "record": "summary",
        "model_version": result.model_version,
        "key_set_bytes": result.key_bytes,
    }


def pool_records(result: PoolSweep) -> Iterator[Record]:
    """One ``point`` record per processes x threads measured (threads 0: every core), then the
    ``summary``: the model, its bootstraps per evaluation (None: not on its card), the cores."""
    for point in result.points:
        per_core = point.per_second / result.cores
        yield {
            "record": "point",
            "processes": point.processes,
            "threads": point.threads,
            "evaluations": point.evaluations,
            "duration_s": point.seconds,
            "evaluations_per_s": point.per_second,
            "evaluations_per_s_per_core": per_core,
            "evaluation_p50_s": statistics.median(point.fhe_seconds),
            "bootstraps_per_s_per_core": (
                None if result.bootstraps is None else per_core * result.bootstraps
            ),
        }
    yield {
        "record": "summary",
        "model_version": result.model_version,
        "bootstraps_per_evaluation": result.bootstraps,
        "cores": result.cores,
    }


def fault_records(report: FaultReport) -> Iterator[Record]:
    """One ``fault`` record per kind of fault injected (its recovery times; p50 and p99 None
    when no score came after it), then the ``summary``: the counts, the schedule, the
    verdict."""
    for kind in FAULT_KINDS:
        count = sum(1 for fault in report.faults if fault.kind == kind)
        if not count:
            continue
        times = sorted(report.recovery_s.get(kind, []))
        p50, p99 = p50_p99(times) if times else (None, None)
        yield {
            "record": "fault",
            "fault": kind,
            "count": count,
            "recovery_p50_s": p50,
            "recovery_p99_s": p99,
            "recovery_s": times,
        }
    yield {
        "record": "summary",
        "seed": report.seed,
        "faults": len(report.faults),
        "restarts": report.restarts,
        "duration_s": report.seconds,
        "transactions": report.transactions,
        "scored": report.scored,
        "lost": report.lost,
        "scored_twice": report.duplicate_scores,
        "alerted_twice": report.duplicate_alerts,
        "differ_from_batch": report.mismatches,
        "schedule": [
            {"at_s": fault.at_s, "fault": fault.kind, "target": fault.target}
            for fault in report.faults
        ],
        "verdict": verdict(report.ok),
    }


def soak_records(report: SoakReport) -> Iterator[Record]:
    """One ``process`` record per RSS series (after the warm-up; slope None: too few samples),
    then the ``summary``: the run's plan, counts and verdict."""
    for series in report.series:
        yield {
            "record": "process",
            "process": series.series,
            "samples": series.samples,
            "rss_after_warmup_mb": series.start_mb,
            "rss_end_mb": series.end_mb,
            "rss_max_mb": series.max_mb,
            "slope_mb_per_h": series.slope_mb_per_h,
        }
    plan = report.plan
    yield {
        "record": "summary",
        "model": report.model,
        "partners": list(plan.partners),
        "in_flight": plan.in_flight,
        "history_days": plan.history_days,
        "history_transactions": report.history_transactions,
        "history_labels": report.history_labels,
        "history_s": report.history_s,
        "live_s": report.live_s,
        "duration_s": report.seconds,
        "ttl_s": plan.ttl_s,
        "sample_s": plan.sample_s,
        "warmup_s": report.warmup_s,
        "sent": report.sent,
        "scored": report.scored,
        "lost": report.lost,
        "scored_twice": report.scored_twice,
        "labels": report.labels,
        "scored_per_s": report.scored / report.live_s if report.live_s else 0.0,
        "data_from": report.data_from,
        "data_to": report.data_to,
        "exited": list(report.exited),
        "verdict": verdict(report.ok),
    }
