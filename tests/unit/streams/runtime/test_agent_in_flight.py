"""An agent with several records in flight: at most that many steps run at once, outputs and
dead letters keep the records' order, records are let go of in order once their outputs are
stored, and an error that stops the forwarding stops the agent.

Faust's own message class and reference counts, and the project's real dead-letter and outbox
code; the stream and topics are stand-ins (the scorer's pipeline tests run it on the broker).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import UnsupportedForMessageFormatError
from faust.types.tuples import TP, ConsumerMessage

from streams.runtime.agents import _WATCH, _Watch, run_agent
from streams.runtime.delivery import deliver


class Consumer:
    """Records the offsets let go of, as Faust's consumer would commit them."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: ConsumerMessage) -> bool:
        message.acked = True
        self.acked.append(message.offset)
        return True


class Topic:
    """A topic that stores every send at once, or refuses it for good (``broken``)."""

    def __init__(self, name: str, *, broken: bool = False) -> None:
        self.name = name
        self.broken = broken
        self.sent: list[tuple[bytes | None, Any]] = []

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, *, key: bytes | None, value: Any, headers: Any) -> asyncio.Future[Any]:
        self.sent.append((key, value))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.broken:
            future.set_exception(UnsupportedForMessageFormatError())
        else:
            future.set_result(None)
        return future


class Stream:
    """What run_agent reads of a Faust stream: the app's consumer, and events whose message
    the stream lets go of when the loop asks for the next one (as Faust does)."""

    def __init__(self, count: int) -> None:
        self.consumer = Consumer()
        self.app = SimpleNamespace(consumer=self.consumer, sensors=None)
        self.count = count

    async def events(self) -> Any:
        for offset in range(self.count):
            message = ConsumerMessage(
                "in", 0, offset, 0.0, 0, [], f"k{offset}".encode(), b"v", None, tp=TP("in", 0)
            )
            message.incref()
            yield SimpleNamespace(message=message)
            message.ack(self.consumer)  # the stream's own reference; the outbox holds another


def run(stream: Stream, step: Any, out: Topic, dead: Topic, in_flight: int) -> _Watch:
    watch = _Watch()

    async def forward(message: Any, result: int) -> None:
        await deliver(out, key=message.key, value=result)

    async def main() -> None:
        _WATCH.set(watch)
        await run_agent(stream, step, forward, dead, in_flight=in_flight)  # type: ignore[arg-type]

    asyncio.run(main())
    return watch


def test_steps_run_side_by_side_and_everything_leaves_in_the_records_order() -> None:
    """Six records, three in flight, the earlier ones slower: never more than three steps at
    once, but outputs, the dead letter and the commits all follow the records' order."""
    running, most = 0, 0

    async def step(message: Any) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.05 * (6 - message.offset))  # later records finish first
            if message.offset == 3:
                msg = "bad record"
                raise ValueError(msg)
            return int(message.offset) * 10
        finally:
            running -= 1

    stream, out, dead = Stream(6), Topic("out"), Topic("dead")
    watch = run(stream, step, out, dead, in_flight=3)
    assert most == 3
    assert [value for _, value in out.sent] == [0, 10, 20, 40, 50]
    assert [key for key, _ in dead.sent] == [b"k3"]
    assert stream.consumer.acked == [0, 1, 2, 3, 4, 5]
    assert watch.records == 6
    assert watch.started is None


def test_the_oldest_record_in_flight_is_the_agents_age() -> None:
    """While the first record's step runs, later ones finishing does not clear the age."""
    ages: list[float | None] = []
    watch_seen: list[_Watch] = []

    async def step(message: Any) -> int:
        watch = _WATCH.get()
        assert watch is not None
        watch_seen.append(watch)
        await asyncio.sleep(0.2 if message.offset == 0 else 0.01)
        ages.append(watch.started)
        return 0

    run(Stream(3), step, Topic("out"), Topic("dead"), in_flight=3)
    first_started = ages[-1]
    assert first_started is not None
    assert ages[0] == ages[1] == first_started  # records 1 and 2 ended while 0 still ran


def test_a_send_that_cannot_be_retried_stops_the_agent_and_nothing_is_let_go_of() -> None:
    stream = Stream(4)

    async def step(message: Any) -> int:
        await asyncio.sleep(0.01)
        return int(message.offset)

    with pytest.raises(UnsupportedForMessageFormatError):
        run(stream, step, Topic("out", broken=True), Topic("dead"), in_flight=2)
    assert stream.consumer.acked == []


def test_an_agent_has_at_least_one_record_in_flight() -> None:
    async def step(message: Any) -> int:
        return 0

    with pytest.raises(ValueError, match="at least one"):
        run(Stream(1), step, Topic("out"), Topic("dead"), in_flight=0)
