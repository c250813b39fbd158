"""A partner's /metrics as its page shows it (Faust's sensor through the private filter, the
project's own, the record ages): a verdict that became an alert leaves it exactly as one that
did not, although the alert took one send more."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import faust
from faust.types.tuples import TP
from prometheus_client import generate_latest

from streams.partner.metrics import PartnerMetrics
from streams.runtime.agents import AgentSet
from streams.runtime.web import metrics_registry

SCORES, ALERTS = "fs.alpha.scores.v1", "fs.alpha.alerts.v1"


def _after_one_verdict(alert: bool) -> str:
    """The page after one verdict read, its score sent and, for an alert, the alert too."""
    app = faust.App(f"private-{alert}", broker="kafka://localhost:1", web_enabled=False)
    shown = metrics_registry(app, (SCORES, ALERTS), AgentSet(PartnerMetrics()))
    monitor: Any = app.monitor
    monitor.on_message_in(TP("fs.alpha.verdicts.v1", 0), 7, SimpleNamespace(time_in=None))
    for topic in (SCORES, ALERTS) if alert else (SCORES,):
        state = monitor.on_send_initiated(None, topic, None, 4, 600)
        monitor.on_send_completed(None, state, None)
    text = generate_latest(shown).decode()
    return "\n".join(line for line in text.splitlines() if "_created" not in line)


def test_an_alert_leaves_a_partners_metrics_as_a_score_below_the_threshold() -> None:
    with_alert, without = _after_one_verdict(True), _after_one_verdict(False)
    assert with_alert == without
    assert 'fraudstream_messages_received_per_topic_total{topic="fs.alpha.verdicts.v1"} 1.0' in (
        without
    )
    for hidden in ("messages_sent", "sent_messages", "send_latency", SCORES, ALERTS):
        assert hidden not in without, hidden
