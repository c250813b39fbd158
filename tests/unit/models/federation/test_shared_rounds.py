"""The secure-sums service's logic: contributors hand out each final bucket once, the aggregator
sums whole rosters only, and gateways accept only the aggregator's signed sums."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import FederationError
from models.features.spec import FeatureSpec, shared_handbook_spec
from models.federation.secure_sum import Ledger, MaskingKey
from models.federation.shared_rounds import (
    Contributor,
    CountBook,
    RosterBook,
    SumsAggregator,
    read_sums,
    session_run,
)
from models.federation.wire import MemberKey, Members

HOUR = 3600
DAY = 86_400
PARTNERS = ("alpha", "bravo", "charlie")


def _spec() -> FeatureSpec:
    spec = shared_handbook_spec()
    assert spec.shared_counts is not None
    small = spec.shared_counts.model_copy(update={"buckets": 256})
    return spec.model_copy(update={"shared_counts": small})


class _Federation:
    def __init__(self, spec: FeatureSpec, partners: tuple[str, ...] = PARTNERS) -> None:
        self.spec, self.run = spec, session_run(spec)
        self.keys = {p: MemberKey.generate(p) for p in (*partners, "aggregator")}
        self.members = Members.of(*self.keys.values())
        self.contributors = {
            p: Contributor(
                self.keys[p],
                MaskingKey(),
                RosterBook(self.members, partners, self.run),
                CountBook(spec),
                Ledger(),
            )
            for p in partners
        }
        assert spec.shared_counts is not None
        self.aggregator = SumsAggregator(
            self.keys["aggregator"], RosterBook(self.members, partners, self.run),
            spec.shared_counts, max_pending=1000,
        )  # fmt: skip
        self.published: list[bytes] = []
        for contributor in self.contributors.values():
            frame = contributor.masking_key_frame()
            for other in self.contributors.values():
                other.rosters.offer(frame)
            self.published += [m for _, m in self.aggregator.offer(frame)]

    def send(self, partner: str) -> None:
        for _, frame in self.contributors[partner].contributions():
            self.published += [m for _, m in self.aggregator.offer(frame)]


def test_a_bucket_is_due_once_its_labels_are_final() -> None:
    """With a 7-day label delay, hour h is handed out once the stream passes h's end + 7 days,
    empty hours included, and never twice; a late event is counted as late."""
    book = CountBook(_spec())
    start = 100 * DAY
    book.observe({"terminal_id": 5}, start + 10)
    book.observe({"terminal_id": 5}, start + 2 * HOUR + 1)
    assert book.due() == []
    book.observe({"terminal_id": 9}, start + 7 * DAY + 3 * HOUR)
    assert [t for _, t in book.due()] == [start // HOUR, start // HOUR + 1, start // HOUR + 2]
    first = book.take("terminal_id", start // HOUR)
    assert first[5] == 1
    assert first.sum() == 1
    assert book.take("terminal_id", start // HOUR + 1).sum() == 0
    book.observe({"terminal_id": 5}, start + 20, fraud=True)
    assert book.late == 1


def test_frauds_never_exceed_transactions_in_a_vector() -> None:
    """A label of a transaction the book never saw counts no fraud."""
    book = CountBook(_spec())
    book.observe({"terminal_id": 3}, 50 * DAY, fraud=True)
    book.observe({"terminal_id": 4}, 50 * DAY + 1)
    vector = book.take("terminal_id", 50 * DAY // HOUR)
    assert vector[256 + 3] == 0
    assert vector[4] == 1


def test_the_aggregator_publishes_the_sums_of_whole_rosters_only() -> None:
    """Two of three partners sent: nothing is published; the third sends: the sums are every
    partner's counts together, and the aggregator's sums read back on the gateway."""
    federation = _Federation(_spec())
    start = 200 * DAY
    for n, partner in enumerate(PARTNERS, start=1):
        book = federation.contributors[partner].book
        for _ in range(n):
            book.observe({"terminal_id": 42}, start + 60)
        book.observe({"terminal_id": 42}, start + 61, fraud=True)
        book.observe({"terminal_id": 7}, start + 8 * DAY)
    federation.send("alpha")
    federation.send("bravo")
    assert federation.published == []
    federation.send("charlie")
    assert len(federation.published) == 24  # the day from the first hour: 8 days - 7 days
    sums = [
        read_sums(frame, federation.members, "aggregator", federation.run)
        for frame in federation.published
    ]
    first = next(s for s in sums if s is not None and s.time_bucket == start // HOUR)
    assert first.transactions[42] == 1 + 2 + 3
    assert first.frauds[42] == 3
    assert first.transactions.sum() == 6
    assert first.members == PARTNERS


def test_sums_signed_by_anyone_but_the_aggregator_are_refused() -> None:
    """A partner's key cannot publish sums the gateways would believe."""
    federation = _Federation(_spec())
    for partner in PARTNERS:
        federation.contributors[partner].book.observe({"terminal_id": 1}, 300 * DAY)
        federation.contributors[partner].book.observe({"terminal_id": 1}, 308 * DAY)
        federation.send(partner)
    assert federation.published
    forged = SumsAggregator(
        federation.keys["alpha"], federation.aggregator.rosters, federation.aggregator.config, 10
    )
    frame = forged._sums_message(
        "shared-counts/terminal_id/7", federation.aggregator.rosters.roster,  # type: ignore[arg-type]
        np.zeros(512, dtype=np.uint32),
    )  # fmt: skip
    with pytest.raises(FederationError, match="not by the aggregator"):
        read_sums(frame, federation.members, "aggregator", federation.run)


def test_a_round_masked_for_an_older_roster_is_not_summed() -> None:
    """A partner that re-keys: vectors masked for the old roster never enter a sum."""
    federation = _Federation(_spec(), ("alpha", "bravo"))
    alpha = federation.contributors["alpha"]
    alpha.book.observe({"terminal_id": 2}, 400 * DAY)
    alpha.book.observe({"terminal_id": 2}, 408 * DAY)
    federation.send("alpha")
    bravo = federation.contributors["bravo"]
    bravo.masking = MaskingKey()
    frame = bravo.masking_key_frame()
    bravo.rosters.offer(frame)
    alpha.rosters.offer(frame)
    federation.published += [m for _, m in federation.aggregator.offer(frame)]
    bravo.book.observe({"terminal_id": 2}, 400 * DAY)
    bravo.book.observe({"terminal_id": 2}, 408 * DAY)
    federation.send("bravo")
    assert federation.published == []


def test_secure_sums_refuse_a_roster_of_one() -> None:
    """A lone member's 'sum' would be its own counts."""
    with pytest.raises(FederationError, match="two members"):
        RosterBook(Members({}), ["alpha"], "shared-counts/x")
