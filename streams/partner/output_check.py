"""After a takeover: which of a partition's outputs already reached their topics.

The decryptor sends a request's score (then its alert, or its shadow score) and only then writes
its *done* marker; offsets are committed every few seconds, after the marker is in the changelog.
A worker killed after an output and before that commit leaves outputs whose verdicts are
processed again by whoever takes the partition next. Kafka transactions would make the outputs
and the commit one atomic step; faust-streaming's ``exactly_once`` does not (docs/reliability.md
says what it costs and why it is not used). So the first time a worker takes a record of a
(topic, partition) after the partition came to it, it reads the output topics back from a time
(less :data:`CLOCK_MARGIN_MS`) to their end, and remembers, per output topic, the request ids
whose requests belong to that partition (same key, same partitioner). Those outputs are not sent
again; the rest of the request's outputs are.

The time is the later of two bounds, each enough on its own. An output is sent after both halves
of its request arrived, so the output of a request replayed from the first record taken on was
written after that record's timestamp (clocks within the margin). And the decryptor works one
record at a time, so an output whose *done* marker is not in the table was sent after the latest
*done* marker of that partition that is (the same worker's clock). The second keeps the read
short when the worker that died was behind (its first record old): what is read is little more
than what that worker sent between its last marker and its death.

Written here, not taken from a library: Faust has no such read-back, and the read is one
consumer assigned to a few partitions' tails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner
from kafka import TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError

from streams.broker.admin import assigned_consumer
from streams.core.errors import BrokerError
from streams.runtime.logs import get_logger

__all__ = ["CLOCK_MARGIN_MS", "OutputCheck", "read_back"]

_log = get_logger(__name__)
#: How far the clocks of the worker that wrote an output and of the record's producer may differ.
CLOCK_MARGIN_MS = 120_000
_partitioner = DefaultPartitioner()
#: A read that takes longer (the broker went away meanwhile) is started again.
_READ_TIMEOUT_S = 120.0


def read_back(
    client_config: dict[str, Any],
    outputs: Mapping[str, str],
    since_ms: int,
    partition_of: tuple[str, int],
) -> dict[str, set[str]]:
    """Per output kind (``outputs``: kind → topic), the request ids found in the records written
    from ``since_ms`` on whose request lands on ``partition_of`` = (topic, partition). Blocking:
    run it in a thread."""
    topic, partition = partition_of
    found: dict[str, set[str]] = {kind: set() for kind in outputs}
    kind_of = {name: kind for kind, name in outputs.items()}
    consumer = assigned_consumer(client_config, outputs.values())
    try:
        count = len(consumer.partitions_for_topic(topic) or ())
        if not count:
            msg = f"topic {topic} has no partitions the broker knows of"
            raise BrokerError(msg)
        tps: list[TopicPartition] = list(consumer.assignment())
        starts = consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        ends = consumer.end_offsets(tps)
        todo = {tp: ends[tp] for tp in tps if starts.get(tp) is not None}
        consumer.pause(*(tp for tp in tps if tp not in todo))
        for tp in todo:
            consumer.seek(tp, starts[tp].offset)
        deadline = time.monotonic() + _READ_TIMEOUT_S
        while any(consumer.position(tp) < end for tp, end in todo.items()):
            if time.monotonic() > deadline:
                msg = f"reading {sorted(outputs.values())} back took over {_READ_TIMEOUT_S} s"
                raise KafkaTimeoutError(msg)
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    request_id = _request_id(record.value)
                    if request_id is not None and _lands_on(request_id, partition, count):
                        found[kind_of[tp.topic]].add(request_id)
    finally:
        consumer.close()
    return found


def _request_id(value: bytes | None) -> str | None:
    try:
        found = orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        return None
    request_id = found.get("request_id") if isinstance(found, dict) else None
    return request_id if isinstance(request_id, str) else None


def _lands_on(request_id: str, partition: int, count: int) -> bool:
    partitions = list(range(count))
    return bool(_partitioner(request_id.encode(), partitions, partitions) == partition)


class OutputCheck:
    """The read-back of one worker: done once per (topic, partition) after it is assigned."""

    def __init__(self, client_config: dict[str, Any], outputs: Mapping[str, str]) -> None:
        """Read ``outputs`` (kind → topic) with ``client_config``."""
        self.client_config = client_config
        self.outputs = dict(outputs)
        self._checked: set[tuple[str, int]] = set()
        self._sent: dict[tuple[str, int], dict[str, set[str]]] = {}

    def checked(self, topic: str, partition: int) -> bool:
        """Whether (``topic``, ``partition``)'s outputs were read back since it was assigned."""
        return (topic, partition) in self._checked

    async def before(self, topic: str, partition: int, timestamp_ms: int) -> None:
        """Before the first record of (``topic``, ``partition``) since it was assigned: read the
        outputs back from ``timestamp_ms`` less the margin."""
        tp = (topic, partition)
        if tp in self._checked:
            return
        since = max(0, timestamp_ms - CLOCK_MARGIN_MS)
        delay = 0.5
        while True:  # the partition waits (as for a send) until the broker answers
            try:
                sent = await asyncio.to_thread(
                    read_back, self.client_config, self.outputs, since, tp
                )
                break
            except (KafkaError, OSError, BrokerError) as exc:
                _log.warning("outputs_read_back_retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self._sent[tp] = sent
        self._checked.add(tp)
        _log.info(
            "outputs_read_back",
            topic=topic,
            partition=partition,
            since_ms=since,
            **{kind: len(ids) for kind, ids in sent.items()},
        )

    def already_sent(self, kind: str, request_id: str) -> bool:
        """Whether the read-back found ``request_id``'s output of ``kind``."""
        return any(request_id in sent.get(kind, ()) for sent in self._sent.values())

    def forget(self, request_id: str) -> None:
        """The request's *done* marker is written: the table answers for it from now on."""
        for sent in self._sent.values():
            for ids in sent.values():
                ids.discard(request_id)

    def revoked(self, partitions: Iterable[tuple[str, int]]) -> None:
        """These partitions went to another worker: read back again if they come back."""
        for tp in partitions:
            self._checked.discard(tp)
            self._sent.pop(tp, None)
