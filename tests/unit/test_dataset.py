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


def test_each_card_has_one_partner_and_both_get_cards() -> None:
    """The split is a function of the card alone and gives each partner a fair share."""
    rows = list(read_transactions(start=DAY, end=DAY))
    counts = Counter(partner_of(r.card_id, ("alpha", "bravo")) for r in rows)
    assert set(counts) == {"alpha", "bravo"}
    assert 0.4 < counts["alpha"] / len(rows) < 0.6
    assert partner_of(596, ("alpha", "bravo")) == partner_of(596, ("alpha", "bravo"))


def test_bad_file_gives_a_dataset_error(tmp_path: Path) -> None:
    """A file without the handbook's columns is refused with a clear error."""
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="columns"):
        list(read_transactions(bad))
    with pytest.raises(DatasetError, match="cannot read"):
        list(read_transactions(tmp_path / "missing.csv"))
