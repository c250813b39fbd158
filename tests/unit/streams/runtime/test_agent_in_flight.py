"""How agents run: with several records in flight, at most that many steps run at once, outputs
and dead letters keep the records' order, records are let go of in order once their outputs are
stored; in every mode an error that escapes stops the agent (and the worker) with the record it
was on uncommitted, even while no record comes.

Faust's own message class and reference counts, and the project's real dead-letter and outbox
code; the stream and topics are stand-ins (the scorer's pipeline tests run it on the broker).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.errors import UnsupportedForMessageFormatError
from faust.types.tuples import TP, ConsumerMessage
from mode import CrashingSupervisor

from streams.runtime.agents import _WATCH, AgentSet, _Watch, run_agent
from streams.runtime.delivery import deliver
from tests.support.faust_fakes import Consumer


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

    def __init__(self, count: int, *, then_idle: bool = False) -> None:
        self.consumer = Consumer()
        self.app = SimpleNamespace(consumer=self.consumer, sensors=None)
        self.count = count
        self.then_idle = then_idle

    async def events(self) -> Any:
        for offset in range(self.count):
            message = ConsumerMessage(
                "in", 0, offset, 0.0, 0, [], f"k{offset}".encode(), b"v", None, tp=TP("in", 0)
            )
            message.incref()
            try:
                yield SimpleNamespace(message=message)
            finally:
                # The stream's own reference, given back when the loop moves on or leaves
                # (Faust's iterator does so even when the agent raised).
                message.ack(self.consumer)
        if self.then_idle:
            await asyncio.Event().wait()  # no more records for now


def run(
    stream: Stream, step: Any, out: Topic, dead: Topic, in_flight: int, *, overlap: bool = True
) -> _Watch:
    watch = _Watch()

    async def forward(message: Any, result: int) -> None:
        await deliver(out, key=message.key, value=result)

    async def main() -> None:
        _WATCH.set(watch)
        await run_agent(
            stream,  # type: ignore[arg-type]
            step,
            forward,
            dead,
            overlap=overlap,
            in_flight=in_flight,
        )

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


@pytest.mark.parametrize("overlap", [False, True])
def test_one_at_a_time_a_send_that_cannot_be_retried_leaves_its_record_uncommitted(
    overlap: bool,
) -> None:
    """The waiting way (the decryptor's) and the overlapping one: the error stops the agent,
    and the record whose output failed is not acknowledged on the way out."""
    stream = Stream(3)

    async def step(message: Any) -> int:
        return int(message.offset)

    with pytest.raises(UnsupportedForMessageFormatError):
        run(stream, step, Topic("out", broken=True), Topic("dead"), in_flight=1, overlap=overlap)
    assert stream.consumer.acked == []


@pytest.mark.parametrize("in_flight", [1, 2])
def test_a_failed_redelivery_stops_an_agent_that_waits_for_records(in_flight: int) -> None:
    """No next record comes to notice the outbox's error: the agent is stopped anyway."""
    stream = Stream(1, then_idle=True)

    async def step(message: Any) -> int:
        return 0

    with pytest.raises(UnsupportedForMessageFormatError):
        run(stream, step, Topic("out", broken=True), Topic("dead"), in_flight=in_flight)
    assert stream.consumer.acked == []


def test_a_step_cancelled_from_outside_stops_the_agent_with_its_record_uncommitted() -> None:
    stream = Stream(3)

    async def step(message: Any) -> int:
        if message.offset == 1:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()  # as a pool shutting down cancels what it was running
            await asyncio.sleep(1)
        return 0

    with pytest.raises(RuntimeError, match="step of offset 1 was cancelled"):
        run(stream, step, Topic("out"), Topic("dead"), in_flight=2)
    assert stream.consumer.acked == [0]


def test_an_error_that_escapes_an_agent_stops_the_worker() -> None:
    """Faust's default supervisor would restart the agent in place, past what it held."""
    app = faust.App("crash-test", broker="kafka://localhost:1", web_enabled=False)
    agents = AgentSet()

    async def scorer(stream: Any) -> None:
        return None

    agents.add(app, scorer, app.topic("t"))
    assert agents.agents["scorer"].supervisor_strategy is CrashingSupervisor
