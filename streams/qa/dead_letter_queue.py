"""Reading and re-sending a scope's dead letters (``fraudstream deadletters list|resend``).

A dead letter (:mod:`streams.runtime.dead_letters`) keeps the refused record whole: its key,
value and headers, with the error in Kafka Connect's headers. Listing reads the dead-letter
topic from its beginning to the end it had when the listing started, without a consumer group
(nobody's offsets move), and describes each dead letter by where it came from and why, never by
its values. Re-sending sends the original key, value and headers back to the topic it was read
from (or another topic of the scope), marked with the dead letter it came from, then writes a
marker on the dead-letter topic so that a later re-send skips it (a transaction sent twice
would be scored twice and counted twice in its card's windows). The worker checks a re-sent
record like any other: one still bad is dead-lettered again, and a scoring request whose nonce
the scorer has already seen is refused as a replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from streams.broker.admin import assigned_consumer
from streams.core.dead_letters import DeadLetter, original_headers, read_headers
from streams.core.errors import BrokerError, FraudStreamError
from streams.core.headers import header_map
from streams.core.times import format_ms

if TYPE_CHECKING:
    from streams.qa.replay import ReplayReport

__all__ = [
    "RESENT_FROM_HEADER",
    "RESENT_MARK_HEADER",
    "DeadLetterFilter",
    "ResendReport",
    "StoredDeadLetter",
    "read_dead_letters",
    "resend",
]

#: On a re-sent record: the dead letter it came from (``topic:partition@offset``).
RESENT_FROM_HEADER = "fraudstream.resent_from"
#: On a marker record of the dead-letter topic, written once a re-send is stored: the dead
#: letter that was re-sent (so a second ``resend`` does not send it again).
RESENT_MARK_HEADER = "fraudstream.resent"


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
    #: Whether a ``resend`` already sent it back (a marker follows it on the topic).
    resent: bool = False

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
            "resent_from": header_map(self.headers).get(RESENT_FROM_HEADER),
            "resent": self.resent,
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
    #: Only those already re-sent (True) or not yet (False); None: both.
    resent: bool | None = None

    def matches(self, stored: StoredDeadLetter) -> bool:
        """Whether ``stored`` passes every condition."""
        letter = stored.letter
        text = f"{letter.error_class}: {letter.reason}".casefold()
        return (
            (self.reason is None or self.reason.casefold() in text)
            and (self.since_ms is None or stored.dead_lettered_ms >= self.since_ms)
            and (self.until_ms is None or stored.dead_lettered_ms < self.until_ms)
            and (self.source_topic is None or letter.topic == self.source_topic)
            and (self.resent is None or stored.resent == self.resent)
        )


def read_dead_letters(
    client_config: dict[str, Any],
    topic: str,
    wanted: DeadLetterFilter = DeadLetterFilter(),
    on_bad: Callable[[str], None] = lambda _: None,
    idle_timeout: float = 30.0,
) -> Iterator[StoredDeadLetter]:
    """The dead letters of ``topic`` that ``wanted`` lets through, oldest first per partition,
    up to the end the topic had when reading started, each marked when a re-send's marker names
    it. A record that is neither a dead letter nor a marker is described to ``on_bad`` (where
    and why) and skipped; no record for ``idle_timeout`` seconds while some are left is a
    :class:`BrokerError`."""
    found: list[StoredDeadLetter] = []
    marked: set[str] = set()
    for record in _records(client_config, topic, idle_timeout):
        mark = header_map(record.headers).get(RESENT_MARK_HEADER)
        if mark is not None:
            marked.add(mark)
            continue
        stored = _stored(record, on_bad)
        if stored is not None:
            found.append(stored)
    for letter in found:
        stored = replace(letter, resent=letter.where in marked)
        if wanted.matches(stored):
            yield stored


def _records(client_config: dict[str, Any], topic: str, idle_timeout: float) -> Iterator[Any]:
    """Every record of ``topic`` up to the end it had when reading started."""
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
                    yield record
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
    ``to_topic``), with its original key and headers and :data:`RESENT_FROM_HEADER`, then mark
    each as re-sent on its dead-letter topic (:data:`RESENT_MARK_HEADER`); returns once the
    broker stored them all. A dead letter whose value was too large to keep cannot be re-sent:
    it is skipped, and the report says so (the original is at its source offset until that
    topic's retention)."""
    # Loaded here: the replay's planning loads pandas, which listing does not need.
    from streams.qa.replay import send_replay  # noqa: PLC0415
    from streams.qa.replay_plan import ReplayMessage  # noqa: PLC0415

    messages, marks, skipped = [], [], []
    for stored in letters:
        if stored.letter.value_omitted_bytes is not None:
            why = f"its {stored.letter.value_omitted_bytes}-byte value was not kept"
            skipped.append((stored, why))
            continue
        headers = (*stored.headers, (RESENT_FROM_HEADER, stored.where.encode()))
        messages.append(
            ReplayMessage(to_topic or stored.letter.topic, stored.key, stored.value, headers)
        )
        marks.append(
            ReplayMessage(stored.topic, None, b"", ((RESENT_MARK_HEADER, stored.where.encode()),))
        )
    report = send_replay(
        client_config,
        [],
        messages,
        speed=None,
        max_request_size=max_request_size,
        progress=progress,
    )
    try:
        send_replay(client_config, [], marks, speed=None)
    except FraudStreamError as exc:
        msg = (
            f"the {report.sent} records were re-sent, but marking them on the dead-letter topic "
            f"failed, so a later resend would send them again: {exc}"
        )
        raise BrokerError(msg) from exc
    return ResendReport(report, skipped)
