"""What a replay sends: the messages of a recording, or of a slice of the bundled transactions,
with the event time that paces each, and the warm-up that goes first.

* **Per key, in the order it was recorded.** Messages of one partition stay in offset order (the
  partitions are merged by event time), so every card's events arrive in their order.
* **Event time** of a message is its ``fraud.event_time_ms`` header (set on the events made from
  the bundled data) or else its recorded Kafka timestamp.
* **Warm-up first.** History that only warms the feature state (``fraud.backfill: 1``) and the
  labels known before the first live event are sent first, as fast as possible; pacing starts at
  the first live event. Later labels are paced at the time they became known.

A recording is read and checked in full before anything is sent.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from models.data.handbook import HandbookTransaction, partner_of, read_transactions
from models.features.definition import CARD_WINDOW_DAYS, LABEL_DELAY_DAYS, TERMINAL_WINDOW_DAYS
from streams.core.errors import RecordingError, ReplayError
from streams.core.headers import BACKFILL_HEADER, EVENT_TIME_HEADER
from streams.core.topics import TopicNames
from streams.qa.handbook_feed import OutgoingRecord, label_record, label_time, transaction_record
from streams.qa.recording_file import (
    RecordedMessage,
    RecordingHeader,
    read_recording,
)

__all__ = [
    "DataSlice",
    "ReplayMessage",
    "load_recording",
    "plan_data_slice",
    "rename_root",
    "split_warm_up",
]


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
    records = _history(names, everything, owner, live, start=start, end=end) if history else []
    records += [transaction_record(names, tx, owner[tx.card_id]) for tx in live]
    messages = [ReplayMessage.from_outgoing(r) for r in records]
    # Stable: equal times keep the order above (history, labels, live).
    messages.sort(key=lambda m: m.event_ms or 0)
    return DataSlice(
        messages=messages,
        truth={tx.transaction_id: (owner[tx.card_id], tx.is_fraud) for tx in live},
    )


def _history(
    names: TopicNames,
    everything: Sequence[HandbookTransaction],
    owner: dict[int, str],
    live: Sequence[HandbookTransaction],
    *,
    start: date,
    end: date,
) -> list[OutgoingRecord]:
    """What the live transactions' features need first: their cards' previous 30 days and
    their terminals' previous 37 days (state only), and the fraud labels known by ``end``."""
    chosen = {tx.card_id for tx in live}
    terminals = {(owner[tx.card_id], tx.terminal_id) for tx in live}
    card_from = start - timedelta(days=max(CARD_WINDOW_DAYS) + 1)
    past = [
        tx
        for tx in everything
        if tx.timestamp.date() < start
        and (
            (tx.card_id in chosen and tx.timestamp.date() >= card_from)
            or (owner[tx.card_id], tx.terminal_id) in terminals
        )
    ]
    records = [transaction_record(names, tx, owner[tx.card_id], backfill=True) for tx in past]
    known_by = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    records += [
        label_record(names, tx, owner[tx.card_id])
        for tx in [*past, *live]
        if tx.is_fraud and label_time(tx) < known_by
    ]
    return records


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


# --- warm-up first -------------------------------------------------------------------------
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
