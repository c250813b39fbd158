"""Turning transactions (rows of a fraud team's data, or of the bundled handbook slice) into the
records a partner sends, and sending them.

A *row* is a mapping of the event's fields (:mod:`models.data.sources`: ``transaction_id``,
``timestamp`` as an aware ``datetime``, ``card_id``, ``amount``, the spec's declared fields)
plus ``label``. A transaction is keyed by its card id (the partner gateway keeps a card's events
in order by card); its label, when it was a fraud, is a separate record on the labels topic that
becomes available the spec's label delay later. History that should only warm the feature state
carries the ``fraud.backfill: 1`` header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
from kafka import KafkaProducer

from models.data.handbook import HandbookTransaction, partner_of
from models.features.spec import FeatureSpec, handbook_spec
from streams.core.headers import BACKFILL_HEADER, EVENT_TIME_HEADER
from streams.core.topics import TopicNames

__all__ = [
    "DEFAULT_LABEL_DELAY_DAYS",
    "OutgoingRecord",
    "by_partner",
    "handbook_row",
    "label_record",
    "label_time",
    "records_producer",
    "send_records",
    "transaction_event",
    "transaction_record",
]

#: When labels become known if the spec has no label windows to say so.
DEFAULT_LABEL_DELAY_DAYS = 7

Row = Mapping[str, Any]
#: A row, or a bundled handbook transaction (read as a row of the handbook's spec).
RowLike = Row | HandbookTransaction
_R = TypeVar("_R", bound=RowLike)


@dataclass(frozen=True)
class OutgoingRecord:
    """A record to send: topic, key, value, headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def handbook_row(tx: HandbookTransaction) -> dict[str, Any]:
    """A bundled handbook transaction as a row of the handbook's spec."""
    return {
        "transaction_id": tx.transaction_id,
        "timestamp": tx.timestamp,
        "card_id": tx.card_id,
        "amount": tx.amount,
        "terminal_id": tx.terminal_id,
        "label": int(tx.is_fraud),
    }


def _row(row: RowLike) -> Row:
    return handbook_row(row) if isinstance(row, HandbookTransaction) else row


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event_time(moment: datetime) -> tuple[str, bytes]:
    return (EVENT_TIME_HEADER, str(int(moment.timestamp() * 1000)).encode())


def _json(value: Any) -> Any:
    """A row's value as the event carries it (numpy scalars become Python's)."""
    return value.item() if hasattr(value, "item") else value


def transaction_event(
    row: RowLike, partner: str, spec: FeatureSpec | None = None
) -> dict[str, Any]:
    """The transaction event of ``row``: the core fields, the spec's, and the partner id."""
    row = _row(row)
    event: dict[str, Any] = {
        name: _time(row[name]) if name == "timestamp" else _json(row[name])
        for name in (spec or handbook_spec()).fields
    }
    event["partner_id"] = partner
    return event


def transaction_record(
    names: TopicNames,
    row: RowLike,
    partner: str,
    *,
    spec: FeatureSpec | None = None,
    backfill: bool = False,
) -> OutgoingRecord:
    """The transaction record as ``partner`` sends it (:func:`transaction_event`), keyed by card."""
    spec = spec or handbook_spec()
    row = _row(row)
    event = transaction_event(row, partner, spec)
    headers = [_event_time(row["timestamp"])]
    if backfill:
        headers.append((BACKFILL_HEADER, b"1"))
    return OutgoingRecord(
        names.transactions(partner), str(row["card_id"]).encode(), orjson.dumps(event), headers
    )


def label_record(
    names: TopicNames, row: RowLike, partner: str, *, spec: FeatureSpec | None = None
) -> OutgoingRecord:
    """The confirmed-fraud label of ``row``: it names the transaction, its time and each entity
    with label windows; its event time is when it becomes known (:func:`label_time`)."""
    spec = spec or handbook_spec()
    row = _row(row)
    event: dict[str, Any] = {
        "transaction_id": _json(row["transaction_id"]),
        "timestamp": _time(row["timestamp"]),
        **{name: _json(row[name]) for name in spec.label_entities},
        "partner_id": partner,
    }
    return OutgoingRecord(
        names.labels(partner),
        str(row["card_id"]).encode(),
        orjson.dumps(event),
        [_event_time(label_time(row, spec))],
    )


def label_time(row: RowLike, spec: FeatureSpec | None = None) -> datetime:
    """When the label of ``row`` becomes available: the spec's label delay after it."""
    delay = (spec or handbook_spec()).label_delay_days or DEFAULT_LABEL_DELAY_DAYS
    moment: datetime = _row(row)["timestamp"]
    return moment + timedelta(days=delay)


def send_records(
    client_config: dict[str, Any],
    records: Iterable[OutgoingRecord],
    producer: KafkaProducer | None = None,
) -> int:
    """Send in order and wait until the broker stored every record; return how many. With
    ``producer`` (made by :func:`records_producer`, closed by the caller) the records go through
    it, already connected; without, through a producer of their own."""
    own = producer is None
    sending = records_producer(client_config) if producer is None else producer
    try:
        futures = [
            sending.send(r.topic, key=r.key, value=r.value, headers=r.headers) for r in records
        ]
        sending.flush()
        for future in futures:
            future.get(timeout=60)  # raises if the broker refused a record
    finally:
        if own:
            sending.close()
    return len(futures)


def records_producer(client_config: dict[str, Any]) -> KafkaProducer:
    """The producer :func:`send_records` sends through: every record acknowledged by every
    replica, batched for 5 ms."""
    return KafkaProducer(**client_config, acks="all", linger_ms=5)


def by_partner(rows: Iterable[_R], partners: Sequence[str]) -> dict[str, list[_R]]:
    """Rows (or handbook transactions) grouped by the partner that issued their card."""
    grouped: dict[str, list[_R]] = {p: [] for p in partners}
    for row in rows:
        grouped[partner_of(int(_row(row)["card_id"]), partners)].append(row)
    return grouped
