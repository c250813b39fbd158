"""Recording topics to a file: what ``fraudstream record`` does.

A consumer without a group (recording never moves anyone's offsets) reads every partition of the
topics from a start (the beginning, an offset, or an event time) and stops at the first of: the
end the topics had when recording began (unless following), a message count, an event time, or,
when following, a quiet period without new messages (or Ctrl-C, or SIGTERM). The file appears
once recording is done.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.broker.admin import assigned_consumer
from streams.core.errors import RecordingError
from streams.core.topics import TopicNames
from streams.qa.recording_file import (
    RecordedMessage,
    RecordingHeader,
    append_messages,
    read_header,
    write_recording,
)

__all__ = ["RecordPlan", "expand_topic", "record_messages", "record_to_file", "recorded_message"]

_SHORT_TOPIC = re.compile(r"^[A-Za-z0-9_-]+\.(?!v[0-9]+$)[A-Za-z0-9_-]+$")


def expand_topic(names: TopicNames, topic: str) -> str:
    """``alpha.scores`` → ``<root>.alpha.scores.v1``; a full topic name is kept as it is."""
    if _SHORT_TOPIC.match(topic):
        scope, entity = topic.split(".")
        return f"{names.root}.{scope}.{entity}.v1"
    return topic


@dataclass(frozen=True)
class RecordPlan:
    """Where to start and when to stop."""

    topics: tuple[str, ...]
    #: Start at this offset in every partition (the beginning when below it).
    from_offset: int | None = None
    #: Start at the first message with an event time at or after this (ms).
    from_time_ms: int | None = None
    #: Stop after this many messages.
    count: int | None = None
    #: Stop at the first message with an event time at or after this (ms); it is not recorded.
    until_time_ms: int | None = None
    #: Keep waiting for new messages past the topics' current end.
    follow: bool = False
    #: When following, stop after this many seconds without a new message.
    idle_timeout: float = 30.0

    def describe(self) -> str:
        """The selection in words, for the recording's header."""
        start = (
            f"from offset {self.from_offset}"
            if self.from_offset is not None
            else f"from event time {_iso(self.from_time_ms)}"
            if self.from_time_ms is not None
            else "from the beginning"
        )
        stops = []
        if self.count is not None:
            stops.append(f"{self.count} messages")
        if self.until_time_ms is not None:
            stops.append(f"event time {_iso(self.until_time_ms)}")
        stops.append(f"{self.idle_timeout:g} s without a new message" if self.follow else "the end")
        return f"{start}, until {' or '.join(stops)}"


def _iso(ms: int | None) -> str:

    return "" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def record_messages(
    client_config: dict[str, Any],
    plan: RecordPlan,
    *,
    progress: Callable[[int], None] = lambda _: None,
) -> Iterator[RecordedMessage]:
    """The selected messages, partition by partition in offset order (interleaved as fetched)."""
    consumer = assigned_consumer(
        client_config, plan.topics, hint=" (is the name right? is FRAUD_TOPIC_ROOT?)"
    )
    try:
        partitions = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
        ends = consumer.end_offsets(partitions)
        _seek_start(consumer, plan, partitions, ends)
        done: set[Any] = set()
        count = 0
        last_new = time.monotonic()
        while plan.count is None or count < plan.count:
            if not plan.follow:
                done |= {tp for tp in partitions if consumer.position(tp) >= ends[tp]}
            if len(done) == len(partitions):
                return
            if plan.follow and time.monotonic() - last_new > plan.idle_timeout:
                return
            try:
                batch = consumer.poll(timeout_ms=300)
            except KeyboardInterrupt:
                if plan.follow:  # Ctrl-C ends a followed recording and keeps what was read
                    return
                raise
            for tp, records in sorted(batch.items(), key=lambda item: item[0]):
                for record in records:
                    message = _selected(record, plan, ends[tp])
                    if message is None or tp in done:
                        done.add(tp)
                        consumer.pause(tp)
                        break
                    yield message
                    count += 1
                    last_new = time.monotonic()
                    progress(count)
                    if plan.count is not None and count >= plan.count:
                        return
    finally:
        consumer.close()


def _seek_start(
    consumer: Any, plan: RecordPlan, partitions: list[Any], ends: dict[Any, int]
) -> None:
    if plan.from_offset is not None:
        starts = consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, min(max(plan.from_offset, starts[tp]), ends[tp]))
    elif plan.from_time_ms is not None:
        found = consumer.offsets_for_times(dict.fromkeys(partitions, plan.from_time_ms))
        for tp in partitions:
            at = found.get(tp)
            consumer.seek(tp, ends[tp] if at is None else at.offset)


def _selected(record: Any, plan: RecordPlan, end: int) -> RecordedMessage | None:
    """The record as a recorded message; None once its partition is past the selection."""
    if not plan.follow and record.offset >= end:
        return None
    message = recorded_message(record)
    stamp = message.timestamp_ms
    if plan.until_time_ms is not None and stamp is not None and stamp >= plan.until_time_ms:
        return None
    return message


def recorded_message(record: Any) -> RecordedMessage:
    """A kafka-python consumer record as a recorded message (no timestamp: None)."""
    return RecordedMessage(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp if record.timestamp >= 0 else None,
        key=record.key,
        value=record.value,
        headers=tuple((name, value or b"") for name, value in record.headers),
    )


def record_to_file(
    client_config: dict[str, Any],
    plan: RecordPlan,
    path: Path,
    *,
    append: bool = False,
    progress: Callable[[int], None] = lambda _: None,
) -> tuple[RecordingHeader, int]:
    """Record into ``path`` (a new file, or appended to an existing recording of the same
    topics); return its header and how many messages this run recorded."""
    messages = record_messages(client_config, plan, progress=progress)
    if append and path.exists():
        header = read_header(path)
        missing = set(plan.topics) - set(header.topics)
        if missing:
            msg = (
                f"{path} records {', '.join(header.topics)}; cannot append "
                f"{', '.join(sorted(missing))} to it"
            )
            raise RecordingError(msg)
        return header, append_messages(path, messages)
    source = ",".join(_servers(client_config))
    header = RecordingHeader(source=source, topics=tuple(plan.topics), selection=plan.describe())
    written = write_recording(path, header, messages)
    return written, written.messages or 0


def _servers(client_config: dict[str, Any]) -> Sequence[str]:
    servers = client_config.get("bootstrap_servers", "")
    return [servers] if isinstance(servers, str) else list(servers)
