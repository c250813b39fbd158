"""Shadow scoring's comparison: a candidate model's scores beside the current model's, per
transaction, inside the partner.

A partner that shadow-scores (``FRAUD_SHADOW_KEY_DIR``) gets every transaction scored twice: by
its current model (``scores``, which alerts) and by the candidate (``shadow-scores``, which never
does). :func:`compare_shadow` pairs them by transaction id and says what switching would change:
alerts gained and lost, and how far the scores move. It reads plaintext scores, so it runs where
the partner's scores may be read (``fraudstream shadow``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.core.outputs import Score

__all__ = ["ShadowComparison", "compare_shadow"]


@dataclass
class ShadowComparison:
    """The candidate's scores against the current model's, on the same transactions."""

    current_models: list[str]
    candidate_models: list[str]
    compared: int = 0
    #: Transactions the candidate scored whose current score is not there (yet).
    candidate_only: int = 0
    alerts_current: int = 0
    alerts_candidate: int = 0
    #: Transaction ids the candidate alerts and the current model does not, and the reverse.
    gained: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    mean_abs_difference: float = 0.0
    max_abs_difference: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)

    def text(self) -> str:
        """For a terminal: the counts, then the transactions whose alert would change."""
        lines = [
            f"current model {', '.join(self.current_models) or '-'}, "
            f"candidate {', '.join(self.candidate_models) or '-'}",
            f"{self.compared} transactions scored by both"
            + (f" ({self.candidate_only} by the candidate only)" if self.candidate_only else ""),
            f"alerts: current {self.alerts_current}, candidate {self.alerts_candidate}: "
            f"{len(self.gained)} gained, {len(self.lost)} lost",
            f"score difference: mean {self.mean_abs_difference:.4f}, "
            f"max {self.max_abs_difference:.4f}",
        ]
        if self.gained:
            lines.append("gained: " + ", ".join(str(t) for t in self.gained))
        if self.lost:
            lines.append("lost: " + ", ".join(str(t) for t in self.lost))
        return "\n".join(lines)


def compare_shadow(
    current: Iterable[Score], candidate: Iterable[Score], candidate_model: str | None = None
) -> ShadowComparison:
    """Pair the candidate's scores (of ``candidate_model``, or of every candidate) with the
    current model's by transaction id. A transaction scored more than once (at least once
    delivery) counts once, with its last score; current scores made by the candidate's own
    model (after a switch) are not compared."""
    shadow = {
        s.transaction_id: s
        for s in candidate
        if candidate_model is None or s.model_version == candidate_model
    }
    models = {s.model_version for s in shadow.values()}
    live = {s.transaction_id: s for s in current if s.model_version not in models}
    pairs = [(live[t], shadow[t]) for t in sorted(shadow) if t in live]
    differences = [abs(now.score - then.score) for now, then in pairs]
    return ShadowComparison(
        current_models=sorted({now.model_version for now, _ in pairs}),
        candidate_models=sorted(models),
        compared=len(pairs),
        candidate_only=len(shadow) - len(pairs),
        alerts_current=sum(now.alert for now, _ in pairs),
        alerts_candidate=sum(then.alert for _, then in pairs),
        gained=[now.transaction_id for now, then in pairs if then.alert and not now.alert],
        lost=[now.transaction_id for now, then in pairs if now.alert and not then.alert],
        mean_abs_difference=sum(differences) / len(differences) if differences else 0.0,
        max_abs_difference=max(differences, default=0.0),
    )
