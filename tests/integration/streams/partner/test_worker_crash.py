"""Nothing is lost when a partner worker crashes mid-stream and a new one takes over."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import wait_for_group
from streams.broker.connection import kafka_python_config
from streams.broker.ports import free_port
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.supervisor import WorkerProcess
from streams.qa.testing import consume_records
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_EVENTS = 400
BAD_EVERY = 25  # one malformed event every 25


def value(i: int) -> bytes:
    if i % BAD_EVERY == 0:
        return b"not json %d" % i
    return orjson.dumps(
        {
            "transaction_id": i,
            "timestamp": "2018-08-08T00:00:00Z",
            "card_id": i % 50,
            "terminal_id": 7,
            "amount": 10.0,
            "partner_id": "alpha",
        }
    )


def test_killed_worker_loses_nothing(
    make_settings: Callable[..., Settings],
    topics_for: Callable[[Settings], TopicNames],
    tmp_path: Path,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> None:
    """SIGKILL a worker while it works through a backlog; after a restart every valid event is
    validated and every malformed one dead-lettered (at least once: no record is lost)."""
    settings = make_settings(
        web_port=free_port(),
        model_dir=tiny_model.directory,
        key_dir=partner_keys["alpha"].key_dir,
    )
    names = topics_for(settings)
    client = kafka_python_config(settings)
    producer = KafkaProducer(**client, acks="all")
    for i in range(N_EVENTS):
        producer.send(names.transactions("alpha"), key=str(i % 50).encode(), value=value(i))
    producer.flush()
    producer.close()

    first = WorkerProcess(settings, "partner", tmp_path / "first.log", partner="alpha")
    first.start()
    try:
        seen = list(consume_records(client, [names.validated("alpha")], expected=40, timeout=90))
        assert len(seen) >= 40, first.log_text()[-3000:]
    finally:
        first.kill()
    done_by_first = {
        orjson.loads(r.value)["transaction"]["transaction_id"]
        for r in consume_records(client, [names.validated("alpha")], expected=N_EVENTS, timeout=3)
    }
    # The crash must happen mid-backlog, or the test would prove nothing about recovery.
    assert len(done_by_first) < N_EVENTS - N_EVENTS // BAD_EVERY

    second = WorkerProcess(settings, "partner", tmp_path / "second.log", partner="alpha")
    second.start()
    try:
        wait_for_group(client, second.group_id, alive=lambda: second.returncode is None)
        valid_ids = {i for i in range(N_EVENTS) if i % BAD_EVERY}
        bad_values = {value(i) for i in range(N_EVENTS) if i % BAD_EVERY == 0}
        got: set[int] = set()
        for record in consume_records(
            client, [names.validated("alpha")], expected=N_EVENTS * 2, timeout=90
        ):
            got.add(orjson.loads(record.value)["transaction"]["transaction_id"])
            if got == valid_ids:
                break
        assert got == valid_ids
        dead = {
            r.value
            for r in consume_records(
                client, [names.deadletter("alpha")], expected=len(bad_values), timeout=30
            )
        }
        assert dead == bad_values
    finally:
        assert second.stop() == 0, second.log_text()[-3000:]
