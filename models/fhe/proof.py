"""Who published a set of evaluation keys: Ed25519 signatures binding a key id to its chunks.

A partner's key id is the first 32 hex digits (128 bits) of the SHA-256 of a public signing key
that only the partner can derive (from its key seed, for one model version). Every chunk the
partner publishes carries that public key and a signature over (partner, key id, model version,
SHA-256 of the whole set, chunk count, chunk index, SHA-256 of the chunk). A reader checks each
chunk on its own - the public key hashes to the key id, the signature holds - so a record someone
else wrote under a partner's key id is dropped without disturbing the real chunks, and only the
key id's owner can complete a set under it. Both sides import this module; it holds no FHE
secret.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.errors import KeyMaterialError

__all__ = [
    "KEY_ID_PATTERN",
    "ChunkClaim",
    "Ed25519Signer",
    "Signer",
    "key_id_of",
    "revocation_message",
    "verify_chunk",
    "verify_revocation",
]

#: Key ids are 32 lower-case hex digits, 128 bits: collisions are out of reach even for keys made
#: to collide (a 64-bit id takes 2^32 tries). They name files on the scorer: nothing else passes.
KEY_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
_CONTEXT = "fraudstream evaluation keys v2"
_REVOCATION = "fraudstream key revocation v1"


def key_id_of(public_key: bytes) -> str:
    """The key id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()[:32]


class Signer(Protocol):
    """A partner's publication signer (:meth:`models.fhe.client.keys.PartnerKeys.signer`)."""

    public_key: bytes

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``."""
        ...


class Ed25519Signer:
    """An Ed25519 private key that signs, with its raw public half: a :class:`Signer`."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        """Sign with ``key``."""
        self._key = key
        self.public_key = key.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``."""
        return self._key.sign(message)


@dataclass(frozen=True)
class ChunkClaim:
    """What one published chunk says about itself (all of it is signed)."""

    partner: str
    key_id: str
    model_version: str
    digest: str
    count: int
    index: int
    chunk_digest: str

    def message(self) -> bytes:
        """The signed bytes: a JSON list (unambiguous whatever the fields hold)."""
        fields: list[str | int] = [_CONTEXT, self.partner, self.key_id, self.model_version]
        fields += [self.digest, self.count, self.index, self.chunk_digest]
        return json.dumps(fields, separators=(",", ":")).encode()


def verify_chunk(public_key: bytes, signature: bytes, claim: ChunkClaim) -> None:
    """Raise :class:`KeyMaterialError` unless ``public_key`` is the key id's and signed this."""
    if not KEY_ID_PATTERN.fullmatch(claim.key_id):
        msg = f"{claim.key_id!r} is not a key id (32 hex digits)"
        raise KeyMaterialError(msg)
    if len(public_key) != 32 or key_id_of(public_key) != claim.key_id:
        msg = f"the public key sent with key id {claim.key_id} is not that key id's"
        raise KeyMaterialError(msg)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, claim.message())
    except InvalidSignature as exc:
        msg = f"a chunk under key id {claim.key_id} is not signed by its owner"
        raise KeyMaterialError(msg) from exc


def revocation_message(partner: str, key_id: str) -> bytes:
    """The signed bytes of "``partner`` revokes ``key_id``": only the key id's owner can say it."""
    return json.dumps([_REVOCATION, partner, key_id], separators=(",", ":")).encode()


def verify_revocation(public_key: bytes, signature: bytes, partner: str, key_id: str) -> None:
    """Raise :class:`KeyMaterialError` unless the key id's owner revoked it."""
    if not KEY_ID_PATTERN.fullmatch(key_id):
        msg = f"{key_id!r} is not a key id (32 hex digits)"
        raise KeyMaterialError(msg)
    if len(public_key) != 32 or key_id_of(public_key) != key_id:
        msg = f"the public key sent with the revocation of {key_id} is not that key id's"
        raise KeyMaterialError(msg)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, revocation_message(partner, key_id)
        )
    except InvalidSignature as exc:
        msg = f"the revocation of key id {key_id} is not signed by its owner"
        raise KeyMaterialError(msg) from exc
