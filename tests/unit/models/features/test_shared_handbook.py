"""The handbook-shared spec on the bundled transactions: sums equal to the global counts give the
"global" hour-aligned terminal features, and a partner's batch and stream paths agree when the
sums come from the other partner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.data.handbook import TRANSACTIONS_FILE
from models.data.sources import read_transactions_data
from models.features.batch import compute_features, epoch_seconds_of
from models.features.contribution import own_counts
from models.features.parity import RELATIVE_TOLERANCE, replay_incremental
from models.features.shared import SharedCounts
from models.features.spec import FALLBACK_COLUMN, handbook_spec, shared_handbook_spec

SPEC = shared_handbook_spec()
NAMES = list(SPEC.feature_names)
TERMINAL = [name for name in NAMES if name.startswith("TERMINAL_ID")]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return read_transactions_data([TRANSACTIONS_FILE], SPEC).frame


def global_sums(frame: pd.DataFrame) -> SharedCounts:
    """Sums of every hour from the frame's first to its last: its own counts, as if it were
    every partner's traffic."""
    assert SPEC.shared_counts is not None
    shared = SharedCounts(SPEC.shared_counts)
    shared.add_all(own_counts(frame, SPEC))
    return shared


@pytest.mark.slow
def test_sums_equal_to_the_global_counts_give_the_global_hour_aligned_features(
    data: pd.DataFrame,
) -> None:
    """With the whole frame's counts as sums, every row's features equal the bucketed windows
    of the whole frame's own counts; only hours before the data fall back; the card features
    are the handbook's; and a sample of rows matches a direct count by (terminal, hour)."""
    with_sums = compute_features(data, SPEC, global_sums(data))
    own_only = compute_features(data, SPEC)
    pd.testing.assert_frame_equal(with_sums[NAMES], own_only[NAMES])
    plain = compute_features(data, handbook_spec())
    others = [name for name in NAMES if name not in TERMINAL]
    pd.testing.assert_frame_equal(with_sums[others], plain[others])

    hours = epoch_seconds_of(data["timestamp"]) // 3600
    first = int(hours.min())  # the spans are [h - 888, h - 168): 30 days ending 7 days back
    before_data = np.clip(np.minimum(hours - 168, first) - (hours - 888), 0, None)
    assert (with_sums[FALLBACK_COLUMN].to_numpy() == before_data).all()
    assert (own_only[FALLBACK_COLUMN] == 720).all()

    by_hour = (
        pd.DataFrame({"terminal": data["terminal_id"], "hour": hours, "label": data["label"]})
        .groupby(["terminal", "hour"])["label"]
        .agg(["size", "sum"])
    )
    rng = np.random.default_rng(7)
    for row in rng.choice(len(data), size=300, replace=False):
        terminal, hour = int(data["terminal_id"].iloc[row]), int(hours[row])
        for days in (1, 7, 30):
            rows = by_hour.loc[terminal]
            window = rows[(rows.index >= hour - 24 * (7 + days)) & (rows.index < hour - 168)]
            count, frauds = int(window["size"].sum()), int(window["sum"].sum())
            found = with_sums.iloc[row]
            assert found[f"TERMINAL_ID_NB_TX_{days}DAY_WINDOW"] == count
            assert found[f"TERMINAL_ID_RISK_{days}DAY_WINDOW"] == (frauds / count if count else 0)


@pytest.mark.slow
def test_a_partner_with_the_other_partners_sums_gets_the_same_features_in_batch_and_stream(
    data: pd.DataFrame,
) -> None:
    """Cards split between two partners: one's sums, for two hours in three, feed the other's
    terminal windows (300 terminals); batch and stream agree on every feature and fallback."""
    few = data[data["terminal_id"] < 300]
    mine, theirs = few[few["card_id"] % 2 == 1], few[few["card_id"] % 2 == 0]
    assert SPEC.shared_counts is not None
    shared = SharedCounts(SPEC.shared_counts)
    counts = own_counts(theirs, SPEC)["terminal_id"]
    shared.add_all({"terminal_id": {hour: counts[hour] for hour in counts if hour % 3}})
    batch = compute_features(mine, SPEC, shared)
    stream = replay_incremental(mine, SPEC, shared)
    assert (batch[FALLBACK_COLUMN] == stream[FALLBACK_COLUMN]).all()
    assert batch[FALLBACK_COLUMN].between(240, 720).all()
    expected, actual = batch[NAMES].to_numpy(np.float64), stream[NAMES].to_numpy(np.float64)
    scale = np.maximum(np.maximum(np.abs(expected), np.abs(actual)), 1.0)
    assert (np.abs(actual - expected) <= RELATIVE_TOLERANCE * scale).all()
