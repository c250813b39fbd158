"""The outbox lets go of records in the order they came, only once their sends are stored; a
failed send is sent again before its record is let go of; it holds at most ``limit`` records.

Faust's own message class and reference counts; the topic is a stand-in whose acknowledgements
the test completes by hand (the real broker is in the pipeline tests, which run through it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, UnsupportedForMessageFormatError
from faust.types.tuples import TP, ConsumerMessage

from streams.runtime.delivery import ACTIVE_OUTBOX, deliver
from streams.runtime.outbox import Outbox
from tests.support.faust_fakes import Consumer


class Topic:
    """A topic whose sends the test acknowledges (or fails) by hand."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, Any]] = []
        self.futures: list[asyncio.Future[Any]] = []
        #: Sends that fail once handed over, as the producer giving up on a batch would.
        self.fail_next: list[BaseException] = []

    def get_topic_name(self) -> str:
        return "t"

    async def send(self, *, key: bytes | None, value: Any, headers: Any) -> asyncio.Future[Any]:
        self.sent.append((key, value))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail_next:
            future.set_exception(self.fail_next.pop(0))
        else:
            self.futures.append(future)
        return future

    def acknowledge(self, index: int) -> None:
        self.futures[index].set_result(None)


def message(offset: int) -> ConsumerMessage:
    """A message as a stream holds it (one reference), before the stream lets go of it."""
    held = ConsumerMessage("in", 0, offset, 0.0, 0, [], b"k", b"v", None, tp=TP("in", 0))
    held.incref()
    return held


def process(outbox: Outbox, topic: Topic, held: ConsumerMessage, sends: int) -> None:
    """What run_agent does for one record: its sends through the outbox, hold it, then the
    stream lets go of its own reference (as Faust does when the loop moves on)."""

    async def record() -> None:
        await outbox.room()
        token = ACTIVE_OUTBOX.set(outbox)
        try:
            for n in range(sends):
                await deliver(topic, key=f"{held.offset}-{n}".encode(), value=b"x")
        finally:
            ACTIVE_OUTBOX.reset(token)
        outbox.hold(held)

    asyncio.get_event_loop().run_until_complete(record())
    assert held.ack(outbox.consumer) is False  # the stream's reference; the outbox holds one more


@pytest.fixture
def loop() -> Any:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


def settle(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0.01))


def test_records_are_let_go_of_in_order_once_their_sends_are_stored(loop: Any) -> None:
    consumer, topic = Consumer(), Topic()
    outbox = Outbox(consumer, limit=8)
    messages = [message(offset) for offset in range(3)]
    process(outbox, topic, messages[0], sends=2)
    process(outbox, topic, messages[1], sends=1)
    process(outbox, topic, messages[2], sends=0)
    assert outbox.in_flight == 3
    topic.acknowledge(2)  # the second record's send is stored first
    settle(loop)
    assert consumer.acked == []  # ...but the first is not yet: nothing is let go of
    topic.acknowledge(0)
    settle(loop)
    assert consumer.acked == []  # one of the first record's two sends is still in flight
    topic.acknowledge(1)
    settle(loop)
    assert consumer.acked == [0, 1, 2]
    assert outbox.in_flight == 0


def test_a_failed_send_is_sent_again_before_its_record_is_let_go_of(loop: Any) -> None:
    consumer, topic = Consumer(), Topic()
    outbox = Outbox(consumer, limit=8)
    topic.fail_next.append(KafkaTimeoutError())  # the producer gave up on the first send
    first = message(0)
    process(outbox, topic, first, sends=1)
    settle(loop)
    # The failed send went out again (the waiting way), and the agent takes no record meanwhile.
    assert [key for key, _ in topic.sent] == [b"0-0", b"0-0"]
    waiting = loop.create_task(outbox.room())
    settle(loop)
    assert not waiting.done()
    assert consumer.acked == []
    topic.acknowledge(0)  # the resent one is stored
    settle(loop)
    assert waiting.done()
    assert consumer.acked == [0]
    process(outbox, topic, message(1), sends=1)
    topic.acknowledge(1)
    settle(loop)
    assert consumer.acked == [0, 1]


def test_an_error_that_cannot_be_retried_stops_the_agent_and_nothing_is_let_go_of(
    loop: Any,
) -> None:
    consumer, topic = Consumer(), Topic()
    outbox = Outbox(consumer, limit=8)
    topic.fail_next += [UnsupportedForMessageFormatError(), UnsupportedForMessageFormatError()]
    process(outbox, topic, message(0), sends=1)
    settle(loop)
    with pytest.raises(UnsupportedForMessageFormatError):
        loop.run_until_complete(outbox.room())
    assert consumer.acked == []


def test_the_agent_waits_for_room_when_limit_records_are_held(loop: Any) -> None:
    consumer, topic = Consumer(), Topic()
    outbox = Outbox(consumer, limit=2)
    for offset in range(2):
        process(outbox, topic, message(offset), sends=1)
    waiting = loop.create_task(outbox.room())
    settle(loop)
    assert not waiting.done()
    topic.acknowledge(0)
    settle(loop)
    assert waiting.done()
    assert consumer.acked == [0]


def test_an_outbox_holds_at_least_one_record() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Outbox(Consumer(), limit=0)
