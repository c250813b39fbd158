"""Reading and re-sending a scope's dead letters (``fraudstream deadletters list|resend``).

A dead letter (:mod:`streams.runtime.dead_letters`) keeps the refused record whole: its key,
value and headers, with the error in Kafka Connect's headers. Listing reads the dead-letter
topic from its beginning to the end it had when the listing started, without a consumer group
(nobody's offsets move), and describes each dead letter by where it came from and why, never by
its values. Re-sending sends the original key, value and headers back to the topic it was read
from (or another), marked with the dead letter it came from; the worker then checks it again
like any record, so a record still bad is dead-lettered again, and a scoring request whose nonce
the scorer has already seen is refused as a replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streams.broker.admin import assigned_consumer
from streams.core.dead_letters import DeadLetter, original_headers, read_headers
from streams.core.errors import BrokerError, FraudStreamError
from streams.core.times import format_ms

if TYPE_CHECKING:
    from streams.qa.replay import ReplayReport

__all__ = [
    "RESENT_FROM_HEADER",
    "DeadLetterFilter",
    "ResendReport",
    "StoredDeadLetter",
    "read_dead_letters",
    "resend",
]

#: On a re-sent record: the dead letter it came from (``topic:partition@offset``).
RESENT_FROM_HEADER = "fraudstream.resent_from"


@dataclass(frozen=True)
class StoredDeadLetter:
    """A dead letter as the dead-letter topic holds it."""

    letter: DeadLetter
    #: Where the dead letter itself is.
    topic: str
    partition: int
    offset: int
    #: When it was dead-lettered (the dead letter's own timestamp, ms since the epoch).
    dead_lettered_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def where(self) -> str:
        """The dead letter's own position, ``topic:partition@offset``."""
        return f"{self.topic}:{self.partition}@{self.offset}"

    @property
    def source(self) -> str:
        """Where the refused record was read, ``topic:partition@offset``."""
        return f"{self.letter.topic}:{self.letter.partition}@{self.letter.offset}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description: positions, times, the error and sizes; no values."""
        return {
            "dead_letter": self.where,
            "dead_lettered_at": format_ms(self.dead_lettered_ms),
            "dead_lettered_ms": self.dead_lettered_ms,
            "source_topic": self.letter.topic,
            "source_partition": self.letter.partition,
            "source_offset": self.letter.offset,
            "source_timestamp_ms": self.letter.timestamp_ms,
            "error_class": self.letter.error_class,
            "reason": self.letter.reason,
            "value_bytes": len(self.value or b""),
            "value_omitted_bytes": self.letter.value_omitted_bytes,
            "resent_from": dict(self.headers).get(RESENT_FROM_HEADER, b"").decode() or None,
        }


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters: every condition given must hold (none given: all of them)."""

    #: Case-insensitive text found in the error's class or its reason.
    reason: str | None = None
    #: Dead-lettered at or after / before these times (ms since the epoch).
    since_ms: int | None = None
    until_ms: int | None = None
    #: The topic the refused record was read from.
    source_topic: str | None = None

    def matches(self, stored: StoredDeadLetter) -> bool:
        """Whether ``stored`` passes every condition."""
        letter = stored.letter
        text = f"{letter.error_class}: {letter.reason}".casefold()
        return (
            (self.reason is None or self.reason.casefold() in text)
            and (self.since_ms is None or stored.dead_lettered_ms >= self.since_ms)
            and (self.until_ms is None or stored.dead_lettered_ms < self.until_ms)
            and (self.source_topic is None or letter.topic == self.source_topic)
        )


def read_dead_letters(
    client_config: dict[str, Any],
    topic: str,
    wanted: DeadLetterFilter = DeadLetterFilter(),
    on_bad: Callable[[str], None] = lambda _: None,
    idle_timeout: float = 30.0,
) -> Iterator[StoredDeadLetter]:
    """The dead letters of ``topic`` that ``wanted`` lets through, oldest first per partition,
    up to the end the topic had when reading started. A record that is not a dead letter is
    described to ``on_bad`` (where and why) and skipped; no record for ``idle_timeout`` seconds
    while some are left is a :class:`BrokerError`."""
    consumer = assigned_consumer(
        client_config,
        [topic],
        hint=" (is the scope a partner of FRAUD_PARTNERS, or scoring? is FRAUD_TOPIC_ROOT right?)",
        max_partition_fetch_bytes=64 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    try:
        partitions = list(consumer.assignment())
        ends = consumer.end_offsets(partitions)
        moved = time.monotonic()
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            batch = consumer.poll(timeout_ms=500)
            if batch:
                moved = time.monotonic()
            elif time.monotonic() - moved > idle_timeout:
                msg = (
                    f"reading {topic} made no progress for {idle_timeout:.0f} s (is the broker up?)"
                )
                raise BrokerError(msg)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    stored = _stored(record, on_bad)
                    if stored is not None and wanted.matches(stored):
                        yield stored
    finally:
        consumer.close()


def _stored(record: Any, on_bad: Callable[[str], None]) -> StoredDeadLetter | None:
    where = f"{record.topic}:{record.partition}@{record.offset}"
    try:
        letter = read_headers(record.headers)
    except FraudStreamError as exc:
        on_bad(f"{where}: {exc}")
        return None
    return StoredDeadLetter(
        letter=letter,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        dead_lettered_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple(original_headers(record.headers)),
    )


@dataclass
class ResendReport:
    """What a re-send did: sent per topic, and the dead letters it could not send (and why)."""

    sent: ReplayReport
    skipped: list[tuple[StoredDeadLetter, str]]


def resend(
    client_config: dict[str, Any],
    letters: Sequence[StoredDeadLetter],
    *,
    to_topic: str | None = None,
    max_request_size: int = 64 * 1024 * 1024,
    progress: Callable[[int, int], None] = lambda sent, total: None,
) -> ResendReport:
    """Send each dead letter's original record back to the topic it was read from (or to
    ``to_topic``), with its original key and headers and :data:`RESENT_FROM_HEADER`; returns
    once the broker stored them all. A dead letter whose value was too large to keep cannot be
    re-sent: it is skipped, and the report says so (the original is at its source offset until
    that topic's retention)."""
    # Loaded here: the replay's planning loads pandas, which listing does not need.
    from streams.qa.replay import send_replay  # noqa: PLC0415
    from streams.qa.replay_plan import ReplayMessage  # noqa: PLC0415

    messages, skipped = [], []
    for stored in letters:
        if stored.letter.value_omitted_bytes is not None:
            why = f"its {stored.letter.value_omitted_bytes}-byte value was not kept"
            skipped.append((stored, why))
            continue
        headers = (*stored.headers, (RESENT_FROM_HEADER, stored.where.encode()))
        messages.append(
            ReplayMessage(to_topic or stored.letter.topic, stored.key, stored.value, headers)
        )
    report = send_replay(
        client_config,
        [],
        messages,
        speed=None,
        max_request_size=max_request_size,
        progress=progress,
    )
    return ResendReport(report, skipped)
