"""A partner's own metrics: scores counted one per verdict, end-to-end time to the stored
verdict, and nothing that tells an alert from a score below the threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import generate_latest

from streams.partner.metrics import PartnerMetrics
from tests.unit.streams.partner.test_decryptor_join import Record, details, steps, verdict


@dataclass
class StoredRecord(Record):
    """A verdict record with its Kafka timestamp, in seconds as Faust gives it."""

    timestamp: float = 0.0


def _scored_once(score: float) -> str:
    """The partner's /metrics text after one verdict of ``score`` (received at 1 ms, stored
    at 2.5 s), less the series' creation times."""
    decryptor = steps({})
    decryptor.join(details("r1", b"req"))
    half = verdict("r1", b"req", score)
    out = decryptor.join(StoredRecord(half.topic, half.key, half.value, half.headers, 0, 2.501))
    assert out is not None
    assert out.item.alert is (score >= 0.5)
    text = generate_latest(decryptor.metrics.registry).decode()
    return "\n".join(line for line in text.splitlines() if "_created" not in line)


def test_an_alert_and_a_score_below_the_threshold_leave_the_same_metrics() -> None:
    """The same verdict timings with a score above and one below the threshold: the two
    partners' metrics are byte for byte the same, and they count one score of 2.5 s."""
    above, below = _scored_once(0.9), _scored_once(0.1)
    assert above == below
    text = above
    assert 'fraudstream_scores_total{model="m1"} 1.0' in text
    assert "fraudstream_end_to_end_seconds_count 1.0" in text
    assert 'fraudstream_end_to_end_seconds_bucket{le="2.0"} 0.0' in text
    assert 'fraudstream_end_to_end_seconds_bucket{le="4.0"} 1.0' in text
    assert "alert" not in text


def test_a_verdict_without_a_timestamp_is_counted_but_not_timed() -> None:
    decryptor = steps({})
    decryptor.join(details("r1", b"req"))
    assert decryptor.join(verdict("r1", b"req", 0.7)) is not None
    text = generate_latest(decryptor.metrics.registry).decode()
    assert 'fraudstream_scores_total{model="m1"} 1.0' in text
    assert "fraudstream_end_to_end_seconds_count 0.0" in text


def test_requests_and_dead_letters_are_counted_by_bounded_labels() -> None:
    from streams.core.dead_letters import DeadLetter  # noqa: PLC0415

    metrics = PartnerMetrics()
    metrics.requested("m1")
    metrics.requested("m1")
    letter: Any = DeadLetter("SchemaError", "no amount", "fs.alpha.transactions.v1", 0, 7)
    metrics.dead_lettered(letter)
    text = generate_latest(metrics.registry).decode()
    assert 'fraudstream_scoring_requests_total{model="m1"} 2.0' in text
    assert (
        'fraudstream_dead_letters_total{error_class="SchemaError",'
        'topic="fs.alpha.transactions.v1"} 1.0'
    ) in text
    assert "no amount" not in text  # the reason's text stays in the dead letter's headers
