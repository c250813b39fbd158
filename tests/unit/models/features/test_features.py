"""The handbook's features from the default spec: batch and incremental paths against the
golden file, and the per-entity state."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from models.data.handbook import TRANSACTIONS_FILE
from models.data.sources import read_transactions_data
from models.errors import EventTimeError, FeatureParityError
from models.features.batch import compute_features
from models.features.incremental import EntityPlan, EntityState
from models.features.parity import check_against_golden, replay_incremental
from models.features.spec import handbook_spec

DAY = 86_400
SPEC = handbook_spec()
FEATURE_NAMES = SPEC.feature_names
CARD = EntityPlan.of(SPEC, "card_id")
TERMINAL = EntityPlan.of(SPEC, "terminal_id")


class CardState(EntityState):
    """A card's state under the handbook's spec (count and mean amount over 1, 7, 30 days)."""

    def see(self, at: int, amount: float, transaction_id: int | None = None) -> list[float]:
        return self.observe(at, {"amount": amount}, CARD, transaction_id=transaction_id)


class TerminalState(EntityState):
    """A terminal's state under the handbook's spec (delayed count and fraud ratio)."""

    def see(self, at: int, transaction_id: int | None = None) -> list[float]:
        return self.observe(at, {}, TERMINAL, transaction_id=transaction_id)


@pytest.fixture(scope="module")
def handbook_data() -> pd.DataFrame:
    return read_transactions_data([TRANSACTIONS_FILE], SPEC).frame


@pytest.fixture(scope="module")
def batch_features(handbook_data: pd.DataFrame) -> pd.DataFrame:
    return compute_features(handbook_data, SPEC)


@pytest.mark.slow
def test_batch_path_reproduces_the_golden_file(batch_features: pd.DataFrame) -> None:
    """Every feature of every one of the 201,295 golden transactions, within 1e-9 relative."""
    assert check_against_golden(batch_features) == 201_295 * 14


@pytest.mark.slow
def test_incremental_path_reproduces_the_golden_file(handbook_data: pd.DataFrame) -> None:
    """The stream's path, one event at a time with labels 7 days late, gives the same values."""
    assert check_against_golden(replay_incremental(handbook_data, SPEC)) == 201_295 * 14


def test_a_mismatch_fails_loudly(batch_features: pd.DataFrame) -> None:
    """A single wrong value is reported with the feature, the transaction and both values."""
    broken = batch_features.copy()
    row = broken.index[broken["transaction_id"] == 1102483][0]
    broken.loc[row, "TERMINAL_ID_RISK_7DAY_WINDOW"] += 1e-6
    with pytest.raises(FeatureParityError, match="TERMINAL_ID_RISK_7DAY_WINDOW of transaction"):
        check_against_golden(broken)


def test_missing_transactions_fail_loudly(batch_features: pd.DataFrame) -> None:
    """A golden transaction without computed features is an error, not a silent skip."""
    with pytest.raises(FeatureParityError, match="have no computed features"):
        check_against_golden(batch_features.iloc[:-10])


def test_card_windows_include_the_current_transaction_and_drop_old_ones() -> None:
    """Card windows are (t - w, t]: the current one in, one exactly w days old out."""
    state = CardState()
    state.see(0, 10.0)
    state.see(DAY - 1, 20.0)
    values = state.see(DAY, 30.0)  # the first is exactly one day old: out of the 1-day window
    assert values[:2] == [2.0, 25.0]
    assert values[2:4] == [3.0, 20.0]


def test_terminal_windows_are_delayed_and_count_only_known_frauds() -> None:
    """Terminal windows end 7 days before the transaction; risk counts the frauds reported."""
    state = TerminalState()
    state.see(0)
    state.see(3600)
    state.add_fraud(3600)
    assert state.see(7 * DAY - 1)[:2] == [0.0, 0.0]  # nothing 7 days old yet
    assert state.see(7 * DAY + 3600)[:2] == [2.0, 0.5]


def test_states_survive_a_json_round_trip() -> None:
    """Table values serialise to JSON-ready lists and come back equal."""
    card, terminal = CardState(), TerminalState()
    card.see(5, 1.5)
    terminal.see(5)
    terminal.add_fraud(5)
    card.see(6, 2.5, transaction_id=42)
    for state in (card, terminal):
        assert EntityState.from_json(state.to_json()) == EntityState(
            state.times, state.values, state.fraud_times, state.ids, state.fraud_ids
        )
    assert card.ids == [None, 42]
    # A state kept before ids were: its entries have no id, and it reads as before.
    old = {"t": [5], "v": {"amount": [1.5]}, "f": []}
    assert EntityState.from_json(old) == EntityState([5], {"amount": [1.5]}, [], [None], [])


def test_a_transaction_or_label_seen_twice_counts_once_and_gets_its_first_values() -> None:
    """At-least-once delivery: transaction 7 processed again after others came gets the values
    it got the first time and is not counted twice; a label seen twice is one fraud."""
    card = CardState()
    card.see(100, 10.0, transaction_id=1)
    first = card.see(200, 20.0, transaction_id=7)
    card.see(300, 40.0, transaction_id=9)
    assert card.see(200, 20.0, transaction_id=7) == first
    assert card.times == [100, 200, 300]
    assert card.see(400, 1.0, transaction_id=10)[:2] == [4.0, 17.75]
    terminal = TerminalState()
    terminal.see(0, transaction_id=1)
    terminal.see(3600, transaction_id=2)
    terminal.add_fraud(3600, transaction_id=2)
    terminal.add_fraud(3600, transaction_id=2)
    assert terminal.see(7 * DAY + 3600, transaction_id=3)[:2] == [2.0, 0.5]


def test_feature_names_are_the_handbooks_fifteen() -> None:
    """Fifteen features, amount first, terminal risk last."""
    assert len(FEATURE_NAMES) == 15
    assert SPEC.entities == ("card_id", "terminal_id")
    assert FEATURE_NAMES[0] == "TX_AMOUNT"
    assert FEATURE_NAMES[-1] == "TERMINAL_ID_RISK_30DAY_WINDOW"
    assert datetime(2018, 8, 8, tzinfo=UTC).weekday() == 2


def test_a_late_card_event_gets_the_features_it_would_have_had_in_order() -> None:
    """Out-of-order arrival does not corrupt the card's windows."""
    in_order, late = CardState(), CardState()
    in_order.see(0, 10.0)
    expected = in_order.see(3600, 20.0)
    in_order.see(7200, 30.0)
    late.see(0, 10.0)
    late.see(7200, 30.0)
    assert late.see(3600, 20.0) == expected
    assert late.times == [0, 3600, 7200]


@pytest.mark.slow
def test_per_partner_features_keep_card_features_and_split_terminal_traffic() -> None:
    """Computed per partner, card features are unchanged (a card has one partner) and terminal
    counts see only that partner's share of each terminal."""
    from models.training.fitting import load_protocol_data  # noqa: PLC0415

    shared = load_protocol_data().split.test
    split = load_protocol_data(partners=("alpha", "bravo")).split.test
    card_columns = [name for name in FEATURE_NAMES if name.startswith("CUSTOMER_ID")]
    pd.testing.assert_frame_equal(shared[card_columns], split[card_columns])
    terminal = "TERMINAL_ID_NB_TX_30DAY_WINDOW"
    assert (split[terminal] <= shared[terminal]).all()
    assert split[terminal].sum() < 0.6 * shared[terminal].sum()


def test_a_terminal_transaction_up_to_a_day_late_gets_the_features_of_its_time() -> None:
    """A terminal's transactions come from every card partition, so a later one may be handled
    first: pruning must not drop the history the earlier one still counts."""
    day = 86_400
    history = [i * 3_600 for i in range(40 * 24)]  # one transaction an hour for 40 days
    early, late = history[-1] + 600, history[-1] + 600 + 20 * 3_600

    def features_of_early(order: list[int]) -> list[float]:
        state = TerminalState()
        for at in history:
            state.see(at)
        found = {at: state.see(at) for at in order}
        return found[early]

    assert features_of_early([early, late]) == features_of_early([late, early])
    assert late - early < day


def test_one_event_dated_far_ahead_wipes_no_history_and_silences_nothing() -> None:
    """A single event dated years ahead is placed, but it prunes no card or terminal history
    (fraud history included) and makes no later real event late: they get the features they
    would have had without it."""
    day = 86_400
    history = [i * 3_600 for i in range(20 * 24)]
    far = 8_000 * 365 * day

    def run(outlier: bool) -> tuple[list[list[float]], list[list[float]], TerminalState]:
        card, terminal = CardState(), TerminalState()
        for at in history:
            card.see(at, 10.0)
            terminal.see(at)
        terminal.add_fraud(history[10])
        if outlier:
            card.see(far, 99.0)
            terminal.see(far)
        later = [history[-1] + i * 3_600 for i in range(1, 5 * 24)]
        cards = [card.see(at, 10.0) for at in later]
        terminals = [terminal.see(at) for at in later]
        return cards, terminals, terminal

    with_outlier, without = run(outlier=True), run(outlier=False)
    assert with_outlier[:2] == without[:2]
    assert with_outlier[2].fraud_times == [history[10]]
    assert any(values[5] > 0 for values in with_outlier[1])  # the fraud still counts (30 days)


def test_a_card_event_behind_its_state_by_more_than_a_day_is_refused_a_terminal_one_counted() -> (
    None
):
    """A card's event whose windows its state no longer holds raises EventTimeError naming the
    rule and changes nothing; a terminal, fed by every card partition at its own pace, counts
    such an event (without a division by zero) and loses none of its newer history."""
    day = 86_400
    card, terminal = CardState(), TerminalState()
    for at in range(0, 60 * day, 3_600):
        card.see(at, 10.0)
        terminal.see(at)
    card_before, terminal_before = card.to_json(), terminal.to_json()
    with pytest.raises(EventTimeError, match="behind the card_id's newest"):
        card.see(40 * day, 1.0)
    assert card.to_json() == card_before
    assert len(terminal.see(40 * day)) == 6
    assert set(terminal_before["t"]) <= set(terminal.times)
    card.see(60 * day - 23 * 3_600, 1.0)  # less than a day late: placed
