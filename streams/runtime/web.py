"""The worker's web pages (Faust serves them on FRAUD_WEB_HOST:FRAUD_WEB_PORT, 6066 by default):

- ``GET /ready``: 200 when the worker can do its work, 503 before (or while an agent is stuck
  on one record past ``FRAUD_STUCK_AFTER``, or the scorer's FHE pool hangs), with a JSON body
  saying what it waits for (the readiness probe);
- ``GET /live``: 200 while the worker's event loop answers (the liveness probe);
- ``GET /metrics``: Prometheus metrics from Faust's sensor (messages received and sent per
  topic, event latency, commit latency, table operations, rebalances), the project's own
  (:mod:`streams.runtime.metrics`: dead letters; the scorer's verdicts, FHE time, keys held; the
  partner's requests, scores and end-to-end time) and each agent's current record age
  (``fraudstream_agent_record_age_seconds``: a stuck partition's grows). Counts and timings
  only: no payload, key or score is ever a label.

A partner's worker serves only what does not depend on a decrypted result (``private_topics``):
nothing it sends (how many records go to its alerts topic *is* the number of alerts, and every
sent-message total and send latency includes them), no event runtime (an alert takes one send
more to handle), and no sample naming its scores or alerts topics. Concrete-ML's security model
is IND-CPA: a decryption-derived signal handed to whoever can also write the partner's verdicts
topic would be an oracle (IND-CPA^D), so none leaves the partner by its metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from streams.runtime.agents import AgentSet
from streams.runtime.metrics import PREFIX

__all__ = ["add_web_pages", "metrics_registry"]

#: Faust's metric families that count or time what a worker sends, or time its events.
_RESULT_DEPENDENT = (
    "topic_messages_sent",
    "total_sent_messages",
    "producer_send_latency",
    "total_error_messages_sent",
    "producer_error_send_latency",
    "events_runtime_ms",
)


class _Private:
    """A collector that shows ``source``'s metrics less those that reveal a decrypted result."""

    def __init__(self, source: CollectorRegistry, private_topics: Collection[str]) -> None:
        self.source = source
        self.hidden = {f"{PREFIX}_{name}" for name in _RESULT_DEPENDENT}
        self.private_topics = tuple(private_topics)

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            if family.name in self.hidden:
                continue
            family.samples = [s for s in family.samples if not self._names_private(s.labels)]
            yield family

    def _names_private(self, labels: dict[str, str]) -> bool:
        return any(topic in value for value in labels.values() for topic in self.private_topics)


class _RecordAges:
    """``fraudstream_agent_record_age_seconds{agent}``: how long each agent has been on its
    current record (0 between records); a partition that stands still shows as a growing age.
    Agents marked private (a partner's decryptor) are left out where results are private."""

    def __init__(self, agents: AgentSet, private: bool) -> None:
        self.agents, self.private = agents, private

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            f"{PREFIX}_agent_record_age_seconds",
            "Seconds the agent has spent on its current record (0 between records).",
            labels=["agent"],
        )
        for name, age in sorted(self.agents.record_ages().items()):
            if not (self.private and self.agents.watches[name].private):
                family.add_metric([name], round(age, 3))
        yield family


def add_web_pages(
    app: faust.App,
    readiness: Callable[[], dict[str, Any]],
    private_topics: Collection[str] | None = None,
    agents: AgentSet | None = None,
) -> None:
    """Serve ``readiness()`` at ``/ready`` (its ``ready`` item decides the status code),
    ``/live`` and ``/metrics`` (with each of ``agents``' current record age); with
    ``private_topics`` (a partner's scores and alerts topics), ``/metrics`` leaves out
    everything that depends on a decrypted result."""

    async def ready(web: Any, request: Any) -> Any:
        state = readiness()
        return web.json(state, status=200 if state.get("ready") else 503)

    async def live(web: Any, request: Any) -> Any:
        return web.json({"alive": True})

    app.page("/ready")(ready)
    app.page("/live")(live)
    shown = metrics_registry(app, private_topics, agents)

    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(shown), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.page("/metrics")(metrics)


def metrics_registry(
    app: faust.App, private_topics: Collection[str] | None, agents: AgentSet | None
) -> CollectorRegistry:
    """Install Faust's Prometheus sensor on ``app`` and return what ``/metrics`` shows: the
    sensor's families (less the result-dependent ones with ``private_topics``), the project's
    own and the agents' record ages."""
    # One registry per app: several apps may live in one process (tests) and the default
    # registry refuses a metric registered twice. (faust's setup_prometheus_sensors, without the
    # page it adds: ours may filter.)
    sensor = CollectorRegistry()
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(sensor, PREFIX))
    shown = CollectorRegistry(auto_describe=True)
    shown.register(sensor if private_topics is None else _Private(sensor, private_topics))
    if agents is not None:
        shown.register(agents.metrics.registry)
        shown.register(_RecordAges(agents, private=private_topics is not None))
    return shown
