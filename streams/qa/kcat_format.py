"""kcat's ``-J`` JSON lines, to and from recordings, and a recording's values for people.

``kcat -C -J`` prints one JSON object per message: ``topic``, ``partition``, ``offset``,
``tstype`` and ``ts`` (the timestamp, ms), ``broker``, ``headers`` (a flat list: name, value,
name, value …; absent when there are none), ``key`` and ``payload`` (strings, or null). Keys,
values and header values are text there, so only messages whose bytes are UTF-8 convert: a
ciphertext (a scoring request, a verdict) does not, and exporting one is refused with where it
is, rather than written in a form that would not read back the same.

Recordings (:mod:`streams.qa.recording_file`) keep bytes as base64 and so hold anything; these
functions turn one into the other, message by message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from streams.core.errors import RecordingError
from streams.qa.recording_file import RecordedMessage

__all__ = ["from_kcat", "readable", "to_kcat"]


def _text(data: bytes | None, what: str, message: RecordedMessage) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        where = f"{message.topic}:{message.partition}@{message.offset}"
        msg = (
            f"{where}: its {what} is binary ({len(data)} bytes, not UTF-8), which kcat's JSON "
            "cannot hold; export the plaintext topics only (--topic)"
        )
        raise RecordingError(msg) from exc


def to_kcat(message: RecordedMessage) -> bytes:
    """One kcat ``-J`` line (without its newline) for ``message``."""
    line: dict[str, Any] = {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "tstype": "create" if message.timestamp_ms is not None else "notavailable",
        "ts": message.timestamp_ms if message.timestamp_ms is not None else -1,
        "broker": -1,
    }
    if message.headers:
        flat: list[str | None] = []
        for name, value in message.headers:
            flat += [name, _text(value, f"header {name!r}", message)]
        line["headers"] = flat
    line["key"] = _text(message.key, "key", message)
    line["payload"] = _text(message.value, "value", message)
    return orjson.dumps(line)


def from_kcat(lines: Iterable[bytes | str], source: str = "kcat") -> Iterator[RecordedMessage]:
    """The messages of kcat ``-J`` lines (blank lines and kcat's ``%`` notices are skipped);
    :class:`RecordingError` names the first line that is not one."""
    for number, raw in enumerate(lines, start=1):
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip() or text.lstrip().startswith("%"):
            continue
        try:
            yield _message(orjson.loads(text))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            msg = f"{source}, line {number}: not a kcat -J message ({exc})"
            raise RecordingError(msg) from exc


def _message(line: dict[str, Any]) -> RecordedMessage:
    flat = line.get("headers") or []
    if len(flat) % 2:
        msg = "headers is not a list of name, value pairs"
        raise ValueError(msg)
    headers = tuple((str(flat[i]), (flat[i + 1] or "").encode()) for i in range(0, len(flat), 2))
    stamp = line.get("ts")
    return RecordedMessage(
        topic=str(line["topic"]),
        partition=int(line["partition"]),
        offset=int(line["offset"]),
        timestamp_ms=None if stamp is None or int(stamp) < 0 else int(stamp),
        key=_bytes(line.get("key")),
        value=_bytes(line.get("payload")),
        headers=headers,
    )


def _bytes(text: object) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        msg = f"a key or payload must be a string or null, not {type(text).__name__}"
        raise TypeError(msg)
    return text.encode()


def readable(message: RecordedMessage) -> dict[str, Any]:
    """``message`` for a person: JSON values decoded, other text as text, binary as its size."""
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "timestamp_ms": message.timestamp_ms,
        "key": _shown(message.key),
        "headers": {name: _shown(value) for name, value in message.headers},
        "value": _shown(message.value),
    }


def _shown(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return data.decode()
    except UnicodeDecodeError:
        return f"<{len(data)} bytes, binary>"
