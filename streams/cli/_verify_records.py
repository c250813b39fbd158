"""What ``fraudstream verify --json`` prints: the runs, the differences and the verdict as JSON
records.

A ``run`` record per pipeline run (the ``✓ N verdicts`` line), a ``features`` record with
``--batch``, a ``difference`` record per transaction whose verdict differs (every one: --show
limits the table only), then the ``summary``: what was checked, the counts of the summary line
and the verdict. Pure functions: :mod:`streams.cli.verify` prints them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.qa.score_comparison import DIFFERENCE_KINDS, Comparison, Outcome
from streams.qa.verify import PipelineRun

__all__ = ["BatchFeatures", "verify_records", "verify_verdict"]

Record = dict[str, Any]


@dataclass(frozen=True)
class BatchFeatures:
    """``--batch``'s check of the features: the stream's against the batch path's."""

    compared: int
    #: The largest difference of one feature, relative (to at least one unit).
    largest_difference: float
    tolerance: float

    @property
    def ok(self) -> bool:
        """Every feature within the tolerance."""
        return self.largest_difference <= self.tolerance


def verify_verdict(
    check: str | None, comparison: Comparison | None, features: BatchFeatures | None
) -> str:
    """``pass`` or ``fail`` for a check (``expected``, ``batch``: exit code 1 when it fails);
    ``report`` for ``compare_model`` and a run without a check (exit code 0)."""
    if check not in ("expected", "batch") or comparison is None:
        return "report"
    ok = comparison.ok and (features is None or features.ok)
    return "pass" if ok else "fail"


def verify_records(
    models: Sequence[Path],
    runs: Sequence[PipelineRun],
    check: str | None,
    comparison: Comparison | None,
    features: BatchFeatures | None,
    tolerance: float,
) -> Iterator[Record]:
    """The records of a verify: ``check`` is ``expected``, ``compare_model``, ``batch`` or None
    (a run only, e.g. for --save-scores: nothing compared)."""
    for number, (model, run) in enumerate(zip(models, runs, strict=True), 1):
        yield {
            "record": "run",
            "run": number,
            "model": str(model),
            "model_version": run.model_version,
            "verdicts": len(run.outcomes),
            "dead_lettered": run.dead_letters,
            "live_transactions": run.live,
        }
    if features is not None:
        yield {
            "record": "features",
            "compared": features.compared,
            "largest_relative_difference": features.largest_difference,
            "tolerance": features.tolerance,
            "same": features.ok,
        }
    compared = comparison or Comparison(tolerance=tolerance)
    for difference in compared.differences:
        partner, transaction = difference.key
        yield {
            "record": "difference",
            "partner": partner,
            "transaction_id": transaction,
            "difference": difference.kind,
            "expected": _verdict(difference.expected),
            "actual": _verdict(difference.actual),
        }
    counts = compared.counts()
    yield {
        "record": "summary",
        "check": check,
        "compared": compared.compared,
        "same": compared.same,
        "different": len(compared.differences),
        **{kind.replace(" ", "_"): counts[kind] for kind in DIFFERENCE_KINDS},
        "tolerance": compared.tolerance,
        "verdict": verify_verdict(check, comparison, features),
    }


def _verdict(outcome: Outcome | None) -> Record | None:
    """One side of a difference (None: no verdict on that side)."""
    if outcome is None:
        return None
    return {
        "score": outcome.score,
        "alert": outcome.alert,
        "threshold": outcome.threshold,
        "model_version": outcome.model_version,
    }
