"""Turning the bundled handbook transactions into the records a partner sends, and sending them.

A transaction is keyed by its card id (the partner gateway keeps card state by card); its label,
when it was a fraud, is a separate record on the labels topic that becomes available
``LABEL_DELAY_DAYS`` later. History that should only warm the feature state carries the
``fraud.backfill: 1`` header.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaProducer

from models.data.handbook import HandbookTransaction, partner_of
from models.features.definition import LABEL_DELAY_DAYS
from streams.core.headers import BACKFILL_HEADER, EVENT_TIME_HEADER
from streams.core.topics import TopicNames

__all__ = ["OutgoingRecord", "label_record", "send_records", "transaction_record"]


@dataclass(frozen=True)
class OutgoingRecord:
    """A record to send: topic, key, value, headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def _time(tx: HandbookTransaction) -> str:
    return tx.timestamp.isoformat().replace("+00:00", "Z")


def _event_time(moment: datetime) -> tuple[str, bytes]:
    return (EVENT_TIME_HEADER, str(int(moment.timestamp() * 1000)).encode())


def transaction_record(
    names: TopicNames, tx: HandbookTransaction, partner: str, *, backfill: bool = False
) -> OutgoingRecord:
    """The transaction event as ``partner`` sends it."""
    value = orjson.dumps(
        {
            "transaction_id": tx.transaction_id,
            "timestamp": _time(tx),
            "card_id": tx.card_id,
            "terminal_id": tx.terminal_id,
            "amount": tx.amount,
            "partner_id": partner,
        }
    )
    headers = [_event_time(tx.timestamp)]
    if backfill:
        headers.append((BACKFILL_HEADER, b"1"))
    return OutgoingRecord(names.transactions(partner), str(tx.card_id).encode(), value, headers)


def label_record(names: TopicNames, tx: HandbookTransaction, partner: str) -> OutgoingRecord:
    """The confirmed-fraud label of ``tx``; its event time is when it becomes known,
    ``LABEL_DELAY_DAYS`` after ``tx``."""
    value = orjson.dumps(
        {
            "transaction_id": tx.transaction_id,
            "timestamp": _time(tx),
            "terminal_id": tx.terminal_id,
            "partner_id": partner,
        }
    )
    return OutgoingRecord(
        names.labels(partner), str(tx.card_id).encode(), value, [_event_time(label_time(tx))]
    )


def label_time(tx: HandbookTransaction) -> datetime:
    """When the label of ``tx`` becomes available."""
    return tx.timestamp + timedelta(days=LABEL_DELAY_DAYS)


def send_records(client_config: dict[str, Any], records: Iterable[OutgoingRecord]) -> int:
    """Send in order and wait until the broker stored every record; return how many."""
    producer = KafkaProducer(**client_config, acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(r.topic, key=r.key, value=r.value, headers=r.headers) for r in records
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=60)  # raises if the broker refused a record
    finally:
        producer.close()
    return len(futures)


def by_partner(
    transactions: Iterable[HandbookTransaction], partners: Sequence[str]
) -> dict[str, list[HandbookTransaction]]:
    """Transactions grouped by the partner that issued their card."""

    grouped: dict[str, list[HandbookTransaction]] = {p: [] for p in partners}
    for tx in transactions:
        grouped[partner_of(tx.card_id, partners)].append(tx)
    return grouped
