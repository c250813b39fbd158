"""What a replay sends: the messages of a recording, or of a slice of transactions (a fraud
team's files, or the bundled ones), with the event time that paces each, and the warm-up that
goes first.

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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from models.data.handbook import TRANSACTIONS_FILE, partner_of
from models.data.sources import TransactionData, read_transactions_data
from models.features.incremental import StreamFeatures
from models.features.spec import FeatureSpec, handbook_spec
from streams.core.errors import RecordingError, ReplayError
from streams.core.headers import BACKFILL_HEADER, EVENT_TIME_HEADER
from streams.core.topics import TopicNames
from streams.qa.data_feed import OutgoingRecord, label_record, label_time, transaction_record
from streams.qa.recording_file import (
    RecordedMessage,
    RecordingHeader,
    read_recording,
    write_recording,
)

__all__ = [
    "DataSlice",
    "ReplayMessage",
    "load_recording",
    "plan_data_slice",
    "rename_root",
    "save_messages",
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
    """Events made from transactions, in send order."""

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
    data: TransactionData | None = None,
    spec: FeatureSpec | None = None,
    only: Sequence[str] | None = None,
    fraud_cards: int | None = None,
    legit_cards: int | None = None,
    history: bool = True,
) -> DataSlice:
    """The transactions of days ``start..end`` (in the spec's time zone) of the cards of
    ``only`` (default: every partner; cards are assigned to ``partners`` as everywhere else),
    optionally only ``fraud_cards`` cards with a fraud in the slice and ``legit_cards`` without,
    per partner (the lowest card ids). ``data`` defaults to the bundled transactions, ``spec``
    to the handbook's.

    With ``history``, first the events their features need: the previous transactions of the
    same card, terminal or other entity value the spec keeps windows by, as far back as its
    windows reach (``fraud.backfill`` warm-up), and the fraud labels of that history and of the
    slice, each at the time it became known (until ``end``).
    """
    spec = spec or handbook_spec()
    selected = _check_slice(partners, start, end, only)
    if data is None:
        data = read_transactions_data([TRANSACTIONS_FILE], spec)
    first = start - timedelta(days=spec.history_days + 1) if history else start
    day = data.frame["timestamp"].dt.tz_convert(spec.timestamps.timezone).dt.date
    reach = (day >= first) & (day <= end)
    everything = _rows(data.frame[reach])
    days = day[reach].tolist()
    owner = {row["card_id"]: partner_of(int(row["card_id"]), partners) for row in everything}
    in_slice = [
        row
        for row, when in zip(everything, days, strict=True)
        if when >= start and owner[row["card_id"]] in selected
    ]
    if not in_slice:
        msg = f"no transaction of {', '.join(selected)} between {start} and {end} in the data"
        raise ReplayError(msg)
    chosen = _choose_cards(in_slice, owner, selected, fraud_cards, legit_cards)
    live = [row for row in in_slice if row["card_id"] in chosen]
    records = (
        _history(names, spec, everything, owner, live, start=start, end=end) if history else []
    )
    records += [transaction_record(names, row, owner[row["card_id"]], spec=spec) for row in live]
    messages = [ReplayMessage.from_outgoing(r) for r in records]
    # Stable: equal times keep the order above (history, labels, live).
    messages.sort(key=lambda m: m.event_ms or 0)
    return DataSlice(
        messages=messages,
        truth={
            int(row["transaction_id"]): (owner[row["card_id"]], bool(row["label"])) for row in live
        },
    )


def _check_slice(
    partners: Sequence[str], start: date, end: date, only: Sequence[str] | None
) -> tuple[str, ...]:
    """The partners of the slice; :class:`ReplayError` when the slice cannot be made."""
    if end < start:
        msg = f"the slice ends ({end}) before it starts ({start})"
        raise ReplayError(msg)
    selected = tuple(only or partners)
    unknown = set(selected) - set(partners)
    if unknown:
        msg = f"partner {', '.join(sorted(unknown))} is not one of {', '.join(partners)}"
        raise ReplayError(msg)
    return selected


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a canonical frame, timestamps as aware ``datetime``."""
    rows: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for row in rows:
        row["timestamp"] = row["timestamp"].to_pydatetime()
    return rows


def _history(
    names: TopicNames,
    spec: FeatureSpec,
    everything: Sequence[dict[str, Any]],
    owner: dict[int, str],
    live: Sequence[dict[str, Any]],
    *,
    start: date,
    end: date,
) -> list[OutgoingRecord]:
    """What the live transactions' features need first: the earlier transactions of each
    entity value they hold (per partner: each keeps its own states), as far back as that
    entity's windows reach and a day more, as state only; and the fraud labels known by
    ``end``."""
    features = StreamFeatures(spec)
    zone = ZoneInfo(spec.timestamps.timezone)
    start_at = datetime.combine(start, datetime.min.time(), zone)
    since = {
        entity: start_at - timedelta(seconds=plan.horizon, days=1)
        for entity, plan in features.plans.items()
    }

    def keys(row: dict[str, Any]) -> set[tuple[str, str, str]]:
        """(entity, partner, state key) of each entity whose windows reach ``row``."""
        partner = owner[row["card_id"]]
        return {
            (entity, partner, features.state_key(entity, row))
            for entity in features.entities
            if row["timestamp"] >= since[entity]
        }

    wanted = set().union(*(keys(row) for row in live)) if live else set()
    past = [row for row in everything if row["timestamp"] < start_at and keys(row) & wanted]
    records = [
        transaction_record(names, row, owner[row["card_id"]], spec=spec, backfill=True)
        for row in past
    ]
    known_by = datetime.combine(end + timedelta(days=1), datetime.min.time(), start_at.tzinfo)
    records += [
        label_record(names, row, owner[row["card_id"]], spec=spec)
        for row in [*past, *live]
        if row["label"] and label_time(row, spec) < known_by
    ]
    return records


def _choose_cards(
    in_slice: Iterable[dict[str, Any]],
    owner: dict[int, str],
    selected: Sequence[str],
    fraud_cards: int | None,
    legit_cards: int | None,
) -> set[int]:
    in_slice = list(in_slice)
    with_fraud = {row["card_id"] for row in in_slice if row["label"]}
    chosen: set[int] = set()
    for partner in selected:
        cards = sorted({row["card_id"] for row in in_slice if owner[row["card_id"]] == partner})
        frauds = [c for c in cards if c in with_fraud]
        legit = [c for c in cards if c not in with_fraud]
        chosen.update(frauds if fraud_cards is None else frauds[:fraud_cards])
        chosen.update(legit if legit_cards is None else legit[:legit_cards])
    return chosen


def save_messages(path: Path, messages: Sequence[ReplayMessage], source: str) -> int:
    """Write ``messages`` (in send order) as a recording that :func:`load_recording` reads back
    in the same order: each topic's messages as one partition, offsets in send order, event
    times as timestamps. Returns how many were written."""
    offsets: dict[str, int] = {}
    recorded = []
    for message in messages:
        offset = offsets.get(message.topic, 0)
        offsets[message.topic] = offset + 1
        recorded.append(
            RecordedMessage(
                message.topic, 0, offset, message.event_ms, message.key, message.value,
                message.headers,
            )
        )  # fmt: skip
    header = RecordingHeader(
        source=source, topics=tuple(sorted(offsets)), selection="planned by fraudstream replay"
    )
    written = write_recording(path, header, recorded)
    return written.messages or 0


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
