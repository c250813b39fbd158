"""Federated training over the real broker: trainers answer on their topics, the coordinator
builds the model from trees and masked sums, a trainer that is down is left out, and nothing the
coordinator receives holds a partner's row."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from models.federation.assessment import owners
from models.federation.coordinator import FederationPlan, run_federation
from models.federation.trainer import LocalRows, PartnerTrainer
from models.federation.wire import TREES, Envelope, MemberKey, Members
from models.training.fitting import ProtocolData
from streams.broker.admin import assigned_consumer, ensure_topics
from streams.broker.connection import kafka_python_config
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.federation import KafkaTransport, federation_topic_specs, serve_trainer

pytestmark = pytest.mark.integration

NAMES = ("alpha", "bravo")


class _OneAtATime(PartnerTrainer):
    """Trainers in threads of one process take turns: Concrete-ML's model import (torch, ONNX)
    deadlocks when two threads run it at once. Deployed trainers are processes."""

    turn = threading.Lock()

    def handle(self, frame: bytes) -> bytes:
        """The answer, computed while no other trainer of this process computes one."""
        with self.turn:
            return super().handle(frame)


@contextmanager
def _trainers(
    trainers: dict[str, PartnerTrainer], client: dict[str, object], names: TopicNames, size: int
) -> Iterator[None]:
    stop = threading.Event()
    ready = {name: threading.Event() for name in trainers}
    threads = [
        threading.Thread(
            target=serve_trainer,
            args=(t, client, names, size, stop),
            kwargs={"app_id": names.root, "ready": ready[name]},
            daemon=True,
        )
        for name, t in trainers.items()
    ]
    for thread in threads:
        thread.start()
    try:
        # The coordinator's join round waits only its timeout: the trainers hold their topics
        # first (a trainer that joins later still reads the round, but maybe after it ended).
        for name, event in ready.items():
            assert event.wait(timeout=60), f"trainer {name} never got its tasks topic"
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def test_a_federated_run_over_kafka_never_sends_a_row(
    make_settings: Callable[..., Settings], protocol_data: ProtocolData
) -> None:
    """Two trainers on their own cards' rows, bagging 4 trees over the broker; a third member
    that never answers is left out and the card says so; no answer holds a training amount, the
    planted ones included."""
    settings = make_settings()
    client = kafka_python_config(settings)
    names = TopicNames(settings.topic_root)
    size = settings.max_message_bytes
    ensure_topics(client, federation_topic_specs(names, [*NAMES, "charlie"], size))
    keys = {name: MemberKey.generate(name) for name in (*NAMES, "charlie", "coordinator")}
    members = Members.of(*keys.values())
    data = protocol_data
    owner = owners(data.split.train, NAMES)
    x_train = data.x_train.copy()
    amount = data.feature_names.index("TX_AMOUNT")
    planted = [f"{987_000 + k}.{k:02d}" for k in range(40)]  # amounts no bank would show
    x_train[: len(planted), amount] = [float(value) for value in planted]
    rows = {
        name: LocalRows(x_train[owner == name], data.y_train[owner == name], data.spec.digest)
        for name in NAMES
    }
    trainers = {name: _OneAtATime(keys[name], members, "coordinator", rows[name]) for name in NAMES}
    plan = FederationPlan(
        "kafka-run", data.spec.digest, len(data.feature_names), trees=4, timeout=20
    )
    transport = KafkaTransport(client, names, members, size)
    with _trainers(trainers, client, names, size):
        result = run_federation(
            plan,
            key=keys["coordinator"],
            members=members,
            names=[*NAMES, "charlie"],
            transport=transport,
            say=lambda _: None,
        )
    transport.close()
    card = result.card()
    assert card["trees"] == 4
    assert set(card["participants"]) == set(NAMES)
    assert card["left_out"] == ["charlie"]
    assert card["participants"]["alpha"] == {
        "rows": len(rows["alpha"].labels),
        "frauds": rows["alpha"].frauds,
    }
    # Everything the coordinator received: the answers topic, read back whole.
    consumer = assigned_consumer(client, [names.federation_answers()], consumer_timeout_ms=2000)
    received = [record.value for record in consumer]
    consumer.close()
    assert len(received) >= 2 + 2 * 2 + 2  # join, binning, trees, threshold of both trainers
    planted += _planted(data)
    for frame in received:
        message = Envelope.decode(frame, members)
        # Masked vectors are uniformly random bytes (tested in the unit tests): a digit string
        # could turn up in them by chance, so only what is readable is searched.
        readable = json.dumps(message.body)
        if message.kind == TREES:
            readable += message.payload.decode()
        for value in planted:
            pattern = rf"(?<![\w.]){re.escape(value)}(?![\w.])"
            assert not re.search(pattern, readable), (
                f"{message.kind} from {message.sender}: {value}"
            )


def _planted(data: ProtocolData) -> list[str]:
    """The training rows' own amounts with cents (at least 100, so that they are distinctive)."""
    amounts = data.split.train["TX_AMOUNT"].to_numpy()[:400]
    return [f"{a:.2f}" for a in amounts if a >= 100 and a % 1][:100]
