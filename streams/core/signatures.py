"""Signed scoring requests and verdicts: who sent a ciphertext, for which request, under which key.

**Requests** are signed by their partner with the Ed25519 key its key id is derived from (the key
that signs its evaluation keys, :mod:`models.fhe.proof`). The scorer has that public key from the
partner's keys topic, so it knows a request comes from the key id's owner, not from whoever can
write the shared requests topic. The claim binds the partner, the request id, the key id, the
model version, the SHA-256 of the whole envelope, a random nonce and the signing time; the scorer
refuses a request signed too long ago or too far ahead, and one whose nonce it has seen (a
replay).

**Verdicts** are signed by the scorer with its own Ed25519 key, whose public half each partner
pins (``FRAUD_SCORER_PUBLIC_KEYS``). The claim binds the partner, the request id, the key id, the
model version, the SHA-256 of the request's envelope (so a verdict joins only the features it
was computed from) and of the verdict's envelope, and the time. Whoever can write a partner's
verdicts topic can no longer make one up, re-route one or swap an old one in.

Pure: signing goes through a :class:`~models.fhe.proof.Signer`; verification needs only public
keys. Each claim is a JSON list with its own context string, so a signature over one kind of
claim never verifies as another (domain separation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import astuple, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.fhe.proof import Signer
from streams.core.errors import ConfigError, SignatureError

__all__ = [
    "RequestClaim",
    "VerdictClaim",
    "digest_of",
    "parse_public_keys",
    "sign",
    "verify",
]

_REQUEST_CONTEXT = "fraudstream scoring request v1"
_VERDICT_CONTEXT = "fraudstream verdict v1"


def digest_of(data: bytes) -> str:
    """The SHA-256 of ``data``, hex."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RequestClaim:
    """What a partner's signature on a scoring request says."""

    partner: str
    request_id: str
    key_id: str
    model_version: str
    envelope_digest: str
    nonce: str
    signed_at_ms: int

    def message(self) -> bytes:
        """The signed bytes."""
        return _message(_REQUEST_CONTEXT, astuple(self))


@dataclass(frozen=True)
class VerdictClaim:
    """What the scorer's signature on a verdict says."""

    partner: str
    request_id: str
    key_id: str
    model_version: str
    request_digest: str
    verdict_digest: str
    signed_at_ms: int

    def message(self) -> bytes:
        """The signed bytes."""
        return _message(_VERDICT_CONTEXT, astuple(self))


def _message(context: str, fields: tuple[str | int, ...]) -> bytes:
    return json.dumps([context, *fields], separators=(",", ":")).encode()


def sign(signer: Signer, claim: RequestClaim | VerdictClaim) -> bytes:
    """The signature of ``claim`` by ``signer``."""
    return signer.sign(claim.message())


def verify(
    public_keys: Iterable[bytes], signature: bytes, claim: RequestClaim | VerdictClaim
) -> None:
    """Return if one of ``public_keys`` signed ``claim``; raise :class:`SignatureError` else."""
    what = "request" if isinstance(claim, RequestClaim) else "verdict"
    message = claim.message()
    for public_key in public_keys:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            continue
        return
    msg = f"the {what}'s signature does not hold (not signed by its sender, or altered)"
    raise SignatureError(msg)


def parse_public_keys(texts: Iterable[str]) -> tuple[bytes, ...]:
    """Raw Ed25519 public keys from their hex forms (64 hex digits each)."""
    keys = []
    for text in texts:
        try:
            key = bytes.fromhex(text.strip())
        except ValueError as exc:
            msg = "a scorer public key is 64 hex digits (`fraudstream keys scorer --show`)"
            raise ConfigError(msg) from exc
        if len(key) != 32:
            msg = "a scorer public key is 64 hex digits (`fraudstream keys scorer --show`)"
            raise ConfigError(msg)
        keys.append(key)
    return tuple(keys)
