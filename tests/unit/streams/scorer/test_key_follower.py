"""The scorer's key follower on records handed to it (no broker): bounded key sets per partner,
revocations honoured."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams.core.key_chunks import KeyAssembler, chunk_records, revocation_records
from streams.scorer.key_follower import MAX_KEYS_PER_PARTNER, KeyFollower
from tests.support.signers import Signer as Owner


@dataclass
class Record:
    topic: str
    value: bytes | None
    headers: list[tuple[str, bytes]]
    offset: int = 0


TOPICS = {"alpha": "t.alpha.keys.v1", "bravo": "t.bravo.keys.v1"}


def publish(follower: KeyFollower, assembler: KeyAssembler, partner: str, owner: Owner) -> None:
    for _, value, headers in chunk_records(partner, owner.key_id, "m1", b"keys" * 10, owner):
        follower._take(assembler, Record(TOPICS[partner], value, headers))


def test_a_partner_holds_at_most_its_newest_key_sets_and_never_pushes_out_another(
    tmp_path: Path,
) -> None:
    """Past MAX_KEYS_PER_PARTNER sets, the partner's oldest is dropped (its file too); the other
    partner's set stays."""
    follower = KeyFollower({}, TOPICS, tmp_path)
    assembler = KeyAssembler()
    bravo = Owner()
    publish(follower, assembler, "bravo", bravo)
    alphas = [Owner() for _ in range(MAX_KEYS_PER_PARTNER + 2)]
    for owner in alphas:
        publish(follower, assembler, "alpha", owner)
    newest = {o.key_id for o in alphas[-MAX_KEYS_PER_PARTNER:]}
    assert follower.known_key_ids() == newest | {bravo.key_id}
    assert {p.stem for p in tmp_path.glob("*.keys")} == newest | {bravo.key_id}


def test_a_revoked_key_is_dropped_and_reported(tmp_path: Path) -> None:
    """The owner's revocation removes the key set and its file; the follower says it was
    revoked (so requests under it are refused with that reason)."""
    follower = KeyFollower({}, TOPICS, tmp_path)
    assembler = KeyAssembler()
    owner = Owner()
    publish(follower, assembler, "alpha", owner)
    assert follower.get(owner.key_id) is not None
    (_, value, headers), *_ = revocation_records("alpha", owner.key_id, [], owner)
    follower._take(assembler, Record(TOPICS["alpha"], value, headers))
    assert follower.get(owner.key_id) is None
    assert follower.revoked(owner.key_id)
    assert not list(tmp_path.glob("*.keys"))
