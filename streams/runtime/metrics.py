"""The project's own Prometheus metrics, beside Faust's sensor: what each worker did.

Each worker keeps them in a registry of its own (several apps may share a process in the
tests), shown on its /metrics page by :mod:`streams.runtime.web`. The names follow Prometheus'
conventions: the ``fraudstream_`` prefix, base units (seconds, bytes), ``_total`` on counters
(prometheus_client adds it). Labels take values from bounded sets only: partners, model
versions, topics, error classes; never an id, a key, an amount or a score.

Every role counts its dead letters here (:class:`WorkerMetrics`); the scorer and the partner add
their own (:mod:`streams.scorer.metrics`, :mod:`streams.partner.metrics`). A partner's metrics
never depend on a decrypted result (see :mod:`streams.runtime.web`): it counts scores, one per
verdict whatever its value, and never alerts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from streams.core.dead_letters import DeadLetter

__all__ = ["LATENCY_BUCKETS", "PREFIX", "WorkerMetrics"]

PREFIX = "fraudstream"
#: Histogram buckets (seconds) for latencies that include an FHE evaluation: one evaluation
#: takes from a fraction of a second (small trees) to about a minute (6-bit, 20 trees).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 300.0, 600.0)


class WorkerMetrics:
    """The metrics every worker has: dead letters by source topic and error class."""

    def __init__(self) -> None:
        """A fresh registry with this worker's metrics in it."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.dead_letters = Counter(
            f"{PREFIX}_dead_letters",
            "Records sent to a dead-letter topic, by the topic they came from and the class of "
            "the error (the reason itself is in the dead letter's headers: "
            "`fraudstream deadletters list`).",
            ["topic", "error_class"],
            registry=self.registry,
        )

    def dead_lettered(self, letter: DeadLetter) -> None:
        """Count one dead letter."""
        self.dead_letters.labels(letter.topic, letter.error_class).inc()
