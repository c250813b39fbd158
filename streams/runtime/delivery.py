"""Sending from an agent without ever losing the record being processed.

Faust acknowledges an event once the agent's loop moves past it, even when the agent raised.
So an agent must neither raise on a bad record (it dead-letters it) nor let its record be
committed before its output is stored. :func:`deliver` does one of two things:

* in an agent that runs with an :class:`~streams.runtime.outbox.Outbox` (the gateway's and the
  scorer's), it hands the output to the producer and returns; the outbox holds the record, so
  its offset is not committed, until the broker acknowledged it;
* anywhere else (the decryptor, whose exactly-once read-back needs to know what was stored), it
  waits for the broker's acknowledgement (:func:`deliver_waiting`).

Either way, while the broker is unreachable the send is retried with backoff for as long as it
takes: the partition waits (backpressure), nothing is committed past an unsent result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, Protocol

from aiokafka.errors import KafkaError, KafkaTimeoutError

from streams.runtime.logs import get_logger

__all__ = ["ACTIVE_OUTBOX", "Sender", "deliver", "deliver_waiting", "handed_over"]

_log = get_logger(__name__)
_MAX_BACKOFF = 30.0


class Sender(Protocol):
    """What :func:`deliver` hands an output to instead of waiting (an
    :class:`~streams.runtime.outbox.Outbox`)."""

    async def send(
        self,
        topic: Any,
        *,
        key: bytes | None,
        value: Any,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Hand over one output of the record being processed."""


#: The outbox of the agent running in this task, if it runs with one (set by ``run_agent``).
ACTIVE_OUTBOX: ContextVar[Sender | None] = ContextVar("fraudstream_outbox", default=None)


def _retriable(exc: BaseException) -> bool:
    return isinstance(exc, KafkaTimeoutError | TimeoutError) or getattr(exc, "retriable", False)


async def _retrying(attempt: Any, topic: Any) -> Any:
    """``await attempt()`` until it does not fail retriably; raise the other errors."""
    delay = 0.5
    while True:
        try:
            return await attempt()
        except (KafkaError, TimeoutError) as exc:
            if not _retriable(exc):
                raise
            _log.warning(
                "send_retrying",
                topic=topic.get_topic_name(),
                error_class=type(exc).__name__,
                retry_in_s=delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)


async def handed_over(
    topic: Any, *, key: bytes | None, value: Any, headers: list[tuple[str, bytes]]
) -> asyncio.Future[Any]:
    """Hand a record to the producer (retrying while it cannot take it); the future of its
    acknowledgement."""

    async def attempt() -> asyncio.Future[Any]:
        pending: asyncio.Future[Any] = await topic.send(key=key, value=value, headers=headers)
        return pending

    future: asyncio.Future[Any] = await _retrying(attempt, topic)
    return future


async def deliver_waiting(
    topic: Any,
    *,
    key: bytes | None,
    value: Any,
    headers: Sequence[tuple[str, bytes]] | None = None,
) -> None:
    """Send and wait until stored; retry retriable failures forever, raise the others."""
    listed = list(headers or [])

    async def attempt() -> None:
        pending = await topic.send(key=key, value=value, headers=listed)
        await pending

    await _retrying(attempt, topic)


async def deliver(
    topic: Any,
    *,
    key: bytes | None,
    value: Any,
    headers: Sequence[tuple[str, bytes]] | None = None,
) -> None:
    """Send one output of the record being processed: through the agent's outbox when it has
    one (stored before the record is committed), else waiting until stored."""
    outbox = ACTIVE_OUTBOX.get()
    if outbox is None:
        await deliver_waiting(topic, key=key, value=value, headers=headers)
    else:
        await outbox.send(topic, key=key, value=value, headers=headers)
