"""Secure sums: the sum comes out exact, a masked vector or a partial sum says nothing, and the
rules that stop an aggregator from subtracting hold."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import FederationError
from models.federation.secure_sum import (
    Ledger,
    MaskingKey,
    Roster,
    masked_message,
    masking_key_message,
    sum_masked,
    unmasked_sum,
)
from models.federation.wire import Envelope, MemberKey, Members

NAMES = ("alpha", "bravo", "charlie")


@pytest.fixture
def federation() -> tuple[dict[str, MemberKey], dict[str, MaskingKey], Members, Roster]:
    members = {name: MemberKey.generate(name) for name in NAMES}
    masking = {name: MaskingKey() for name in NAMES}
    pinned = Members.of(*members.values())
    frames = [masking_key_message(members[n], masking[n], "run") for n in NAMES]
    return members, masking, pinned, Roster.from_messages(frames, pinned, "run")


def _vectors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.integers(0, 1000, 4096).astype(np.uint32) for name in NAMES}


def _masked(federation, vectors, roster=None, round_id="2018-08-01T13", ledgers=None):
    members, masking, _, full = federation
    roster = roster or full
    return {
        name: masked_message(
            vectors[name],
            member=members[name],
            masking=masking[name],
            roster=roster,
            run="run",
            round_id=round_id,
            ledger=(ledgers or {}).get(name, Ledger()),
        )
        for name in roster.names
    }


def test_the_sum_of_masked_vectors_is_the_sum_of_the_vectors(federation) -> None:
    """Every member's masked vector together unmask to the exact sum."""
    vectors = _vectors()
    frames = _masked(federation, vectors)
    total = sum_masked(frames.values(), federation[2], federation[3], "2018-08-01T13")
    assert np.array_equal(total, sum(vectors.values()))


def test_a_masked_vector_and_a_partial_sum_look_random(federation) -> None:
    """A masked vector, or the sum of all but one, is uncorrelated with what it hides."""
    vectors = _vectors()
    frames = _masked(federation, vectors)
    payloads = {
        n: np.frombuffer(Envelope.decode(f, federation[2]).payload, "<u4")
        for n, f in frames.items()
    }
    alone = payloads["alpha"].astype(float)
    assert abs(np.corrcoef(alone, vectors["alpha"].astype(float))[0, 1]) < 0.1
    partial = unmasked_sum([payloads["alpha"], payloads["bravo"]]).astype(float)
    hidden = (vectors["alpha"] + vectors["bravo"]).astype(float)
    assert abs(np.corrcoef(partial, hidden)[0, 1]) < 0.1
    assert alone.max() > 2**31  # spread over the whole 32-bit range, not near the counts


def test_a_sum_that_misses_a_member_is_refused(federation) -> None:
    """Without every member's vector, no sum is computed, and the error names who is missing."""
    frames = _masked(federation, _vectors())
    del frames["charlie"]
    with pytest.raises(FederationError, match="misses charlie"):
        sum_masked(frames.values(), federation[2], federation[3], "2018-08-01T13")


def test_a_member_answers_one_roster_per_round(federation) -> None:
    """Asked the same round again over a smaller roster, a member refuses: the difference of the
    two sums would be the left-out member's vector."""
    vectors = _vectors()
    ledgers = {name: Ledger() for name in NAMES}
    _masked(federation, vectors, ledgers=ledgers)
    again = _masked(federation, vectors, ledgers=ledgers)  # a retry of the same roster is fine
    assert len(again) == 3
    smaller = federation[3].only(["alpha", "bravo"])
    with pytest.raises(FederationError, match="already answered"):
        _masked(federation, vectors, roster=smaller, ledgers=ledgers)


def test_the_ledger_survives_a_restart(tmp_path, federation) -> None:
    """A restarted member still refuses a second roster for a round it answered."""
    path = tmp_path / "ledger.json"
    Ledger(path).promise("day-1", federation[3])
    with pytest.raises(FederationError, match="already answered"):
        Ledger(path).promise("day-1", federation[3].only(["alpha", "bravo"]))


def test_a_roster_of_one_is_refused(federation) -> None:
    """A member never masks for a roster without another member (its sum would be its vector)."""
    alone = federation[3].only(["alpha"])
    with pytest.raises(FederationError, match="cannot hide"):
        _masked(federation, _vectors(), roster=alone)


def test_a_masking_key_not_signed_by_its_member_is_refused(federation) -> None:
    """The aggregator relays masking keys but cannot swap one in."""
    pinned = federation[2]
    mallory = MemberKey.generate("alpha")  # another key under alpha's name
    forged = masking_key_message(mallory, MaskingKey(), "run")
    with pytest.raises(FederationError, match="not signed by its key"):
        Roster.from_messages([forged], pinned, "run")


def test_masks_differ_per_round(federation) -> None:
    """The same vector masked for two rounds gives unrelated payloads (masks are per round)."""
    vectors = _vectors()
    one = _masked(federation, vectors, round_id="a")["alpha"]
    two = _masked(federation, vectors, round_id="b")["alpha"]
    first = np.frombuffer(Envelope.decode(one, federation[2]).payload, "<u4")
    second = np.frombuffer(Envelope.decode(two, federation[2]).payload, "<u4")
    assert np.mean(first == second) < 0.01
