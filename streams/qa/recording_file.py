"""Recordings: what flowed through topics, one JSON line per message, gzip-compressed.

The first line describes the recording (``{"recording": 1, "source": ..., "topics": [...],
"created": ..., "messages": N, "time_range": [first_ms, last_ms], "selection": ...}``); every
other line is one message: topic, partition, offset, timestamp (ms), key, value and headers, with
bytes in base64 (``null`` stays ``null``) so any value survives the round trip.

Writing goes to a temporary file first and is renamed into place at the end, so a recording is
never seen half-written; the header's count and time range are those of the messages written.
Appending adds a gzip member (every gzip reader reads members as one stream); the header then
still describes the first part. Reading checks every line and names the one that is wrong.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams.core.errors import RecordingError

__all__ = [
    "FORMAT_VERSION",
    "RecordedMessage",
    "RecordingHeader",
    "append_messages",
    "read_recording",
    "write_recording",
]

#: The version of the line format; a reader refuses recordings of another version.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RecordingHeader:
    """What a recording holds and where it came from."""

    source: str
    topics: tuple[str, ...]
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    version: int = FORMAT_VERSION
    #: How many messages were written (not counting later appends); None when unknown.
    messages: int | None = None
    #: Event times (ms) of the first and last message written; None when none had one.
    time_range: tuple[int, int] | None = None
    #: What was asked for (offsets, times, counts), in words, for the reader.
    selection: str = ""

    def to_json(self) -> dict[str, Any]:
        """The header line."""
        return {
            "recording": self.version,
            "source": self.source,
            "topics": list(self.topics),
            "created": self.created,
            "messages": self.messages,
            "time_range": list(self.time_range) if self.time_range else None,
            "selection": self.selection,
        }


@dataclass(frozen=True)
class RecordedMessage:
    """One Kafka message, exactly as it was (bytes kept as bytes)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The message's line."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": _b64(self.key),
            "value": _b64(self.value),
            "headers": [[name, _b64(value)] for name, value in self.headers],
        }


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: object, what: str) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        msg = f"{what} is not base64 text"
        raise TypeError(msg)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        msg = f"{what} is not valid base64 (corrupted value)"
        raise ValueError(msg) from exc


def _message(line: dict[str, Any], topics: Sequence[str]) -> RecordedMessage:
    topic = line["topic"]
    if topic not in topics:
        msg = f"topic {topic!r} is not one of the recording's topics"
        raise ValueError(msg)
    headers = tuple(
        (str(name), _unb64(value, f"header {name!r}") or b"") for name, value in line["headers"]
    )
    stamp = line["timestamp_ms"]
    return RecordedMessage(
        topic=str(topic),
        partition=int(line["partition"]),
        offset=int(line["offset"]),
        timestamp_ms=None if stamp is None else int(stamp),
        key=_unb64(line["key"], "key"),
        value=_unb64(line["value"], "value"),
        headers=headers,
    )


def write_recording(
    path: Path, header: RecordingHeader, messages: Iterable[RecordedMessage]
) -> RecordingHeader:
    """Create ``path`` with ``header`` and ``messages``; return the header written (with the
    count and time range of the messages). ``path`` appears only once complete: if ``messages``
    raises (or is interrupted), nothing is left behind."""
    path = Path(path)
    count, first, last = 0, None, None
    directory = path.resolve().parent
    with tempfile.TemporaryDirectory(prefix=".recording-", dir=directory) as tmp:
        body = Path(tmp) / "body.gz"
        with gzip.open(body, "wb") as handle:
            for message in messages:
                handle.write(orjson.dumps(message.to_json()) + b"\n")
                count += 1
                stamp = message.timestamp_ms
                if stamp is not None:
                    first = stamp if first is None else min(first, stamp)
                    last = stamp if last is None else max(last, stamp)
        written = RecordingHeader(
            source=header.source,
            topics=header.topics,
            created=header.created,
            version=header.version,
            messages=count,
            time_range=None if first is None or last is None else (first, last),
            selection=header.selection,
        )
        whole = Path(tmp) / "whole.gz"
        with whole.open("wb") as out:
            out.write(gzip.compress(orjson.dumps(written.to_json()) + b"\n"))
            with body.open("rb") as member:
                shutil.copyfileobj(member, out)
        whole.replace(path)
    return written


def append_messages(path: Path, messages: Iterable[RecordedMessage]) -> int:
    """Append ``messages`` to an existing recording (a new gzip member); return how many."""
    read_header(path)  # refuse to append to something that is not a recording
    with gzip.open(path, "ab") as handle:
        count = 0
        for message in messages:
            handle.write(orjson.dumps(message.to_json()) + b"\n")
            count += 1
    return count


def read_header(path: Path) -> RecordingHeader:
    """The header of the recording at ``path``."""
    for item in _lines(path):
        if isinstance(item, RecordingHeader):
            return item
        break
    msg = f"{path}: empty recording (no header line)"
    raise RecordingError(msg)


def read_recording(path: Path) -> Iterator[RecordingHeader | RecordedMessage]:
    """The header, then every message; :class:`RecordingError` names the first bad line."""
    return _lines(path)


def _lines(path: Path) -> Iterator[RecordingHeader | RecordedMessage]:
    header: RecordingHeader | None = None
    number = 0
    try:
        with gzip.open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    msg = f"{path}: line {number} is truncated (no end of line)"
                    raise RecordingError(msg)
                try:
                    line = _object(orjson.loads(raw))
                    if header is None:
                        header = _header(line)
                        yield header
                    else:
                        yield _message(line, header.topics)
                except RecordingError:
                    raise
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    msg = f"{path}: line {number} is not a valid recording line: {exc}"
                    raise RecordingError(msg) from exc
    except (OSError, EOFError, zlib.error) as exc:
        msg = f"{path}: unreadable or truncated after line {number}: {exc}"
        raise RecordingError(msg) from exc


def _object(line: object) -> dict[str, Any]:
    if not isinstance(line, dict):
        msg = f"a JSON object was expected, not {type(line).__name__}"
        raise TypeError(msg)
    return line


def _header(line: dict[str, Any]) -> RecordingHeader:
    version = line.get("recording")
    if version != FORMAT_VERSION:
        msg = f"recording format version {version!r} is not supported (this reads {FORMAT_VERSION})"
        raise ValueError(msg)
    time_range = line.get("time_range")
    messages = line.get("messages")
    return RecordingHeader(
        source=str(line["source"]),
        topics=tuple(str(t) for t in line["topics"]),
        created=str(line["created"]),
        version=version,
        messages=None if messages is None else int(messages),
        time_range=None if not time_range else (int(time_range[0]), int(time_range[1])),
        selection=str(line.get("selection") or ""),
    )
