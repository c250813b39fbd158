"""The envelope around every ciphertext that travels: what it is, for which model and key.

Layout: ``b"FSE2"`` | header length (4 bytes, big-endian) | header (JSON) | payload. The header
names the kind (``input`` or ``verdict``), the model version, the key id and a SHA-256 over the
kind, model and key and the payload, so a ciphertext for another model or under another key is
refused with a clear error before the FHE library sees it, and truncation or corruption in
transit, of the payload or of the header's fields, is detected. (The digest detects accidents, not
an adversary: anyone can recompute it. Requests and verdicts are signed over the whole envelope
for that: :mod:`streams.core.signatures`.) Envelopes of the first layout (``FSE1``, the digest
over the payload alone) are refused as such.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Literal

import orjson

from models.errors import CiphertextError, KeyMismatchError, ModelMismatchError

__all__ = ["MAGIC", "Envelope", "open_envelope", "seal"]

MAGIC = b"FSE2"
_FIRST_MAGIC = b"FSE1"
_LENGTH = struct.Struct(">I")
_MAX_HEADER = 4096
Kind = Literal["input", "verdict"]


@dataclass(frozen=True)
class Envelope:
    """An opened envelope: its metadata and the ciphertext bytes."""

    kind: Kind
    model_version: str
    key_id: str
    payload: bytes


def seal(kind: Kind, model_version: str, key_id: str, payload: bytes) -> bytes:
    """Wrap ``payload`` with its metadata."""
    header = orjson.dumps(
        {
            "kind": kind,
            "model": model_version,
            "key": key_id,
            "sha256": _digest(kind, model_version, key_id, payload),
        }
    )
    return MAGIC + _LENGTH.pack(len(header)) + header + payload


def _digest(kind: str, model_version: str, key_id: str, payload: bytes) -> str:
    """The SHA-256 of the header's fields (an unambiguous JSON list) and the payload."""
    fields = orjson.dumps([kind, model_version, key_id])
    return hashlib.sha256(_LENGTH.pack(len(fields)) + fields + payload).hexdigest()


def open_envelope(
    data: object,
    kind: Kind,
    *,
    model_version: str | None = None,
    key_id: str | None = None,
) -> Envelope:
    """Check and unwrap ``data``; raise a specific error for each way it can be wrong."""
    if not isinstance(data, bytes | bytearray | memoryview):
        msg = f"a ciphertext envelope is bytes, not {type(data).__name__}"
        raise CiphertextError(msg)
    data = bytes(data)
    if data[:4] == _FIRST_MAGIC:
        msg = "a ciphertext envelope of an earlier release (FSE1): its sender must be upgraded"
        raise CiphertextError(msg)
    if data[:4] != MAGIC:
        msg = "not a ciphertext envelope (bad magic bytes)"
        raise CiphertextError(msg)
    if len(data) < 8:
        msg = "truncated ciphertext envelope (no header length)"
        raise CiphertextError(msg)
    (length,) = _LENGTH.unpack_from(data, 4)
    if length > _MAX_HEADER or len(data) < 8 + length:
        msg = "truncated or corrupt ciphertext envelope (header)"
        raise CiphertextError(msg)
    try:
        header = orjson.loads(data[8 : 8 + length])
        found = Envelope(
            kind=header["kind"],
            model_version=str(header["model"]),
            key_id=str(header["key"]),
            payload=data[8 + length :],
        )
        digest = str(header["sha256"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        msg = f"corrupt ciphertext envelope header: {exc}"
        raise CiphertextError(msg) from exc
    if found.kind != kind:
        msg = f"expected an encrypted {kind}, got an encrypted {found.kind}"
        raise CiphertextError(msg)
    if _digest(found.kind, found.model_version, found.key_id, found.payload) != digest:
        msg = "ciphertext truncated or altered in transit (digest mismatch)"
        raise CiphertextError(msg)
    if model_version is not None and found.model_version != model_version:
        msg = f"ciphertext made for model {found.model_version}, this is model {model_version}"
        raise ModelMismatchError(msg)
    if key_id is not None and found.key_id != key_id:
        msg = f"ciphertext made under key {found.key_id}, not under this key {key_id}"
        raise KeyMismatchError(msg)
    return found
