"""Signed requests and verdicts: each claim verifies only as itself, under the key that signed
it."""

from __future__ import annotations

import pytest

from streams.core.errors import ConfigError, SignatureError
from streams.core.signatures import (
    RequestClaim,
    VerdictClaim,
    digest_of,
    parse_public_keys,
    sign,
    verify,
)
from tests.support.signers import Signer as Key


def test_a_signature_holds_for_its_claim_and_key_only() -> None:
    """Any other key, any changed field, or the same fields as the other kind of claim fail:
    a signed request can never pass for a verdict (each claim names its kind)."""
    key, other = Key(), Key()
    fields = ("alpha", "r1", "0123456789abcdef", "m1", digest_of(b"a"), digest_of(b"b"), 5)
    verdict = VerdictClaim(*fields)
    signature = sign(key, verdict)
    verify([other.public_key, key.public_key], signature, verdict)  # one pinned key suffices
    with pytest.raises(SignatureError):
        verify([other.public_key], signature, verdict)
    with pytest.raises(SignatureError):
        verify([key.public_key], signature, VerdictClaim(*fields[:-1], 6))
    with pytest.raises(SignatureError):
        verify([key.public_key], signature, RequestClaim(*fields))
    with pytest.raises(SignatureError):
        verify([], signature, verdict)


def test_pinned_public_keys_are_64_hex_digits() -> None:
    """Hex keys of 32 bytes are read; anything else is a ConfigError naming the command."""
    key = Key()
    assert parse_public_keys([key.public_key.hex(), f" {key.public_key.hex()} "]) == (
        key.public_key,
        key.public_key,
    )
    for bad in ("zz", "00" * 31, ""):
        with pytest.raises(ConfigError, match="keys scorer"):
            parse_public_keys([bad])
