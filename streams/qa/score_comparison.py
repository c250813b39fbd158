"""Comparing scores: what a run of a recording gave against golden scores or another model's.

The outcome of a transaction is what its partner learned (score, alert, threshold, model), read
from the ``scores`` topics (:class:`~streams.core.messages.Score` records). Outcomes are compared
by (partner, transaction id): alerts must match exactly, scores within a tolerance; an outcome on
one side only is a difference too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.core.errors import FraudStreamError, VerifyError
from streams.core.outputs import Score
from streams.qa.recording_file import (
    RecordedMessage,
    RecordingHeader,
    read_recording,
    write_recording,
)

__all__ = [
    "DIFFERENCE_KINDS",
    "Comparison",
    "Difference",
    "Outcome",
    "compare_outcomes",
    "outcomes_of",
    "read_outcomes",
    "save_scores",
]

#: The kinds of difference between two verdicts of a transaction, in the summary line's order.
DIFFERENCE_KINDS = ("alert gained", "alert lost", "score changed", "missing", "unexpected")


@dataclass(frozen=True)
class Outcome:
    """What a partner learned about one transaction."""

    partner: str
    transaction_id: int
    score: float
    alert: bool
    threshold: float
    model_version: str

    @property
    def key(self) -> tuple[str, int]:
        """(partner, transaction id)."""
        return (self.partner, self.transaction_id)


def outcomes_of(messages: Iterable[RecordedMessage]) -> dict[tuple[str, int], Outcome]:
    """The verdicts on the scores topics among ``messages`` (other topics are ignored; a
    transaction scored twice, as at-least-once delivery allows, keeps its first verdict)."""
    found: dict[tuple[str, int], Outcome] = {}
    for message in messages:
        parts = message.topic.split(".")
        if len(parts) < 4 or parts[-2] != "scores" or message.value is None:
            continue
        try:
            score = Score.from_bytes(message.value)
        except FraudStreamError as exc:
            msg = f"{message.topic}:{message.partition}@{message.offset}: {exc}"
            raise VerifyError(msg) from exc
        verdict = Outcome(
            partner=parts[-3],
            transaction_id=score.transaction_id,
            score=score.score,
            alert=score.alert,
            threshold=score.threshold,
            model_version=score.model_version,
        )
        found.setdefault(verdict.key, verdict)
    return found


def read_outcomes(path: Path) -> dict[tuple[str, int], Outcome]:
    """The verdicts of a recording of scores topics (``fraudstream record``)."""
    verdicts = outcomes_of(m for m in read_recording(path) if isinstance(m, RecordedMessage))
    if not verdicts:
        msg = f"{path} holds no scores (record <root>.<partner>.scores.v1 topics)"
        raise VerifyError(msg)
    return verdicts


@dataclass(frozen=True)
class Difference:
    """One verdict that is not as expected."""

    kind: str  # "missing", "unexpected", "alert gained", "alert lost", "score changed"
    expected: Outcome | None
    actual: Outcome | None

    @property
    def key(self) -> tuple[str, int]:
        """(partner, transaction id)."""
        verdict = self.expected or self.actual
        assert verdict is not None  # noqa: S101  (one side always exists)
        return verdict.key


@dataclass
class Comparison:
    """Expected verdicts against actual ones."""

    tolerance: float
    compared: int = 0
    same: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No difference at all."""
        return not self.differences

    def counts(self) -> Counter[str]:
        """How many differences of each kind."""
        return Counter(d.kind for d in self.differences)

    def summary(self) -> str:
        """One line: what was compared and what differs."""
        counts = self.counts()
        parts = ", ".join(f"{counts[k]} {k}" for k in DIFFERENCE_KINDS)
        return (
            f"{self.compared} verdicts compared: {self.same} same, {len(self.differences)} "
            f"different ({parts}; score tolerance {self.tolerance:g})"
        )


def compare_outcomes(
    expected: Mapping[tuple[str, int], Outcome],
    actual: Mapping[tuple[str, int], Outcome],
    *,
    tolerance: float,
) -> Comparison:
    """Alerts must match exactly, scores within ``tolerance``; every key on one side only is a
    difference. Differences are sorted by partner and transaction."""
    comparison = Comparison(tolerance=tolerance)
    for key in sorted(set(expected) | set(actual)):
        comparison.compared += 1
        want, got = expected.get(key), actual.get(key)
        kind = _difference(want, got, tolerance)
        if kind is None:
            comparison.same += 1
        else:
            comparison.differences.append(Difference(kind, want, got))
    return comparison


def _difference(want: Outcome | None, got: Outcome | None, tolerance: float) -> str | None:
    if want is None:
        return "unexpected"
    if got is None:
        return "missing"
    if want.alert != got.alert:
        return "alert gained" if got.alert else "alert lost"
    if abs(want.score - got.score) > tolerance:
        return "score changed"
    return None


def save_scores(
    path: Path, scores: list[RecordedMessage], model_version: str, source: str
) -> RecordingHeader:
    """Write ``scores`` (a run's, of ``model_version``) as a recording: golden scores for a later
    verify."""
    topics = tuple(sorted({m.topic for m in scores}))
    header = RecordingHeader(
        source=source, topics=topics, selection=f"scores of model {model_version}"
    )
    return write_recording(path, header, scores)
