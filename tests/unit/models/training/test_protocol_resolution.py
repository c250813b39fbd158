"""The protocol from options or from the data: the bundled data resolves to the handbook's
split; what does not fit, or holds too few frauds, is refused with the numbers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from models.errors import DatasetError
from models.training.protocol import MIN_FRAUDS, Protocol, Split, check_frauds, resolve_protocol


def test_the_bundled_data_resolves_to_the_handbooks_split() -> None:
    """The bundled days 2018-06-18..2018-08-14 give train 07-25..31, test 08-08..14."""
    protocol = resolve_protocol(date(2018, 6, 18), date(2018, 8, 14))
    assert protocol == Protocol()


def test_an_incomplete_last_day_is_left_out_and_options_win() -> None:
    protocol = resolve_protocol(date(2018, 6, 18), date(2018, 8, 15), last_day_complete=False)
    assert protocol.test_end == date(2018, 8, 14)
    chosen = resolve_protocol(
        date(2018, 6, 18), date(2018, 8, 14), train_start=date(2018, 7, 4), test_days=3
    )
    assert (chosen.train_end, chosen.test_start, chosen.test_end) == (
        date(2018, 7, 10),
        date(2018, 7, 18),
        date(2018, 7, 20),
    )


def test_a_protocol_that_does_not_fit_in_the_data_is_refused() -> None:
    with pytest.raises(DatasetError, match=r"does not fit in the data, which holds 2018-08-01"):
        resolve_protocol(date(2018, 8, 1), date(2018, 8, 14))
    with pytest.raises(DatasetError, match="at least a day"):
        resolve_protocol(date(2018, 6, 1), date(2018, 8, 14), test_days=0)


def test_too_few_frauds_to_fit_or_to_assess_say_how_many() -> None:
    def rows(frauds: int) -> pd.DataFrame:
        return pd.DataFrame({"label": [1] * frauds + [0] * 10})

    protocol = Protocol()
    with pytest.raises(DatasetError, match=r"holds 12 transactions with 2 frauds.*fit a model"):
        check_frauds(Split(rows(2), rows(MIN_FRAUDS)), protocol)
    with pytest.raises(DatasetError, match=r"with 1 fraud \(cards already known.*assess one"):
        check_frauds(Split(rows(MIN_FRAUDS), rows(1)), protocol)
    check_frauds(Split(rows(MIN_FRAUDS), rows(MIN_FRAUDS)), protocol)
