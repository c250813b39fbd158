"""An agent's sends in flight while it takes its next records, without giving up at least once.

:func:`~streams.runtime.delivery.deliver` inside an agent that runs with an :class:`Outbox`
does not wait for the broker: the send is handed to the producer and the agent moves on, so
the round trip of one record's outputs overlaps the work on the next (the gateway's three
steps per transaction, the scorer's next FHE evaluation). What it keeps from the waiting way:

* **A record's offset is committed only once all its outputs are stored.** Faust commits an
  offset when every stream holding its message let go of it (the message's reference count,
  ``Message.incref``/``ack``). The outbox holds one more reference per record and gives it back
  when the record's sends are acknowledged. Faust also waits for held messages before it gives
  a partition away (``stream_wait_empty``), so a rebalance does not redo them.
* **In the order the records came.** References are given back in arrival order, never out of
  it: Faust's commit takes the acknowledged offsets from the committed one up to the first gap,
  but with no committed offset yet (a new group) it does not look for a gap at the head (the
  reason agents run with ``concurrency=1``, faust-streaming issue #606).
* **Ordered per partition.** The producer (aiokafka) sends one batch per partition at a time and
  retries it for ``producer_request_timeout`` (Faust's default: 20 minutes) before it gives up.
* **A send that fails is sent again.** A failed output is redelivered the waiting way
  (retried with backoff while the error is retriable), the agent taking no new record until it
  is stored; an error that cannot be retried stops the agent, as the waiting way does, and the
  record is not committed. The one cost: outputs of later records already stored stay before
  it (only after the producer gave up, 20 minutes into an outage).
* **Bounded.** At most ``limit`` records are in flight; the agent waits for room (backpressure,
  and its ``/ready`` shows it stuck when the broker does not answer).

Why this is written here: Faust's own ``stream_publish_on_commit`` holds every output until the
next commit (seconds of latency per record), and its ``concurrency > 1`` commits out of order
(above).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.runtime.delivery import deliver_waiting, handed_over

__all__ = ["Outbox", "let_go"]


def let_go(message: Any, consumer: Any, sensors: Any) -> None:
    """Give back one reference to ``message`` (Faust's ``Message.ack``); when it was the last,
    the consumer may commit it and ``sensors`` hear it left the worker (``on_message_out``),
    as when a stream lets go of a message last."""
    if message.ack(consumer) and sensors is not None:
        sensors.on_message_out(message.tp, message.offset, message)


@dataclass
class _Send:
    """One output handed to the producer: what was sent, and its acknowledgement."""

    topic: Any
    key: bytes | None
    value: Any
    headers: list[tuple[str, bytes]]
    future: asyncio.Future[Any]

    def failed(self) -> bool:
        future = self.future
        return future.cancelled() or future.exception() is not None


@dataclass
class _Held:
    """A record whose reference the outbox holds, and the sends it waits for (once its step
    and forward are done: ``finished``)."""

    message: Any
    sends: list[_Send] = field(default_factory=list)
    finished: bool = False


class Outbox:
    """One agent's records in flight (see the module's docstring).

    ``consumer`` is the Faust consumer whose messages are held (a message is given back with
    ``message.ack(consumer)``); ``sensors`` hears of a record that leaves the worker for good
    (Faust's ``on_message_out``), as when a stream lets go of it last.
    """

    def __init__(
        self,
        consumer: Any,
        sensors: Any = None,
        *,
        limit: int = 64,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        """Hold at most ``limit`` records; call ``on_error`` when a redelivery fails for good
        (the agent must stop: :meth:`room` raises the error too)."""
        if limit < 1:
            msg = "an outbox holds at least one record"
            raise ValueError(msg)
        self.consumer = consumer
        self.sensors = sensors
        self.limit = limit
        self._held: deque[_Held] = deque()
        self._sends: list[_Send] = []
        self._changed = asyncio.Event()
        self._redelivery: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._on_error = on_error

    @property
    def in_flight(self) -> int:
        """Records held: taken, their outputs not all stored yet."""
        return len(self._held)

    @property
    def error(self) -> BaseException | None:
        """The error that stopped a redelivery (the agent must stop), if one did."""
        return self._error

    async def room(self) -> None:
        """Wait until the agent may take another record: fewer than ``limit`` held and no
        failed send being redelivered. Raises the error that stopped a redelivery."""
        while True:
            if self._error is not None:
                raise self._error
            if len(self._held) < self.limit and self._redelivery is None:
                return
            self._changed.clear()
            await self._changed.wait()

    async def send(
        self,
        topic: Any,
        *,
        key: bytes | None,
        value: Any,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Hand an output of the current record to the producer (retrying while the producer
        cannot take it); it is stored before the record is let go of."""
        listed = list(headers or [])
        future = await handed_over(topic, key=key, value=value, headers=listed)
        self._sends.append(_Send(topic, key, value, listed, future))

    def hold(self, message: Any) -> None:
        """The current record is done: hold it until the outputs sent for it are stored."""
        self.finish(self.take(message))

    def take(self, message: Any) -> _Held:
        """Hold a record from the moment it is taken (its step may still run while later
        records are taken): nothing from it on is let go of before it is :meth:`finish`-ed."""
        message.incref()
        held = _Held(message)
        self._held.append(held)
        return held

    def finish(self, held: _Held) -> None:
        """``held``'s outputs were all handed over (the sends since the last finish are its):
        let go of it once they are stored."""
        held.sends, self._sends = self._sends, []
        held.finished = True
        for sent in held.sends:
            sent.future.add_done_callback(self._on_done)
        self._release()

    def _on_done(self, _future: asyncio.Future[Any]) -> None:
        self._release()

    def _release(self) -> None:
        """Let go of held records from the oldest while their sends are stored; start the
        redelivery of the oldest's failed ones."""
        while self._held and self._redelivery is None:
            head = self._held[0]
            if not head.finished or not all(sent.future.done() for sent in head.sends):
                break
            failed = [sent for sent in head.sends if sent.failed()]
            if failed:
                self._redelivery = asyncio.ensure_future(self._redeliver(head, failed))
                break
            self._held.popleft()
            let_go(head.message, self.consumer, self.sensors)
        self._changed.set()

    async def _redeliver(self, head: _Held, failed: list[_Send]) -> None:
        try:
            for sent in failed:
                await deliver_waiting(
                    sent.topic, key=sent.key, value=sent.value, headers=sent.headers
                )
                done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                done.set_result(None)
                sent.future = done
        except BaseException as exc:  # noqa: BLE001  (the agent raises it at its next record)
            self._error = exc
            self._changed.set()
            if self._on_error is not None:
                self._on_error()
            return
        self._redelivery = None
        self._release()
