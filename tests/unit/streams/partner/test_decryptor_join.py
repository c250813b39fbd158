"""The decryptor's join table: only verdicts the pinned scorer signed, each joined with the
details of the request it answers, once; entries of earlier formats upgraded, unreadable ones
dropped, old ones expired."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from models.fhe.client.keys import Decrypted
from models.fhe.envelope import seal
from streams.core.errors import SignatureError
from streams.core.headers import FHE_MS_HEADER, PARTNER_HEADER, QUEUED_MS_HEADER
from streams.core.messages import PendingRequest, RequestTimings, Transaction, Verdict
from streams.core.signatures import VerdictClaim, digest_of, sign
from streams.partner.context import PartnerContext
from streams.partner.decryptor import DecryptorSteps
from streams.partner.join_table import JoinEntry, read_entry
from tests.support.signers import Signer as Scorer

KEY_ID = "0123456789abcdef"
PENDING, VERDICTS = "p.pending", "p.verdicts"


class Ring:
    """Decrypts a "ciphertext" that is the score's text (no FHE in a unit test)."""

    current = SimpleNamespace(client=SimpleNamespace(version="m1"), key_id=KEY_ID)

    def keys(self, key_id: str) -> SimpleNamespace:
        return self.current

    def decrypt(self, verdict: bytes) -> Decrypted:
        return Decrypted(float(verdict[verdict.index(b"|") + 1 :]), 0.001)


@dataclass
class Record:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    partition: int = 0


SCORER = Scorer()


def steps(joins: dict[str, Any], pinned: Scorer = SCORER, ttl_s: float = 3600) -> DecryptorSteps:
    context = PartnerContext("alpha", cast(Any, Ring()), 0.5, b"s" * 32, (pinned.public_key,))
    return DecryptorSteps(context, PENDING, joins, ttl_s)


def details(request_id: str, request: bytes, key_id: str = KEY_ID) -> Record:
    tx = Transaction(
        transaction_id=1,
        timestamp=datetime(2018, 8, 8, tzinfo=UTC),
        card_id=5,
        amount=3.5,
        partner_id="alpha",
        fields={"terminal_id": 7},
    )
    pending = PendingRequest(
        request_id=request_id,
        transaction=tx,
        features=(1.0,),
        key_id=key_id,
        timings=RequestTimings(received_ms=1.0, features_ms=1.0, encrypt_ms=1.0, sent_ms=2.0),
        request_digest=digest_of(request),
    )
    return Record(PENDING, request_id.encode(), pending.to_bytes(), [])


def verdict(
    request_id: str,
    request: bytes,
    score: float,
    *,
    signer: Scorer = SCORER,
    partner: str = "alpha",
    key_id: str = KEY_ID,
) -> Record:
    envelope = seal("verdict", "m1", key_id, f"ct|{score}".encode())
    claim = VerdictClaim(
        partner, request_id, key_id, "m1", digest_of(request), digest_of(envelope), 1
    )
    signed = Verdict(
        partner,
        request_id,
        envelope,
        queued_ms=1.0,
        fhe_ms=2.0,
        request_digest=claim.request_digest,
        signed_at_ms=1,
        signature=sign(signer, claim),
    )
    return Record(VERDICTS, signed.key, signed.envelope, signed.headers())


def test_a_signed_verdict_joins_its_details_once_and_later_halves_are_dropped() -> None:
    """Details then verdict (or verdict then details) give one score; after it is delivered a
    second copy of either half is dropped, not scored again."""
    for order in ("details first", "verdict first"):
        joins: dict[str, Any] = {}
        decryptor = steps(joins)
        halves = [details("r1", b"req"), verdict("r1", b"req", 0.9)]
        first, second = halves if order == "details first" else halves[::-1]
        assert decryptor.join(first) is None
        out = decryptor.join(second)
        assert out is not None
        assert (out.item.score, out.item.alert, out.key) == (0.9, True, b"5")
        decryptor.done("r1", 0)
        with capture_logs() as logs:
            assert decryptor.join(verdict("r1", b"req", 0.1)) is None
            assert decryptor.join(details("r1", b"req")) is None
        assert [e["event"] for e in logs] == ["duplicate_dropped", "duplicate_dropped"]


def test_a_verdict_not_signed_by_the_pinned_scorer_for_this_request_is_refused() -> None:
    """A verdict signed by another key, signed for another partner, or with its ciphertext
    replaced is refused with SignatureError and nothing is stored."""
    joins: dict[str, Any] = {}
    decryptor = steps(joins)
    forged = verdict("r1", b"req", 0.1, signer=Scorer())
    rerouted = verdict("r1", b"req", 0.1, partner="bravo")
    # Re-sealed, so the envelope's own digest holds: only the signature can tell.
    altered = replace(verdict("r1", b"req", 0.9), value=seal("verdict", "m1", KEY_ID, b"ct|0.0"))
    for record in (forged, rerouted, altered):
        with pytest.raises(SignatureError, match="signature does not hold"):
            decryptor.join(record)
    assert joins == {}


def test_an_old_verdict_of_another_request_or_key_does_not_join() -> None:
    """A genuine verdict computed for another request (an older ciphertext) or under another
    key id waits without joining; the verdict of these very details joins."""
    joins: dict[str, Any] = {}
    decryptor = steps(joins)
    assert decryptor.join(details("r1", b"req-2")) is None
    assert decryptor.join(verdict("r1", b"req-1", 0.1)) is None
    assert decryptor.join(verdict("r1", b"req-2", 0.2, key_id="fedcba9876543210")) is None
    out = decryptor.join(verdict("r1", b"req-2", 0.9))
    assert out is not None
    assert out.item.score == 0.9


def test_entries_expire_after_the_ttl_on_their_own_partition() -> None:
    """A half that waited longer than the TTL is removed (and logged) when a record of its
    partition is processed; a done marker too; entries of other partitions stay."""
    joins: dict[str, Any] = {}
    decryptor = steps(joins, ttl_s=60)
    decryptor.join(details("old", b"req"))
    decryptor.done("done", 0)
    decryptor.join(replace(details("other", b"req"), partition=1))
    later = time.time() * 1000 + 61_000
    with capture_logs() as logs:
        decryptor.sweep(0, later)
    assert sorted(joins) == ["other"]
    assert [(e["event"], e["request_id"]) for e in logs] == [("join_expired", "old")]


def test_an_entry_of_an_earlier_format_is_upgraded_with_its_verdict_and_timings() -> None:
    """A verdict that waited in the table before verdicts were signed (the scorer's headers
    under "scorer", or timings beside it) keeps its place, its key id read from its envelope."""
    envelope = base64.b64encode(seal("verdict", "m1", KEY_ID, b"ct|0.7")).decode()
    oldest = {
        "verdict": envelope,
        "scorer": {PARTNER_HEADER: "alpha", QUEUED_MS_HEADER: "12.5", FHE_MS_HEADER: "900.0"},
        "arrived_ms": 1.0,
    }
    typed = {"details": None, "verdict": envelope, "queued_ms": 12.5, "fhe_ms": 900.0}
    for stored in (oldest, typed):
        entry = read_entry(stored, "r1")
        assert isinstance(entry, JoinEntry)
        (waiting,) = entry.verdicts
        assert (waiting.key_id, waiting.queued_ms, waiting.fhe_ms) == (KEY_ID, 12.5, 900.0)
        assert waiting.request_digest is None
        assert entry.details == ()
    joins: dict[str, Any] = {"r1": oldest}
    out = steps(joins).join(details("r1", b"anything"))
    assert out is not None
    assert out.item.score == 0.7


def test_an_unreadable_entry_is_dropped_with_a_warning() -> None:
    """An entry that is not a join entry is removed (so the request can still complete) and
    the drop is logged with the request id only."""
    joins: dict[str, Any] = {"r1": {"details": "not details"}}
    with capture_logs() as logs:
        assert steps(joins).join(details("r2", b"req")) is None
        assert steps(joins)._stored("r1") is None
    assert "r1" not in joins
    assert [(e["event"], e["request_id"], e["log_level"]) for e in logs] == [
        ("join_entry_unreadable", "r1", "warning")
    ]


def test_the_last_done_marker_of_a_partition_bounds_the_read_back() -> None:
    """The latest done marker of a partition (waiting halves and other partitions aside): the
    outputs a killed decryptor left without a marker were sent after it."""
    joins: dict[str, Any] = {}
    decryptor = steps(joins)
    assert decryptor.last_done_ms(0) == 0.0
    decryptor.join(details("waiting", b"req"))
    decryptor.done("first", 0)
    first = decryptor.last_done_ms(0)
    decryptor.done("second", 0)
    decryptor.done("elsewhere", 1)
    assert decryptor.last_done_ms(0) == joins["second"]["done_ms"] >= first > 0
    assert decryptor.last_done_ms(1) == joins["elsewhere"]["done_ms"]
