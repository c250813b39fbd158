"""The envelope around every ciphertext that travels: what it is, for which model and key.

Layout: ``b"FSE1"`` | header length (4 bytes, big-endian) | header (JSON) | payload. The header
names the kind (``input`` or ``verdict``), the model version, the key id and the payload's
SHA-256, so a ciphertext for another model or under another key is refused with a clear error
before the FHE library sees it, and truncation or corruption in transit is detected. (The digest
detects accidents, not an adversary: anyone can recompute it. The threat model is an honest but
curious scorer; see docs/model.md.)
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Literal

import orjson

from models.errors import CiphertextError, KeyMismatchError, ModelMismatchError

__all__ = ["MAGIC", "Envelope", "open_envelope", "seal"]

MAGIC = b"FSE1"
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
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
    )
    return MAGIC + _LENGTH.pack(len(header)) + header + payload


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
    if hashlib.sha256(found.payload).hexdigest() != digest:
        msg = "ciphertext truncated or altered in transit (digest mismatch)"
        raise CiphertextError(msg)
    if model_version is not None and found.model_version != model_version:
        msg = f"ciphertext made for model {found.model_version}, this is model {model_version}"
        raise ModelMismatchError(msg)
    if key_id is not None and found.key_id != key_id:
        msg = f"ciphertext made under key {found.key_id}, not under this key {key_id}"
        raise KeyMismatchError(msg)
    return found
