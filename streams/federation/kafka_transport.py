"""Federation messages over Kafka: one tasks topic per partner, one answers topic for all.

- ``<root>.<partner>.federation-tasks.v1``: the coordinator writes the partner's tasks (signed by
  the coordinator; a partner's ACL lets it read its own topic only).
- ``<root>.federation.answers.v1``: every trainer writes its signed answers, the coordinator
  reads them. Answers hold trees, masked vectors and counts of rows; never a row.

Both are plain (not compacted) single-partition topics: a round's messages are few and ordered.
Every frame is checked (:class:`models.federation.wire.Envelope`) by whoever reads it; what a
reader refuses is logged with its reason and skipped, so a forged or stale message costs a
round's answer at worst, never the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from models.errors import FederationError
from models.federation.trainer import PartnerTrainer
from models.federation.wire import Envelope, Members
from streams.broker.admin import assigned_consumer
from streams.core.topics import TopicNames, faust_app_id, federation_topic_specs
from streams.runtime.logs import get_logger

__all__ = ["KafkaTransport", "federation_topic_specs", "serve_trainer"]  # (topic specs: core)

log = get_logger(__name__)


class KafkaTransport:
    """The coordinator's side: sends each member its task, collects answers until all came or
    the timeout passed (:class:`models.federation.coordinator.Transport`)."""

    def __init__(
        self,
        client_config: dict[str, Any],
        names: TopicNames,
        members: Members,
        max_message_bytes: int,
    ) -> None:
        """Connect; answers are read from the end of the answers topic as it is now."""
        self._names, self._members = names, members
        self._producer = KafkaProducer(
            **client_config, acks="all", max_request_size=max_message_bytes, linger_ms=5
        )
        self._consumer = assigned_consumer(
            client_config,
            [names.federation_answers()],
            from_end=True,
            hint=": `fraudstream federate train` creates it",
            fetch_max_bytes=max_message_bytes * 4,
            max_partition_fetch_bytes=max_message_bytes,
        )
        # kafka-python resolves a seek to the end lazily, at the first poll: an answer written
        # before that poll would be skipped. Resolve it now, before any task is sent.
        for partition in self._consumer.assignment():
            self._consumer.position(partition)

    def exchange(self, tasks: Mapping[str, bytes], timeout: float) -> dict[str, bytes]:
        """Send ``tasks``; the answers to them that arrive within ``timeout`` seconds."""
        expected: dict[str, tuple[str, str]] = {}
        for member, frame in tasks.items():
            task = Envelope.decode(frame, self._members)
            expected[member] = (task.run, task.round)
            self._producer.send(
                self._names.federation_tasks(member), key=member.encode(), value=frame
            )
        self._producer.flush()
        answers: dict[str, bytes] = {}
        deadline = time.monotonic() + timeout
        while len(answers) < len(expected) and time.monotonic() < deadline:
            polled = self._consumer.poll(timeout_ms=200)
            for record in (r for batch in polled.values() for r in batch):
                try:
                    answer = Envelope.decode(record.value, self._members)
                except FederationError as exc:
                    log.warning("federation_answer_refused", reason=str(exc), offset=record.offset)
                    continue
                if expected.get(answer.sender) == (answer.run, answer.round):
                    answers[answer.sender] = record.value
        return answers

    def close(self) -> None:
        """Release the clients."""
        self._producer.close()
        self._consumer.close()


def serve_trainer(
    trainer: PartnerTrainer,
    client_config: dict[str, Any],
    names: TopicNames,
    max_message_bytes: int,
    stop: threading.Event,
    *,
    app_id: str = "fraudstream",
    ready: threading.Event | None = None,
) -> int:
    """Answer the tasks on the partner's tasks topic until ``stop`` is set; how many were
    answered. Offsets are committed per task (group ``<app_id>-trainer-<partner>``), so a
    restarted trainer goes on where it was; tasks past their deadline are refused anyway.
    ``ready`` is set once the trainer holds its topic's partition (tasks sent before that are
    still read: the group starts from the earliest task)."""
    partner = trainer.member.name
    topic = names.federation_tasks(partner)
    consumer = KafkaConsumer(
        **client_config,
        group_id=faust_app_id(app_id, "trainer", partner),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=max_message_bytes * 4,
        max_partition_fetch_bytes=max_message_bytes,
        # A trainer may start before the coordinator created its tasks topic: look for it
        # every few seconds, not every 5 minutes (kafka-python's default), or the join is missed.
        metadata_max_age_ms=5000,
    )
    producer = KafkaProducer(
        **client_config, acks="all", max_request_size=max_message_bytes, linger_ms=5
    )
    answered = 0
    try:
        _subscribe_when_known(consumer, topic, stop)
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=200)
            if ready is not None and not ready.is_set() and consumer.assignment():
                ready.set()
                log.info("federation_trainer_ready", partner=partner, topic=topic)
            for record in (r for b in polled.values() for r in b):
                try:
                    answer = trainer.handle(record.value)
                except FederationError as exc:
                    log.warning("federation_task_refused", partner=partner, reason=str(exc))
                else:
                    producer.send(names.federation_answers(), key=partner.encode(), value=answer)
                    producer.flush()
                    answered += 1
                    log.info("federation_task_answered", partner=partner, n_bytes=len(answer))
                consumer.commit()
    finally:
        producer.close()
        consumer.close()
    return answered


def _subscribe_when_known(consumer: KafkaConsumer, topic: str, stop: threading.Event) -> None:
    """Subscribe once the broker reports ``topic``'s partitions. A group joined before that
    is given no partition ("No partition metadata") and only tries again at the next metadata
    refresh, which can miss the coordinator's join round."""
    waited = 0.0
    while not stop.is_set() and not consumer.partitions_for_topic(topic):
        if waited == 0.0:
            log.info("federation_waiting_for_topic", topic=topic)
        stop.wait(0.5)
        waited += 0.5
    consumer.subscribe([topic])
