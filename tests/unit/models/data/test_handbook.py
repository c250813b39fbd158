"""The bundled handbook data and the split of cards between partners."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from models.data.handbook import partner_of, read_transactions
from models.errors import DatasetError

DAY = date(2018, 8, 8)


def test_bundled_day_is_complete() -> None:
    """A day of the bundled data has every transaction of 2018-08-08 and its 77 frauds."""
    rows = list(read_transactions(start=DAY, end=DAY))
    assert len(rows) == 9740
    assert sum(r.is_fraud for r in rows) == 77
    assert {r.timestamp.date().isoformat() for r in rows} == {"2018-08-08"}
    assert [r.timestamp for r in rows] == sorted(r.timestamp for r in rows)


@pytest.mark.parametrize(
    ("card", "partners", "expected"),
    [
        (596, ("alpha", "bravo"), "alpha"),
        (0, ("alpha", "bravo"), "bravo"),
        (2765, ("alpha", "bravo"), "alpha"),
        (596, ("alpha", "bravo", "charlie"), "bravo"),
        (1, ("alpha", "bravo", "charlie"), "charlie"),
        (0, ("bravo", "alpha"), "alpha"),
    ],
)
def test_known_cards_go_to_known_partners(
    card: int, partners: tuple[str, ...], expected: str
) -> None:
    """The split is pinned: it must be the same in every process and every release (a partner's
    gateway, the replay tools and per-partner training all rely on it), so a change of hash or
    of its use shows up here."""
    assert partner_of(card, partners) == expected


@pytest.mark.parametrize("partners", [("alpha", "bravo"), ("alpha", "bravo", "charlie")])
def test_cards_are_split_stably_in_about_equal_shares(partners: tuple[str, ...]) -> None:
    """Each card of a day has one partner, the same on every call (a list or a tuple of the
    same partners), and each partner issues about 1/n of the cards."""
    cards = {r.card_id for r in read_transactions(start=DAY, end=DAY)}
    owners = {card: partner_of(card, partners) for card in cards}
    assert all(partner_of(card, list(partners)) == owners[card] for card in cards)
    shares = Counter(owners.values())
    assert set(shares) == set(partners)
    for partner in partners:
        assert abs(shares[partner] / len(cards) - 1 / len(partners)) < 0.05, shares


def test_no_partner_is_a_dataset_error() -> None:
    """Cards cannot be split between no partners."""
    with pytest.raises(DatasetError, match="at least one partner"):
        partner_of(596, ())


def test_bad_file_gives_a_dataset_error(tmp_path: Path) -> None:
    """A file without the handbook's columns is refused with a clear error."""
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="columns"):
        list(read_transactions(bad))
    with pytest.raises(DatasetError, match="cannot read"):
        list(read_transactions(tmp_path / "missing.csv"))
