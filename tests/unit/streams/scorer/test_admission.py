"""Which requests the scorer evaluates: signed by their key id's owner, recent, not replayed;
and how long an unknown key id holds it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from models.errors import KeyMaterialError
from streams.core.errors import SignatureError
from streams.core.messages import ScoringRequest
from streams.core.signatures import RequestClaim, digest_of, sign
from streams.scorer.admission import RequestGuard
from streams.scorer.agent import ScorerSteps
from streams.scorer.key_follower import KnownKey
from tests.support.signers import Signer as Owner

NOW = 1_800_000_000.0
KEY_ID = "0123456789abcdef"


OWNER = Owner()


def request(nonce: str = "n" * 32, at_s: float = NOW, signer: Owner = OWNER) -> ScoringRequest:
    envelope = b"FSE2 an input envelope"
    at_ms = int(at_s * 1000)
    claim = RequestClaim("alpha", "r1", KEY_ID, "m1", digest_of(envelope), nonce, at_ms)
    return ScoringRequest("alpha", "r1", envelope, nonce, at_ms, sign(signer, claim))


def guard(capacity: int = 100) -> RequestGuard:
    return RequestGuard(max_age_s=3600, max_skew_s=300, capacity=capacity, clock=lambda: NOW)


def admit(checker: RequestGuard, sent: ScoringRequest, key_id: str = KEY_ID) -> None:
    checker.admit(sent, OWNER.public_key, key_id, "m1")


def test_a_request_signed_by_its_key_owner_is_admitted_once_per_nonce() -> None:
    """The owner's request is admitted; the same request again is a replay; the same
    transaction re-sent with a fresh nonce (after a gateway crash) is admitted."""
    checker = guard()
    admit(checker, request())
    with pytest.raises(SignatureError, match="replay"):
        admit(checker, request())
    admit(checker, request(nonce="m" * 32))


def test_a_request_not_signed_by_its_key_owner_or_altered_is_refused() -> None:
    """Another signer, a swapped ciphertext, another key id or partner: the signature fails."""
    checker = guard()
    cases = [
        (request(signer=Owner()), KEY_ID),
        (replace(request(), envelope=b"FSE2 another envelope"), KEY_ID),
        (request(), "fedcba9876543210"),
        (replace(request(), partner="bravo"), KEY_ID),
    ]
    for sent, key_id in cases:
        with pytest.raises(SignatureError, match="signature does not hold"):
            admit(checker, sent, key_id)


def test_a_request_signed_too_long_ago_or_too_far_ahead_is_refused() -> None:
    """Older than the maximum age, or ahead of the scorer's clock by more than the skew."""
    checker = guard()
    with pytest.raises(SignatureError, match="more than 3600 s ago"):
        admit(checker, request(at_s=NOW - 3601))
    with pytest.raises(SignatureError, match="more than 300 s ahead"):
        admit(checker, request(at_s=NOW + 301))
    admit(checker, request(at_s=NOW - 3599))


def test_the_nonce_memory_is_bounded() -> None:
    """Past its capacity the guard forgets the oldest nonces first."""
    checker = guard(capacity=3)
    for index in range(5):
        admit(checker, request(nonce=f"{index:032d}"))
    assert len(checker._seen) == 3
    admit(checker, request(nonce=f"{0:032d}"))  # forgotten: no longer a replay


class NoKeys:
    """A key source that has read everything and holds no key."""

    directory = Path()
    error = None

    def start(self) -> None:
        return None

    def get(self, key_id: str) -> KnownKey | None:
        return None

    def known_key_ids(self) -> frozenset[str]:
        return frozenset()

    def wait_caught_up(self, timeout: float) -> bool:
        return True

    def reads_done(self) -> int:
        return 7

    def read_everything_since(self, mark: int) -> bool:
        return True

    def revoked(self, key_id: str) -> bool:
        return False


def test_an_unknown_key_id_is_refused_as_soon_as_the_registry_is_read() -> None:
    """Once the follower has read everything published since the request came, a request under
    a key id nobody published is refused at once, not after the whole key wait (600 s)."""
    steps = ScorerSteps(
        ["m1"], ["alpha"], NoKeys(), cast(Any, None), key_wait=600, signer=OWNER, guard=guard()
    )

    async def refused() -> None:
        with pytest.raises(KeyMaterialError, match="none published"):
            await asyncio.wait_for(steps.wait_for_key(KEY_ID, "alpha"), timeout=5)

    asyncio.run(refused())
