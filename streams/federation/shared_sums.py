"""Secure sums of the shared counts over Kafka: each partner's contributor, and the aggregator.

- ``<root>.federation.masking-keys.v1`` (compacted, key partner): every contributor publishes its
  signed X25519 masking key; contributors and the aggregator read them all (the roster).
- ``<root>.federation.contributions.v1``: each contributor's masked vector per round (an hour
  whose labels are final). Only the aggregator reads it; each vector alone is uniformly random.
- ``<root>.federation.shared-counts.v1`` (compacted, key round id): the aggregator's signed sums,
  which every partner's gateway reads (:mod:`streams.partner.sums_follower`).

The contributor runs inside its partner: it reads the partner's own transactions and labels
topics from their beginning (as the gateway does, with the same validation) and keeps its masking
key and its ledger of answered rounds in its folder, so a restart re-sends the very same vectors.
The aggregator keeps no state: restarted, it reads both topics again and publishes the same sums
(the same key and value on a compacted topic; gateways keep the first of each round).
The logic is :mod:`models.federation.shared_rounds`; docs/federation.md has the protocol.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer

from models.errors import FederationError
from models.features.incremental import StreamFeatures, epoch_seconds
from models.features.shared import SharedCounts
from models.features.spec import FeatureSpec
from models.federation.shared_rounds import Contributor, SumsAggregator, read_sums, session_run
from models.federation.wire import Members
from streams.broker.admin import assigned_consumer
from streams.core.errors import EventError
from streams.core.events import EventLimits, parse_label, parse_transaction
from streams.core.topics import TopicNames, TopicSpec, federation_topic_specs
from streams.runtime.logs import get_logger

__all__ = [
    "ContributorStats",
    "read_shared_counts",
    "serve_aggregator",
    "serve_contributor",
    "shared_sums_topic_specs",
]

log = get_logger(__name__)


def shared_sums_topic_specs(names: TopicNames, max_message_bytes: int) -> list[TopicSpec]:
    """The secure sums' three topics (also declared by ``fraudstream topics create``)."""
    shared = {names.masking_keys(), names.contributions(), names.shared_counts()}
    return [s for s in federation_topic_specs(names, (), max_message_bytes) if s.name in shared]


def _clients(
    client_config: dict[str, Any], topics: list[str], max_message_bytes: int
) -> tuple[Any, KafkaProducer]:
    consumer = assigned_consumer(
        client_config,
        topics,
        hint=": `fraudstream federate aggregate` creates it",
        fetch_max_bytes=max_message_bytes * 4,
        max_partition_fetch_bytes=max_message_bytes,
    )
    producer = KafkaProducer(
        **client_config, acks="all", max_request_size=max_message_bytes, linger_ms=5
    )
    return consumer, producer


@dataclass
class ContributorStats:
    """What a contributor did: events counted, events refused, rounds sent."""

    events: int = 0
    refused: int = 0
    rounds: int = 0


def serve_contributor(
    contributor: Contributor,
    *,
    limits: EventLimits,
    client_config: dict[str, Any],
    names: TopicNames,
    max_message_bytes: int,
    stop: threading.Event,
    progress: Callable[[ContributorStats], None] | None = None,
) -> ContributorStats:
    """Count the partner's own events and send its masked vector of every final hour until
    ``stop`` is set. Hours are sent only when every partition of the transactions and labels
    topics is read to its end: partitions are read at different paces, and the stream time of
    one must not close an hour whose events another still holds, nor miss a label written."""
    partner = contributor.key.name
    spec = contributor.book.config
    features = StreamFeatures(limits.spec)
    if limits.spec.shared_counts != spec:
        msg = "the contributor's event limits must carry the spec it counts for"
        raise FederationError(msg)
    transactions, labels = names.transactions(partner), names.labels(partner)
    consumer, producer = _clients(
        client_config, [transactions, labels, names.masking_keys()], max_message_bytes
    )
    producer.send(names.masking_keys(), key=partner.encode(), value=contributor.masking_key_frame())
    producer.flush()
    watermark = _Watermark(consumer, transactions, labels)
    stats = ContributorStats()
    try:
        while not stop.is_set():
            for record in (r for b in consumer.poll(timeout_ms=200).values() for r in b):
                if record.topic == names.masking_keys():
                    _offer_key(contributor, record)
                    continue
                try:
                    parse = parse_transaction if record.topic == transactions else parse_label
                    event = parse(record.value, limits).canonical().event()
                    values = {e: features.entity_value(e, event) for e in spec.entities}
                except (EventError, KeyError, ValueError):
                    stats.refused += 1  # the gateway dead-letters it with its reason
                    continue
                at = epoch_seconds(event["timestamp"])
                contributor.book.observe(values, at, fraud=record.topic == labels)
                watermark.saw(record, at)
                stats.events += 1
            if contributor.book.due() and (until := watermark.now()) is not None:
                stats.rounds += _send(contributor, producer, names, until)
                if progress is not None:
                    progress(stats)
    finally:
        producer.close()
        consumer.close()
    return stats


def _offer_key(contributor: Contributor, record: Any) -> None:
    try:
        contributor.rosters.offer(record.value)
    except FederationError as exc:
        log.warning("masking_key_refused", reason=str(exc), offset=record.offset)


class _Watermark:
    """Up to when the partner's events are all read: partitions are read at different paces,
    and one partition's latest time must not close an hour whose events another still holds.

    The time is the smallest latest time of the transactions partitions not read to their end
    (all read: the latest time of all), and there is none until every labels partition is read
    to its end (so no label already written is missed) and every partition behind has shown a
    time. End offsets are asked at most twice a second.
    """

    def __init__(self, consumer: Any, transactions: str, labels: str) -> None:
        self._consumer = consumer
        assigned = consumer.assignment()
        self._transactions = [tp for tp in assigned if tp.topic == transactions]
        self._labels = [tp for tp in assigned if tp.topic == labels]
        self._latest: dict[Any, int] = {}
        self._asked = 0.0

    def saw(self, record: Any, at: int) -> None:
        """A transaction or label read, made at ``at``."""
        if record.topic == self._transactions[0].topic:
            tp = next(t for t in self._transactions if t.partition == record.partition)
            self._latest[tp] = max(self._latest.get(tp, at), at)

    def now(self) -> int | None:
        """The time up to which every event is read, or ``None`` when it is not known yet."""
        if time.monotonic() - self._asked < 0.5:
            return None
        self._asked = time.monotonic()
        ends = self._consumer.end_offsets([*self._transactions, *self._labels])
        if any(self._consumer.position(tp) < ends[tp] for tp in self._labels):
            return None
        behind = [tp for tp in self._transactions if self._consumer.position(tp) < ends[tp]]
        if any(tp not in self._latest for tp in behind):
            return None
        times = [self._latest[tp] for tp in behind] or list(self._latest.values())
        return min(times) if behind else max(times, default=None)


def _send(contributor: Contributor, producer: KafkaProducer, names: TopicNames, until: int) -> int:
    partner = contributor.key.name
    sent = contributor.contributions(until)
    for round_id, frame in sent:
        producer.send(names.contributions(), key=round_id.encode(), value=frame)
    producer.flush()
    for round_id in contributor.refused:
        log.warning("secure_sum_round_refused", partner=partner, round=round_id)
    contributor.refused.clear()
    if sent:
        log.info("secure_sum_contributed", partner=partner, rounds=len(sent), last=sent[-1][0])
    return len(sent)


def serve_aggregator(
    aggregator: SumsAggregator,
    *,
    client_config: dict[str, Any],
    names: TopicNames,
    max_message_bytes: int,
    stop: threading.Event,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Sum every round whose whole roster sent its vector and publish the sums, until ``stop``;
    how many sums were published. A refused message is logged with its reason and skipped."""
    consumer, producer = _clients(
        client_config, [names.masking_keys(), names.contributions()], max_message_bytes
    )
    published = 0
    try:
        while not stop.is_set():
            done: list[tuple[str, bytes]] = []
            for record in (r for b in consumer.poll(timeout_ms=200).values() for r in b):
                try:
                    done += aggregator.offer(record.value)
                except FederationError as exc:
                    log.warning("secure_sum_message_refused", reason=str(exc), offset=record.offset)
            for round_id, frame in done:
                producer.send(names.shared_counts(), key=round_id.encode(), value=frame)
                log.info("shared_sums_published", round=round_id, n_bytes=len(frame))
            if done:
                producer.flush()
                published += len(done)
                if progress is not None:
                    progress(published)
            while aggregator.dropped:
                log.warning("secure_sum_round_dropped", round=aggregator.dropped.pop(0))
    finally:
        producer.close()
        consumer.close()
    return published


def read_shared_counts(
    client_config: dict[str, Any],
    names: TopicNames,
    spec: FeatureSpec,
    *,
    members: Members,
    aggregator: str,
    max_message_bytes: int,
) -> SharedCounts:
    """Every round of sums on the topic now, for ``spec``'s session, checked against the
    aggregator's pinned key: what a partner's trainer computes its shared windows from, as its
    gateway does. A refused record is logged and skipped."""
    if spec.shared_counts is None:
        msg = f"the feature spec {spec.name} has no [shared_counts]"
        raise FederationError(msg)
    run = session_run(spec)
    shared = SharedCounts(spec.shared_counts)
    consumer = assigned_consumer(
        client_config,
        [names.shared_counts()],
        hint=": `fraudstream topics create` or `fraudstream federate aggregate` creates it",
        fetch_max_bytes=max_message_bytes * 4,
        max_partition_fetch_bytes=max_message_bytes,
    )
    try:
        partitions = list(consumer.assignment())
        ends = consumer.end_offsets(partitions)
        seen: set[tuple[str, int]] = set()
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for record in (r for b in consumer.poll(timeout_ms=500).values() for r in b):
                try:
                    sums = read_sums(record.value, members, aggregator, run)
                except FederationError as exc:
                    log.warning("shared_sums_refused", reason=str(exc), offset=record.offset)
                    continue
                if sums is not None and (sums.entity, sums.time_bucket) not in seen:
                    seen.add((sums.entity, sums.time_bucket))
                    shared.add(sums.entity, sums.time_bucket, sums.transactions, sums.frauds)
    finally:
        consumer.close()
    return shared
