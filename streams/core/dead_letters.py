"""Dead letters on the wire: the headers that say where a refused record came from and why.

As Kafka Connect's dead-letter queue does, a dead letter carries the original key, value and
headers byte for byte (so it can be inspected and re-sent) and describes the error in Connect's
own context headers (``errors.deadletterqueue.context.headers.enable``), so tools written for
Connect's dead letters read these too:

- ``__connect.errors.topic``, ``__connect.errors.partition``, ``__connect.errors.offset``: where
  the record was read;
- ``__connect.errors.exception.class.name``: the error's class;
- ``__connect.errors.exception.message``: the reason (safe to log: never a record's values).

Two headers are this project's own: ``fraudstream.errors.timestamp_ms`` (the original record's
timestamp) and ``fraudstream.errors.value_omitted_bytes`` (set when the original was too large
to copy). Dead letters written before these names, with ``dlq.*`` headers, are still read.

Pure: the agents write dead letters with :mod:`streams.runtime.dead_letters`; the tools read
them with this module alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.core.errors import FraudStreamError
from streams.core.headers import Headers, header_map

__all__ = [
    "CONNECT_PREFIX",
    "VALUE_OMITTED_HEADER",
    "DeadLetter",
    "dead_letter_headers",
    "original_headers",
    "read_headers",
]

#: Kafka Connect's prefix of dead-letter context headers.
CONNECT_PREFIX = "__connect.errors."
_OWN_PREFIX = "fraudstream.errors."
#: Each field of :class:`DeadLetter` and the header that carries it.
_HEADERS = {
    "topic": CONNECT_PREFIX + "topic",
    "partition": CONNECT_PREFIX + "partition",
    "offset": CONNECT_PREFIX + "offset",
    "error_class": CONNECT_PREFIX + "exception.class.name",
    "reason": CONNECT_PREFIX + "exception.message",
    "timestamp_ms": _OWN_PREFIX + "timestamp_ms",
    "value_omitted_bytes": _OWN_PREFIX + "value_omitted_bytes",
}
_REQUIRED = ("error_class", "reason", "topic", "partition", "offset")
_LEGACY_PREFIX = "dlq."  # the names before Connect's (read, never written)
#: The header that carries the size of a value too large to copy.
VALUE_OMITTED_HEADER = _HEADERS["value_omitted_bytes"]


@dataclass(frozen=True)
class DeadLetter:
    """Where a bad record came from and why it was refused."""

    error_class: str
    reason: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    #: The original value's size when it was too large to copy (the dead letter's value is empty).
    value_omitted_bytes: int | None = None


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The headers that describe a dead letter (an unknown timestamp or size is left out)."""
    fields = {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "error_class": letter.error_class,
        "reason": letter.reason,
        "timestamp_ms": letter.timestamp_ms,
        "value_omitted_bytes": letter.value_omitted_bytes,
    }
    return [(_HEADERS[name], str(v).encode()) for name, v in fields.items() if v is not None]


def read_headers(headers: Headers) -> DeadLetter:
    """Parse the headers written by :func:`dead_letter_headers` (or by this project before it
    took Connect's names) for tools and tests."""
    # The original's own headers (kept beside the error's) may be binary or null: header_map
    # drops those, so they cannot make a dead letter unreadable.
    by_header = header_map(headers)
    found: dict[str, str] = {}
    for name, header in _HEADERS.items():
        value = by_header.get(header, by_header.get(_LEGACY_PREFIX + name))
        if value:
            found[name] = value
    missing = [_HEADERS[name] for name in _REQUIRED if name not in found]
    if missing:
        msg = f"not a dead letter: headers {missing} are missing"
        raise FraudStreamError(msg)
    try:
        return DeadLetter(
            error_class=found["error_class"],
            reason=found["reason"],
            topic=found["topic"],
            partition=int(found["partition"]),
            offset=int(found["offset"]),
            timestamp_ms=_optional_int(found.get("timestamp_ms")),
            value_omitted_bytes=_optional_int(found.get("value_omitted_bytes")),
        )
    except ValueError as exc:
        msg = f"not a dead letter: a partition, offset, timestamp or size is not a number ({exc})"
        raise FraudStreamError(msg) from exc


def original_headers(headers: Headers) -> list[tuple[str, bytes]]:
    """``headers`` without the ones that describe a dead letter: what the record carried before
    it was refused (what a re-send sends again)."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    return [(k, b"" if v is None else v) for k, v in items if not _describes_error(k)]


def _describes_error(header: str) -> bool:
    return header.startswith((CONNECT_PREFIX, _OWN_PREFIX, _LEGACY_PREFIX))


def _optional_int(text: str | None) -> int | None:
    return None if text is None else int(text)
