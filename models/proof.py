"""Who published a set of evaluation keys: an Ed25519 signature binding a key id to its bytes.

A partner's key id is the first 16 hex digits of the SHA-256 of a public signing key that only
the partner can derive (from its key seed, for one model version). With each published set the
partner sends that public key and a signature over (partner, key id, model version, SHA-256 of
the set). A scorer checks that the public key hashes to the key id and that the signature holds,
so no one else can put evaluation keys under a partner's key id: the scorer evaluates a request
only with keys its owner published. Both sides import this module; it holds no FHE secret.
"""

from __future__ import annotations

import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.errors import KeyMaterialError

__all__ = ["KEY_ID_PATTERN", "key_id_of", "proof_message", "verify_proof"]

#: Key ids are 16 lower-case hex digits (they name files on the scorer: nothing else passes).
KEY_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
_CONTEXT = b"fraudstream evaluation keys v1"


def key_id_of(public_key: bytes) -> str:
    """The key id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def proof_message(partner: str, key_id: str, model_version: str, digest: str) -> bytes:
    """What the partner signs: the context, partner, key id, model version and keys' SHA-256."""
    return b"\0".join(
        [_CONTEXT, partner.encode(), key_id.encode(), model_version.encode(), digest.encode()]
    )


def verify_proof(
    public_key: bytes,
    signature: bytes,
    *,
    partner: str,
    key_id: str,
    model_version: str,
    digest: str,
) -> None:
    """Raise :class:`KeyMaterialError` unless ``public_key`` is the key id's and signed this."""
    if not KEY_ID_PATTERN.fullmatch(key_id):
        msg = f"{key_id!r} is not a key id (16 hex digits)"
        raise KeyMaterialError(msg)
    if len(public_key) != 32 or key_id_of(public_key) != key_id:
        msg = f"the public key sent with key id {key_id} is not that key id's"
        raise KeyMaterialError(msg)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, proof_message(partner, key_id, model_version, digest)
        )
    except InvalidSignature as exc:
        msg = f"the evaluation keys under key id {key_id} are not signed by its owner"
        raise KeyMaterialError(msg) from exc
