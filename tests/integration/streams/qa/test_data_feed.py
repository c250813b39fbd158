"""``send_records`` on the real broker, through a producer of its own or one the caller keeps."""

from __future__ import annotations

import uuid

import pytest

from streams.broker.admin import ensure_topics
from streams.broker.local_kafka import LocalKafka
from streams.core.topics import TopicSpec
from streams.qa.data_feed import OutgoingRecord, records_producer, send_records
from streams.qa.testing import consume_records

pytestmark = [pytest.mark.integration]


def _records(topic: str, first: int, count: int) -> list[OutgoingRecord]:
    return [OutgoingRecord(topic, str(i).encode(), str(i).encode()) for i in range(first, count)]


def test_a_kept_producer_sends_part_after_part_and_stays_open(kafka_broker: LocalKafka) -> None:
    client = {"bootstrap_servers": kafka_broker.bootstrap}
    topic = f"t{uuid.uuid4().hex[:10]}.alpha.feed.v1"
    ensure_topics(client, [TopicSpec(topic, 2)])
    producer = records_producer(client)
    try:
        assert send_records(client, _records(topic, 0, 3), producer) == 3
        assert send_records(client, _records(topic, 3, 5), producer) == 2  # still open
    finally:
        producer.close()
    assert send_records(client, _records(topic, 5, 6)) == 1  # a producer of its own
    values = {r.value for r in consume_records(client, [topic], expected=6, timeout=30)}
    assert values == {str(i).encode() for i in range(6)}
