"""Following a partner's alerts (or scores) topic: the fraud analyst's live view.

A kafka-python consumer without a group (reading never moves anyone's offsets), from the
beginning or from now, until the end of the topic or, with ``follow``, until interrupted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.broker.admin import assigned_consumer

__all__ = ["ALERT_COLUMNS", "alert_row", "follow_records"]

#: (title, width) of the columns the alert follower prints.
ALERT_COLUMNS = (
    ("transaction time", 19),
    ("transaction", 11),
    ("card", 6),
    ("terminal", 8),
    ("amount", 9),
    ("score", 6),
    ("threshold", 9),
    ("model", 12),
    ("end-to-end s", 12),
    ("FHE s", 6),
)


def alert_row(alert: dict[str, Any]) -> list[str]:
    """The cells of one alert (or score) record, in :data:`ALERT_COLUMNS` order."""
    timings = alert.get("timings", {})
    when = datetime.fromisoformat(alert["timestamp"]).astimezone(UTC)
    return [
        when.strftime("%Y-%m-%d %H:%M:%S"),
        str(alert["transaction_id"]),
        str(alert["card_id"]),
        str(alert["terminal_id"]),
        f"{alert['amount']:.2f}",
        f"{alert['score']:.3f}",
        f"{alert['threshold']:.3f}",
        str(alert["model_version"]),
        f"{timings.get('end_to_end_ms', float('nan')) / 1000:.2f}",
        f"{timings.get('fhe_ms', float('nan')) / 1000:.2f}",
    ]


def follow_records(
    client_config: dict[str, Any], topic: str, *, follow: bool, from_beginning: bool = True
) -> Iterator[dict[str, Any]]:
    """Decoded records of ``topic``; stops at its end unless ``follow``."""
    consumer = assigned_consumer(
        client_config,
        [topic],
        from_end=not from_beginning,
        hint=" (is the partner id right? is FRAUD_TOPIC_ROOT?)",
    )
    try:
        partitions = list(consumer.assignment())
        ends = consumer.end_offsets(partitions)
        while True:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    yield orjson.loads(record.value)
            if not follow and all(consumer.position(tp) >= ends[tp] for tp in partitions):
                return
    finally:
        consumer.close()
