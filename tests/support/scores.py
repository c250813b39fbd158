"""Score and alert records as the partner's decryptor writes them, for tests of what reads them."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.core.outputs import Alert, Score, ScoreTimings

__all__ = ["a_score"]


def a_score(
    transaction_id: int,
    score: float,
    *,
    threshold: float = 0.5,
    scored_at_ms: float | None = None,
    card_id: int = 42,
) -> Score:
    """A score of ``transaction_id`` (an :class:`Alert` when at or over ``threshold``), written
    ``scored_at_ms`` (the transaction id's milliseconds after 2018-08-08 10:00 UTC by default)."""
    moment = datetime(2018, 8, 8, 10, tzinfo=UTC)
    timings = ScoreTimings(
        features_ms=0.2, encrypt_ms=3.0, queued_ms=10.0, fhe_ms=1000.0, decrypt_ms=1.0,
        transport_ms=5.0, end_to_end_ms=1500.0,
    )  # fmt: skip
    record = Alert if score >= threshold else Score
    return record(
        transaction_id=transaction_id, timestamp=moment, card_id=card_id,
        fields={"terminal_id": 7}, amount=12.5, score=score, threshold=threshold,
        alert=score >= threshold, model_version="m1", key_id="k1", request_id=f"r{transaction_id}",
        features=(0.0,) * 15, timings=timings,
        scored_at_ms=moment.timestamp() * 1000 + transaction_id
        if scored_at_ms is None else scored_at_ms,
    )  # fmt: skip
