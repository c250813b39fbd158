"""A partner's own metrics: scoring requests sent, scores made, time to the verdict.

Whoever scrapes a partner's /metrics may also be able to write to its verdicts topic, so nothing
here may depend on a decrypted result (:mod:`streams.runtime.web`): scores are counted one per
verdict, alert or not, and alerts are not counted at all; the end-to-end time stops when the
encrypted verdict was stored on the partner's verdicts topic (its Kafka timestamp), before the
decryptor touched it, so that no output sent after a decryption shifts it.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from streams.runtime.metrics import LATENCY_BUCKETS, PREFIX, WorkerMetrics

__all__ = ["PartnerMetrics"]


class PartnerMetrics(WorkerMetrics):
    """Dead letters, and what the partner's gateway and decryptor did."""

    def __init__(self) -> None:
        """The partner's metrics in a fresh registry."""
        super().__init__()
        self.requests = Counter(
            f"{PREFIX}_scoring_requests",
            "Encrypted scoring requests sent to the scorer (a shadow model's included), by model.",
            ["model"],
            registry=self.registry,
        )
        self.scores = Counter(
            f"{PREFIX}_scores",
            "Verdicts decrypted into scores (one per verdict, whatever the score), by model.",
            ["model"],
            registry=self.registry,
        )
        self.end_to_end = Histogram(
            f"{PREFIX}_end_to_end_seconds",
            "Seconds from the gateway receiving a transaction to its encrypted verdict being "
            "stored on the partner's verdicts topic (the few milliseconds of decryption after "
            "that are left out: their timing follows the decrypted result).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def requested(self, model: str) -> None:
        """Count one scoring request sent."""
        self.requests.labels(model).inc()

    def scored(self, model: str, end_to_end_s: float | None) -> None:
        """Count one score and observe its time to the verdict, when known."""
        self.scores.labels(model).inc()
        if end_to_end_s is not None:
            self.end_to_end.observe(max(0.0, end_to_end_s))
