"""Replaying events into topics: a recording, or a slice of the bundled transactions.

What is sent and in which order:

* **Per key, in the order it was recorded.** Messages of one partition stay in offset order (the
  partitions are merged by event time), so every card's events arrive in their order.
* **Event time** of a message is its ``fraud.event_time_ms`` header (set on the events made from
  the bundled data) or else its recorded Kafka timestamp. It paces the replay: real speed
  (``speed=1``), a factor (``speed=60``: a minute of events per second) or as fast as possible
  (``speed=None``). Kafka's timestamp of the sent message is left to the broker (a 2018 timestamp
  would fall to the topic's retention within minutes).
* **Warm-up first.** History that only warms the feature state (``fraud.backfill: 1``) and the
  labels known before the first live event are sent first, as fast as possible; pacing starts at
  the first live event. Later labels are paced at the time they became known.

A recording is read and checked in full before anything is sent; a broker refusing a message
part-way stops the replay with a :class:`ReplayError` that says how much was sent.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.core.errors import FraudStreamError
from streams.core.headers import BACKFILL_HEADER, EVENT_TIME_HEADER
from streams.core.topics import TopicNames
from streams.qa.handbook_feed import OutgoingRecord, label_record, label_time, transaction_record
from streams.qa.recording_file import (
    RecordedMessage,
    RecordingError,
    RecordingHeader,
    read_recording,
)

__all__ = [
    "DataSlice",
    "ReplayError",
    "ReplayMessage",
    "ReplayReport",
    "format_ms",
    "load_recording",
    "plan_data_slice",
    "send_replay",
    "split_warm_up",
    "wait_for_gateways",
]


class ReplayError(FraudStreamError):
    """A replay could not send everything; the message says how much was sent."""


@dataclass(frozen=True)
class ReplayMessage:
    """One message to send, with the event time that paces it."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    event_ms: int | None = None

    @property
    def backfill(self) -> bool:
        """History that only warms the feature state."""
        return (BACKFILL_HEADER, b"1") in self.headers

    @property
    def is_label(self) -> bool:
        """A fraud label (``<root>.<partner>.labels.v<N>``)."""
        return _entity(self.topic) == "labels"

    @property
    def is_transaction(self) -> bool:
        """A transaction event (``<root>.<partner>.transactions.v<N>``)."""
        return _entity(self.topic) == "transactions"

    @property
    def partner(self) -> str:
        """The scope (partner id) of the topic."""
        parts = self.topic.split(".")
        return parts[-3] if len(parts) >= 4 else ""

    @classmethod
    def from_outgoing(cls, record: OutgoingRecord) -> ReplayMessage:
        """A record made from the bundled data (its event time is in a header)."""
        headers = tuple(record.headers)
        return cls(record.topic, record.key, record.value, headers, _event_time(headers, None))


def _entity(topic: str) -> str:
    parts = topic.split(".")
    return parts[-2] if len(parts) >= 4 else ""


def _event_time(headers: Sequence[tuple[str, bytes]], fallback: int | None) -> int | None:
    for name, value in headers:
        if name == EVENT_TIME_HEADER:
            try:
                return int(value)
            except ValueError:
                return fallback
    return fallback


def rename_root(topic: str, root: str | None) -> str:
    """``<old root>.<scope>.<entity>.v<N>`` → ``<root>.<scope>.<entity>.v<N>``; other names and
    ``root=None`` leave the topic as it is."""
    parts = topic.rsplit(".", 3)
    if root is None or len(parts) != 4 or not parts[3].startswith("v"):
        return topic
    return ".".join([root, *parts[1:]])


def load_recording(
    path: Path, *, root: str | None = None
) -> tuple[RecordingHeader, list[ReplayMessage]]:
    """Read and check the whole recording; its messages in send order, topics renamed to
    ``root``. A bad line is a :class:`RecordingError` naming it, before anything is sent."""
    header: RecordingHeader | None = None
    by_partition: dict[tuple[str, int], list[tuple[int, int, ReplayMessage]]] = {}
    sequence = 0
    for item in read_recording(path):
        if isinstance(item, RecordingHeader):
            header = item
            continue
        message = _from_recorded(item, root)
        stream = by_partition.setdefault((item.topic, item.partition), [])
        at = message.event_ms if message.event_ms is not None else (stream[-1][0] if stream else 0)
        stream.append((at, sequence, message))
        sequence += 1
    if header is None:
        msg = f"{path}: empty recording (no header line)"
        raise RecordingError(msg)
    merged = heapq.merge(*by_partition.values(), key=lambda item: (item[0], item[1]))
    return header, [message for _, _, message in merged]


def _from_recorded(message: RecordedMessage, root: str | None) -> ReplayMessage:
    event_ms = _event_time(message.headers, message.timestamp_ms)
    headers = message.headers
    if event_ms is not None and all(name != EVENT_TIME_HEADER for name, _ in headers):
        # Carry the event time along: a recording of this replay paces like the original.
        headers = (*headers, (EVENT_TIME_HEADER, str(event_ms).encode()))
    return ReplayMessage(
        topic=rename_root(message.topic, root),
        key=message.key,
        value=message.value,
        headers=headers,
        event_ms=event_ms,
    )


# --- slices of the bundled data -----------------------------------------------------------------
@dataclass
class DataSlice:
    """Events made from the bundled transactions, in send order."""

    messages: list[ReplayMessage] = field(default_factory=list)
    #: Live (scored) transaction id → (partner, is fraud).
    truth: dict[int, tuple[str, bool]] = field(default_factory=dict)

    @property
    def history(self) -> list[ReplayMessage]:
        """Warm-up transactions (state only)."""
        return [m for m in self.messages if m.backfill]

    @property
    def labels(self) -> list[ReplayMessage]:
        """Fraud labels."""
        return [m for m in self.messages if m.is_label]

    @property
    def live(self) -> list[ReplayMessage]:
        """Transactions to score."""
        return [m for m in self.messages if m.is_transaction and not m.backfill]


def plan_data_slice(
    names: TopicNames,
    partners: Sequence[str],
    start: date,
    end: date,
    *,
    only: Sequence[str] | None = None,
    fraud_cards: int | None = None,
    legit_cards: int | None = None,
    history: bool = True,
) -> DataSlice:
    """The transactions of days ``start..end`` of the cards of ``only`` (default: every partner;
    cards are assigned to ``partners`` as everywhere else), optionally only ``fraud_cards`` cards
    with a fraud in the slice and ``legit_cards`` without, per partner (the lowest card ids).

    With ``history``, first the events their features need: the cards' previous 30 days and
    their terminals' previous 37 days as warm-up (``fraud.backfill``), and the fraud labels of
    that history and of the slice, each at the time it became known (until ``end``).
    """
    from models.data.handbook import partner_of, read_transactions  # noqa: PLC0415
    from models.features.definition import (  # noqa: PLC0415
        CARD_WINDOW_DAYS,
        LABEL_DELAY_DAYS,
        TERMINAL_WINDOW_DAYS,
    )

    if end < start:
        msg = f"the slice ends ({end}) before it starts ({start})"
        raise ReplayError(msg)
    selected = tuple(only or partners)
    unknown = set(selected) - set(partners)
    if unknown:
        msg = f"partner {', '.join(sorted(unknown))} is not one of {', '.join(partners)}"
        raise ReplayError(msg)
    card_days = max(CARD_WINDOW_DAYS) + 1
    terminal_days = LABEL_DELAY_DAYS + max(TERMINAL_WINDOW_DAYS) + 1
    first = start - timedelta(days=max(card_days, terminal_days)) if history else start
    everything = list(read_transactions(start=first, end=end))
    owner = {tx.card_id: partner_of(tx.card_id, partners) for tx in everything}
    in_slice = [
        tx
        for tx in everything
        if start <= tx.timestamp.date() <= end and owner[tx.card_id] in selected
    ]
    if not in_slice:
        msg = f"no transaction of {', '.join(selected)} between {start} and {end} in the data"
        raise ReplayError(msg)
    chosen = _choose_cards(in_slice, owner, selected, fraud_cards, legit_cards)
    live = [tx for tx in in_slice if tx.card_id in chosen]
    records: list[OutgoingRecord] = []
    if history:
        terminals = {(owner[tx.card_id], tx.terminal_id) for tx in live}
        card_from = start - timedelta(days=card_days)
        past = [
            tx
            for tx in everything
            if tx.timestamp.date() < start
            and (
                (tx.card_id in chosen and tx.timestamp.date() >= card_from)
                or (owner[tx.card_id], tx.terminal_id) in terminals
            )
        ]
        records += [transaction_record(names, tx, owner[tx.card_id], backfill=True) for tx in past]
        known_by = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
        records += [
            label_record(names, tx, owner[tx.card_id])
            for tx in [*past, *live]
            if tx.is_fraud and label_time(tx) < known_by
        ]
    records += [transaction_record(names, tx, owner[tx.card_id]) for tx in live]
    messages = [ReplayMessage.from_outgoing(r) for r in records]
    # Stable: equal times keep the order above (history, labels, live).
    messages.sort(key=lambda m: m.event_ms or 0)
    return DataSlice(
        messages=messages,
        truth={tx.transaction_id: (owner[tx.card_id], tx.is_fraud) for tx in live},
    )


def _choose_cards(
    in_slice: Iterable[Any],
    owner: dict[int, str],
    selected: Sequence[str],
    fraud_cards: int | None,
    legit_cards: int | None,
) -> set[int]:
    in_slice = list(in_slice)
    with_fraud = {tx.card_id for tx in in_slice if tx.is_fraud}
    chosen: set[int] = set()
    for partner in selected:
        cards = sorted({tx.card_id for tx in in_slice if owner[tx.card_id] == partner})
        frauds = [c for c in cards if c in with_fraud]
        legit = [c for c in cards if c not in with_fraud]
        chosen.update(frauds if fraud_cards is None else frauds[:fraud_cards])
        chosen.update(legit if legit_cards is None else legit[:legit_cards])
    return chosen


# --- sending --------------------------------------------------------------------------------
def split_warm_up(
    messages: Sequence[ReplayMessage], *, labels_first: bool = False
) -> tuple[list[ReplayMessage], list[ReplayMessage]]:
    """(warm-up, live): the warm-up is the leading history and labels (with ``labels_first``,
    every history event and every label, so that no label can arrive after a transaction that
    counts it); the order inside each part is kept."""
    if labels_first:
        warm = [m for m in messages if m.backfill or m.is_label]
        return warm, [m for m in messages if not (m.backfill or m.is_label)]
    cut = next((i for i, m in enumerate(messages) if not (m.backfill or m.is_label)), len(messages))
    return list(messages[:cut]), list(messages[cut:])


@dataclass
class ReplayReport:
    """What a replay sent."""

    per_topic: Counter[str] = field(default_factory=Counter)
    warm_up: int = 0
    live: int = 0
    first_event_ms: int | None = None
    last_event_ms: int | None = None
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        """Messages sent in all."""
        return sum(self.per_topic.values())

    def lines(self) -> list[str]:
        """The report in words."""
        span = ""
        if self.first_event_ms is not None and self.last_event_ms is not None:
            span = (
                f", event time {format_ms(self.first_event_ms)} → {format_ms(self.last_event_ms)}"
            )
        lines = [
            f"sent {self.sent} messages ({self.warm_up} warm-up, {self.live} live) "
            f"in {self.seconds:.1f} s{span}"
        ]
        lines += [f"  {count:>7}  {topic}" for topic, count in sorted(self.per_topic.items())]
        return lines


def format_ms(ms: int) -> str:
    """Milliseconds since the epoch as a UTC date and time, to the second."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def send_replay(
    client_config: dict[str, Any],
    warm_up: Sequence[ReplayMessage],
    live: Sequence[ReplayMessage],
    *,
    speed: float | None,
    max_request_size: int = 1024 * 1024,
    after_warm_up: Callable[[], None] = lambda: None,
    progress: Callable[[int, int], None] = lambda sent, total: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Send ``warm_up`` as fast as possible, call ``after_warm_up``, then ``live`` paced by event
    time at ``speed`` (None: as fast as possible). Returns once the broker stored everything;
    anything that stops it part-way (the broker, Ctrl-C) is a :class:`ReplayError` saying how
    much was stored. ``max_request_size`` should be the topics' ``max.message.bytes``
    (encrypted messages are larger than the client's 1 MiB default)."""
    report = ReplayReport(warm_up=len(warm_up), live=len(live))
    times = [m.event_ms for m in [*warm_up, *live] if m.event_ms is not None]
    if times:
        report.first_event_ms, report.last_event_ms = min(times), max(times)
    started = clock()
    sender = _Sender(client_config, max_request_size, len(warm_up) + len(live), report, progress)
    try:
        for message in warm_up:
            sender.send(message)
        sender.settle()
        try:
            after_warm_up()
        except FraudStreamError as exc:
            msg = f"the {len(warm_up)} warm-up messages were sent, then: {exc}"
            raise sender.stopped(msg) from exc
        origin: tuple[float, int] | None = None
        for message in live:
            if speed is not None and message.event_ms is not None:
                if origin is None:
                    origin = (clock(), message.event_ms)
                due = origin[0] + (message.event_ms - origin[1]) / 1000 / speed
                if due > clock():
                    sender.producer.flush()
                    sleep(max(0.0, due - clock()))
            sender.send(message)
        sender.settle()
    except KeyboardInterrupt as exc:
        reason = "interrupted"
        raise sender.stopped(reason) from exc
    finally:
        sender.producer.close()
    report.seconds = clock() - started
    return report


class _Sender:
    """A producer that counts what the broker confirmed."""

    def __init__(
        self,
        client_config: dict[str, Any],
        max_request_size: int,
        total: int,
        report: ReplayReport,
        progress: Callable[[int, int], None],
    ) -> None:
        from kafka import KafkaProducer  # noqa: PLC0415

        self.producer = KafkaProducer(
            **client_config, acks="all", linger_ms=5, max_request_size=max_request_size
        )
        self.total = total
        self.report = report
        self.progress = progress
        self.confirmed = 0
        self.pending: list[tuple[Any, ReplayMessage]] = []

    def stopped(self, reason: str) -> ReplayError:
        """The error that says how far the replay got."""
        return ReplayError(
            f"replay stopped after {self.confirmed} of {self.total} messages were stored (later "
            f"ones may be stored too; the rest was not sent): {reason}"
        )

    def send(self, message: ReplayMessage) -> None:
        """Send one message (waiting for confirmations once 1000 are in flight)."""
        from kafka.errors import KafkaError  # noqa: PLC0415

        try:
            future = self.producer.send(
                message.topic, key=message.key, value=message.value, headers=list(message.headers)
            )
        except (KafkaError, ValueError, AssertionError) as exc:
            reason = f"cannot send to {message.topic}: {exc!r}"
            raise self.stopped(reason) from exc
        self.pending.append((future, message))
        self.settle(limit=1000)
        self.progress(self.confirmed + len(self.pending), self.total)

    def settle(self, limit: int = 0) -> None:
        """Wait for confirmations until at most ``limit`` messages are in flight."""
        from kafka.errors import KafkaError  # noqa: PLC0415

        if not limit:
            self.producer.flush()
        while len(self.pending) > limit:
            future, message = self.pending.pop(0)
            try:
                future.get(timeout=60)
            except KafkaError as exc:
                reason = f"the broker refused a message for {message.topic}: {exc}"
                raise self.stopped(reason) from exc
            self.confirmed += 1
            self.report.per_topic[message.topic] += 1


def wait_for_gateways(
    client_config: dict[str, Any],
    app_id: str,
    names: TopicNames,
    partners: Iterable[str],
    *,
    say: Callable[[str], None] = lambda _: None,
    progress: Callable[[str, int], None] = lambda partner, lag: None,
    timeout: float = 600.0,
    only_running: bool = True,
) -> int:
    """Wait until each running partner gateway (consumer group ``<app_id>-partner-<p>``) has
    processed everything on its input topics; a partner whose gateway is not running is skipped
    with a word (with ``only_running=False`` every partner is waited for: its gateway is known
    to run). Returns how many gateways were waited for."""
    from streams.broker.admin import wait_consumed  # noqa: PLC0415

    partners = sorted(set(partners))
    groups = {p: f"{app_id}-partner-{p}" for p in partners}
    states = _group_states(client_config, list(groups.values())) if only_running else {}
    waited = 0
    for partner, group_id in groups.items():
        state = states.get(group_id, "unknown")
        if only_running and state != "Stable":
            say(f"no gateway of {partner} is consuming ({group_id}: {state}): not waiting")
            continue
        waited += 1
        topics = [names.transactions(partner), names.labels(partner), names.validated(partner)]
        wait_consumed(
            client_config,
            group_id,
            topics,
            timeout=timeout,
            progress=lambda lag, p=partner: progress(p, lag),  # type: ignore[misc]
        )
    return waited


def _group_states(client_config: dict[str, Any], group_ids: list[str]) -> dict[str, str]:
    from kafka.errors import KafkaError  # noqa: PLC0415

    from streams.broker.admin import admin_client  # noqa: PLC0415

    admin = admin_client(client_config)
    try:
        return {
            group_id: str(info.get("group_state", "unknown"))
            for group_id, info in admin.describe_groups(group_ids).items()
        }
    except KafkaError:
        return {}
    finally:
        admin.close()
