"""Dead letters: a record that cannot be processed is kept whole, with the reason beside it.

Following Kafka Connect's convention, the dead letter carries the original key and value
byte for byte (so it can be inspected and re-sent) and the error in headers:
``dlq.error_class``, ``dlq.reason``, ``dlq.topic``, ``dlq.partition``, ``dlq.offset`` and
``dlq.timestamp_ms``. Each scope has its own dead-letter topic, inside its trust boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from streams.core.errors import FraudStreamError
from streams.core.headers import Headers
from streams.runtime.delivery import deliver
from streams.runtime.logs import get_logger

__all__ = ["HEADER_PREFIX", "DeadLetter", "dead_letter", "dead_letter_headers", "read_headers"]

HEADER_PREFIX = "dlq."
_log = get_logger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    """Where a bad record came from and why it was refused."""

    error_class: str
    reason: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The headers that describe a dead letter."""
    fields = {
        "error_class": letter.error_class,
        "reason": letter.reason,
        "topic": letter.topic,
        "partition": str(letter.partition),
        "offset": str(letter.offset),
        "timestamp_ms": "" if letter.timestamp_ms is None else str(letter.timestamp_ms),
    }
    return [(HEADER_PREFIX + name, value.encode()) for name, value in fields.items()]


def read_headers(headers: Headers) -> DeadLetter:
    """Parse the headers written by :func:`dead_letter_headers` (for tools and tests)."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    found = {k.removeprefix(HEADER_PREFIX): v.decode() for k, v in items if k.startswith("dlq.")}
    missing = {"error_class", "reason", "topic", "partition", "offset"} - found.keys()
    if missing:
        msg = f"not a dead letter: headers {sorted(missing)} are missing"
        raise FraudStreamError(msg)
    stamp = found.get("timestamp_ms")
    return DeadLetter(
        error_class=found["error_class"],
        reason=found["reason"],
        topic=found["topic"],
        partition=int(found["partition"]),
        offset=int(found["offset"]),
        timestamp_ms=int(stamp) if stamp else None,
    )


async def dead_letter(dead_topic: Any, event: Any, error: Exception) -> DeadLetter:
    """Send the Faust ``event`` to ``dead_topic`` with ``error`` and wait until it is stored.

    Waiting for the broker's acknowledgement before the stream moves on means the source offset
    is never committed past a record that exists nowhere else. Only errors of this project carry
    a reason that is safe to log; any other error is described by its class alone.
    """
    message = event.message
    letter = DeadLetter(
        error_class=type(error).__name__,
        reason=str(error) if isinstance(error, FraudStreamError) else "unexpected error",
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )
    headers = dead_letter_headers(letter)
    try:
        await deliver(dead_topic, key=message.key, value=message.value, headers=headers)
    except MessageSizeTooLargeError:
        # The original is larger than this producer may send: keep everything but its bytes,
        # and say how large it was (it stays readable at its source offset until retention).
        size = len(message.value or b"")
        headers.append((HEADER_PREFIX + "value_omitted_bytes", str(size).encode()))
        await deliver(dead_topic, key=message.key, value=b"", headers=headers)
    _log.warning(
        "event_dead_lettered",
        error_class=letter.error_class,
        reason=letter.reason,
        topic=letter.topic,
        partition=letter.partition,
        offset=letter.offset,
        dead_letter_topic=dead_topic.get_topic_name(),
    )
    return letter
