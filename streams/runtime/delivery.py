"""Sending from an agent without ever losing the record being processed.

Faust acknowledges an event once the agent's loop moves past it, even when the agent raised.
So an agent must neither raise on a bad record (it dead-letters it) nor move on before its
output is stored: :func:`deliver` waits for the broker's acknowledgement and, when the broker
is unreachable, retries with backoff for as long as it takes. The partition waits (backpressure);
nothing is committed past an unsent result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError, KafkaTimeoutError

from streams.runtime.logs import get_logger

__all__ = ["deliver"]

_log = get_logger(__name__)
_MAX_BACKOFF = 30.0


async def deliver(
    topic: Any,
    *,
    key: bytes | None,
    value: Any,
    headers: Sequence[tuple[str, bytes]] | None = None,
) -> None:
    """Send and wait until stored; retry retriable failures forever, raise the others."""
    delay = 0.5
    while True:
        try:
            pending = await topic.send(key=key, value=value, headers=list(headers or []))
            await pending
            return
        except (KafkaError, TimeoutError) as exc:
            retriable = isinstance(exc, KafkaTimeoutError | TimeoutError) or getattr(
                exc, "retriable", False
            )
            if not retriable:
                raise
            _log.warning(
                "send_retrying",
                topic=topic.get_topic_name(),
                error_class=type(exc).__name__,
                retry_in_s=delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
