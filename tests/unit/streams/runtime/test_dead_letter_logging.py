"""What the dead-letter helper logs and sends, checked without a broker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from structlog.testing import capture_logs

from streams.core.dead_letters import original_headers, read_headers
from streams.core.errors import SchemaError
from streams.runtime.dead_letters import dead_letter


@dataclass
class FakeMessage:
    topic: str = "fraud.alpha.transactions.v1"
    partition: int = 2
    offset: int = 41
    timestamp: float = 1533686400.0
    key: bytes = b"596"
    value: bytes = b'{"amount": 4321.98}'
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class FakeEvent:
    message: FakeMessage = field(default_factory=FakeMessage)


class RecordingTopic:
    """Stands in for a Faust topic: records what is sent, acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def get_topic_name(self) -> str:
        return "fraud.alpha.deadletter.v1"

    async def send(self, **kwargs: Any) -> asyncio.Future[None]:
        self.sent.append(kwargs)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_dead_letter_keeps_the_record_and_logs_ids_only() -> None:
    """The original bytes go to the dead-letter topic with the reason in headers; the log line
    has the position and the reason, never the value."""
    topic = RecordingTopic()
    with capture_logs() as logs:
        asyncio.run(dead_letter(topic, FakeEvent(), SchemaError("amount: too large")))
    (sent,) = topic.sent
    assert sent["value"] == FakeMessage.value
    assert sent["key"] == b"596"
    letter = read_headers(sent["headers"])
    assert (letter.error_class, letter.partition, letter.offset) == ("SchemaError", 2, 41)
    (event,) = logs
    assert event["event"] == "event_dead_lettered"
    assert event["offset"] == 41
    assert "4321.98" not in repr(event)


def test_an_unexpected_error_is_dead_lettered_without_its_message() -> None:
    """A library error's message might quote the value: only its class is kept."""
    topic = RecordingTopic()
    with capture_logs() as logs:
        asyncio.run(dead_letter(topic, FakeEvent(), ValueError("bad value 4321.98")))
    letter = read_headers(topic.sent[0]["headers"])
    assert letter.error_class == "ValueError"
    assert letter.reason == "unexpected error"
    assert "4321.98" not in repr(logs)


def test_the_originals_headers_come_along_but_not_an_earlier_refusal() -> None:
    """A backfill flag stays on the dead letter (a re-send must not score history); the error
    headers of an earlier dead-lettering of the same record are replaced, not stacked."""
    topic = RecordingTopic()
    earlier = [("fraud.backfill", b"1"), ("__connect.errors.exception.message", b"old")]
    event = FakeEvent(FakeMessage(headers=earlier))
    asyncio.run(dead_letter(topic, event, SchemaError("amount: too large")))
    headers = topic.sent[0]["headers"]
    assert ("fraud.backfill", b"1") in headers
    assert [v for k, v in headers if k == "__connect.errors.exception.message"] == [
        b"amount: too large"
    ]
    assert original_headers(headers) == [("fraud.backfill", b"1")]
