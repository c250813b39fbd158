"""The scorer's own metrics: verdicts, FHE evaluation time, queueing, keys and evaluations held.

The scorer sees only ciphertexts, so everything it can count may be shown: how many verdicts
it made for each partner and model, how long each evaluation took, how long requests waited.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from streams.runtime.metrics import LATENCY_BUCKETS, PREFIX, WorkerMetrics

__all__ = ["ScorerMetrics"]


class ScorerMetrics(WorkerMetrics):
    """Dead letters, and what the scorer did."""

    def __init__(self) -> None:
        """The scorer's metrics in a fresh registry (the gauges read 0 until :meth:`watch`)."""
        super().__init__()
        self.verdicts = Counter(
            f"{PREFIX}_verdicts",
            "Encrypted verdicts made and sent to the partner's verdicts topic.",
            ["partner", "model"],
            registry=self.registry,
        )
        self.fhe_seconds = Histogram(
            f"{PREFIX}_fhe_evaluation_seconds",
            "Seconds of one FHE evaluation of the model's server circuit (one transaction).",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.wait_seconds = Histogram(
            f"{PREFIX}_request_wait_seconds",
            "Seconds a scoring request waited on its topic before the scorer took it (from the "
            "record's timestamp).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.keys_held = Gauge(
            f"{PREFIX}_evaluation_keys_held",
            "Evaluation key sets (one per partner key id) the scorer holds.",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            f"{PREFIX}_evaluations_in_flight",
            "FHE evaluations running now (at most FRAUD_SCORER_PROCESSES).",
            registry=self.registry,
        )

    def watch(self, keys_held: Callable[[], int], in_flight: Callable[[], int]) -> None:
        """Read the two gauges from these functions at each scrape."""
        self.keys_held.set_function(keys_held)
        self.in_flight.set_function(in_flight)

    def scored(self, partner: str, model: str, fhe_s: float, wait_s: float | None) -> None:
        """Count one verdict and its times."""
        self.verdicts.labels(partner, model).inc()
        self.fhe_seconds.labels(model).observe(fhe_s)
        if wait_s is not None:
            self.wait_seconds.observe(max(0.0, wait_s))
