"""The decryptor's read-back after a takeover (:mod:`streams.partner.output_check`), on the real
broker: it finds the outputs written since a time, per output topic, only those of requests that
land on the partition being taken, and sends the rest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaProducer

from streams.broker.connection import kafka_python_config
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.partner.output_check import CLOCK_MARGIN_MS, OutputCheck, read_back

pytestmark = [pytest.mark.integration]


def _partition(request_id: str, count: int) -> int:
    partitions = list(range(count))
    return int(DefaultPartitioner()(request_id.encode(), partitions, partitions))


def test_outputs_written_since_a_time_are_found_per_topic_and_partition(
    make_settings: Callable[..., Settings], topics_for: Callable[[Settings], TopicNames]
) -> None:
    settings = make_settings(partners=("alpha",), topic_partitions=2)
    names = topics_for(settings)
    client = kafka_python_config(settings)
    outputs = {
        "scores": names.scores("alpha"),
        "alerts": names.alerts("alpha"),
        "shadow": names.shadow_scores("alpha"),
    }
    producer = KafkaProducer(**client)
    old_ms = int(time.time() * 1000) - 3_600_000
    ids = [f"r{i}" for i in range(12)]
    # Written before the others (a read from an offset on sees every later record).
    long_ago = orjson.dumps({"request_id": "long-ago"})
    producer.send(outputs["scores"], key=b"x", value=long_ago, timestamp_ms=old_ms)
    for i, request_id in enumerate(ids):
        value = orjson.dumps({"request_id": request_id, "transaction_id": i})
        # Keyed by card, as the decryptor does: the output's partition is not the request's.
        producer.send(outputs["scores"], key=str(i % 5).encode(), value=value)
        if i % 3 == 0:
            producer.send(outputs["alerts"], key=str(i % 5).encode(), value=value)
    producer.send(outputs["scores"], key=b"y", value=b"not json")
    producer.flush()
    producer.close()

    since = int(time.time() * 1000) - 60_000
    verdicts = names.verdicts("alpha")
    for partition in (0, 1):
        found = read_back(client, outputs, since, (verdicts, partition))
        mine = {r for r in ids if _partition(r, 2) == partition}
        assert found["scores"] == mine
        assert found["alerts"] == {r for r in mine if int(r[1:]) % 3 == 0}
        assert found["shadow"] == set()
    # Read from before the old record, the old record is found as well.
    old_partition = _partition("long-ago", 2)
    everything = read_back(client, outputs, old_ms - 1, (verdicts, old_partition))
    assert everything["scores"] == {
        r for r in (*ids, "long-ago") if _partition(r, 2) == old_partition
    }
    assert "long-ago" in everything["scores"]

    check = OutputCheck(client, outputs)
    alerted = next(r for r in ids if int(r[1:]) % 3 == 0)
    partition = _partition(alerted, 2)
    asyncio.run(check.before(verdicts, partition, int(time.time() * 1000)))
    assert check.already_sent("scores", alerted)
    assert check.already_sent("alerts", alerted)
    assert not check.already_sent("shadow", alerted)
    check.forget(alerted)
    assert not check.already_sent("scores", alerted)
    other = next(r for r in ids if _partition(r, 2) != partition)
    assert not check.already_sent("scores", other)
    check.revoked([(verdicts, partition)])
    assert not any(check.already_sent("scores", r) for r in ids)
    assert CLOCK_MARGIN_MS >= 60_000
