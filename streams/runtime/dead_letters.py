"""Dead letters: a record that cannot be processed is kept whole, with the reason beside it.

The dead letter keeps the original key, value and headers and describes the error in Kafka
Connect's headers (:mod:`streams.core.dead_letters`). Each scope has its own dead-letter topic,
inside its trust boundary.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from streams.core.dead_letters import (
    VALUE_OMITTED_HEADER,
    DeadLetter,
    dead_letter_headers,
    original_headers,
)
from streams.core.errors import FraudStreamError
from streams.runtime.delivery import deliver
from streams.runtime.logs import get_logger

__all__ = ["dead_letter"]

_log = get_logger(__name__)


async def dead_letter(dead_topic: Any, event: Any, error: Exception) -> DeadLetter:
    """Send the Faust ``event`` to ``dead_topic`` with ``error`` and wait until it is stored.

    Waiting for the broker's acknowledgement before the stream moves on means the source offset
    is never committed past a record that exists nowhere else. Only errors of this project carry
    a reason that is safe to log; any other error is described by its class alone.
    """
    message = event.message
    letter = DeadLetter(
        error_class=type(error).__name__,
        reason=(str(error) or "no reason given")
        if isinstance(error, FraudStreamError)
        else "unexpected error",
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )
    # The original's own headers come along (a backfill flag, a signature), as Connect does;
    # error headers of an earlier dead-lettering (a re-sent record refused again) do not.
    headers = [*original_headers(message.headers), *dead_letter_headers(letter)]
    try:
        await deliver(dead_topic, key=message.key, value=message.value, headers=headers)
    except MessageSizeTooLargeError:
        # The original is larger than this producer may send: keep everything but its bytes,
        # and say how large it was (it stays readable at its source offset until retention).
        size = len(message.value or b"")
        headers.append((VALUE_OMITTED_HEADER, str(size).encode()))
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
