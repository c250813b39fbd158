"""Signed, versioned federation messages: a JSON header that is signed, and a binary payload
bound to it by its SHA-256.

Every message of federated training and secure aggregation (tasks, tree updates, masking keys,
masked vectors, sums) is one :class:`Envelope`. The sender signs ``context || header`` with its
Ed25519 member key; the header names the format version, the kind, the sender, the run and the
round, carries a JSON body and the payload's digest. A reader checks the version, the signature
against the sender's pinned public key (:class:`Members`) and the payload's digest before it
looks at anything else, so a message from someone else, an old format or a tampered payload is
refused with a :class:`FederationError` that says which.

Frame: ``FSF1`` | header length (u32, big endian) | header | signature length (u16) |
signature | payload. Binary payloads (masked vectors are hundreds of KB) are not base64-inflated.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.errors import FederationError
from models.fhe.proof import Ed25519Signer, Signer

__all__ = [
    "BOOST",
    "FORMAT_VERSION",
    "JOIN",
    "MASKED",
    "MASKING_KEY",
    "SHARED_SUMS",
    "SUM",
    "TREES",
    "Envelope",
    "MemberKey",
    "Members",
]

#: Message kinds. The coordinator's tasks: join the run, add to a secure sum, boost trees.
JOIN, SUM, BOOST = "join", "sum-task", "boost-task"
#: The members' answers: a masking key (the answer to join), a masked vector, trees.
MASKING_KEY, MASKED, TREES = "masking-key", "masked-vector", "trees"
#: The aggregator's publication: one round's sums of the shared counts.
SHARED_SUMS = "shared-sums"

#: The message format's version: a reader refuses any other.
FORMAT_VERSION = 1
_MAGIC = b"FSF1"
_CONTEXT = b"fraudstream federation message v1\n"
_HEADER = struct.Struct(">4sI")
_SIGNATURE = struct.Struct(">H")
#: A header above this is not a federation message (bodies hold trees and counts, not rows).
MAX_HEADER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Envelope:
    """One federation message."""

    kind: str
    sender: str
    run: str
    round: str
    body: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""

    def _header(self) -> bytes:
        header = {
            "v": FORMAT_VERSION,
            "kind": self.kind,
            "sender": self.sender,
            "run": self.run,
            "round": self.round,
            "body": self.body,
            "payload_sha256": hashlib.sha256(self.payload).hexdigest(),
            "payload_bytes": len(self.payload),
        }
        return json.dumps(header, separators=(",", ":"), sort_keys=True).encode()

    def encode(self, signer: Signer) -> bytes:
        """The signed frame."""
        header = self._header()
        signature = signer.sign(_CONTEXT + header)
        return b"".join(
            [
                _HEADER.pack(_MAGIC, len(header)),
                header,
                _SIGNATURE.pack(len(signature)),
                signature,
                self.payload,
            ]
        )

    @classmethod
    def decode(cls, frame: bytes, members: Members) -> Envelope:
        """The message in ``frame``, once its sender's signature and its payload are checked."""
        header, signature, payload = _split(frame)
        try:
            fields = json.loads(header)
            version, sender = fields["v"], fields["sender"]
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"a federation message's header is not JSON with v and sender: {exc}"
            raise FederationError(msg) from exc
        if version != FORMAT_VERSION:
            msg = f"a message from {sender!r} has format v{version}; this reader knows v1 only"
            raise FederationError(msg)
        members.verify(sender, signature, _CONTEXT + header)
        if hashlib.sha256(payload).hexdigest() != fields.get("payload_sha256"):
            msg = f"the payload of a {fields.get('kind')!r} message from {sender!r} was altered"
            raise FederationError(msg)
        try:
            return cls(
                kind=str(fields["kind"]),
                sender=str(sender),
                run=str(fields["run"]),
                round=str(fields["round"]),
                body=dict(fields["body"]),
                payload=payload,
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"a message from {sender!r} lacks a field: {exc}"
            raise FederationError(msg) from exc


def _split(frame: bytes) -> tuple[bytes, bytes, bytes]:
    if len(frame) < _HEADER.size or frame[:4] != _MAGIC:
        msg = "not a federation message (no FSF1 frame)"
        raise FederationError(msg)
    _, header_length = _HEADER.unpack_from(frame)
    start = _HEADER.size
    if header_length > MAX_HEADER_BYTES or start + header_length + _SIGNATURE.size > len(frame):
        msg = "a federation message is truncated or its header is too long"
        raise FederationError(msg)
    header = frame[start : start + header_length]
    (signature_length,) = _SIGNATURE.unpack_from(frame, start + header_length)
    signature_start = start + header_length + _SIGNATURE.size
    signature = frame[signature_start : signature_start + signature_length]
    if len(signature) != signature_length:
        msg = "a federation message's signature is truncated"
        raise FederationError(msg)
    return header, signature, frame[signature_start + signature_length :]


class MemberKey(Ed25519Signer):
    """A member's long-term Ed25519 signing key (a partner's, or the coordinator's)."""

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        """``name`` signs with ``key``."""
        super().__init__(key)
        self.name = name

    @classmethod
    def generate(cls, name: str) -> MemberKey:
        """A fresh key for ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, name: str, path: Path) -> MemberKey:
        """The key saved at ``path`` (32 raw bytes), made and saved (mode 0600) if missing."""
        if path.exists():
            raw = path.read_bytes()
            if len(raw) != 32:
                msg = f"{path} is not a 32-byte Ed25519 private key"
                raise FederationError(msg)
            return cls(name, Ed25519PrivateKey.from_private_bytes(raw))
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(key.private_bytes_raw())
        return cls(name, key)


@dataclass(frozen=True)
class Members:
    """The federation's pinned public keys: member name → raw Ed25519 public key."""

    keys: Mapping[str, bytes]

    @classmethod
    def of(cls, *signers: MemberKey) -> Members:
        """The public halves of ``signers``."""
        return cls({signer.name: signer.public_key for signer in signers})

    def to_json(self) -> dict[str, str]:
        """Name → public key, hex (a members file)."""
        return {name: key.hex() for name, key in sorted(self.keys.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Members:
        """The inverse of :meth:`to_json`."""
        try:
            keys = {str(name): bytes.fromhex(value) for name, value in data.items()}
        except (ValueError, TypeError, AttributeError) as exc:
            msg = f"a members file maps names to hex Ed25519 public keys: {exc}"
            raise FederationError(msg) from exc
        return cls(keys)

    def verify(self, sender: str, signature: bytes, message: bytes) -> None:
        """:class:`FederationError` unless ``sender`` is a member and signed ``message``."""
        key = self.keys.get(sender)
        if key is None:
            msg = f"a message from {sender!r}, who is not a member of this federation"
            raise FederationError(msg)
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
        except (InvalidSignature, ValueError) as exc:
            msg = f"a message claiming to be from {sender!r} is not signed by its key"
            raise FederationError(msg) from exc
