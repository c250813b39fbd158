"""The orjson codec for Faust, registered under the name ``orjson``.

orjson is several times faster than the standard library and refuses NaN and infinities when
decoding, which is what an event schema wants.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

__all__ = ["CODEC_NAME", "OrjsonCodec", "dumps", "loads", "register_codec"]

CODEC_NAME = "orjson"


def dumps(value: Any) -> bytes:
    """Encode a JSON-compatible value (datetimes as RFC 3339, UTC kept as ``Z``)."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    """Decode JSON; raises ``orjson.JSONDecodeError`` (a ``ValueError``) on bad input."""
    return orjson.loads(data)


class OrjsonCodec(codecs.Codec):
    """Faust codec turning JSON-compatible objects into bytes and back with orjson."""

    def _dumps(self, obj: Any) -> bytes:
        return dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return loads(s)


def register_codec() -> None:
    """Make ``value_serializer="orjson"`` available to every Faust topic (idempotent)."""
    if CODEC_NAME not in codecs.codecs:
        codecs.register(CODEC_NAME, OrjsonCodec())
