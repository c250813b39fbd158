"""Batch and stream follow the same spec: on generated data and random specs, the batch path and
the incremental path give every transaction the same features (not only for the default spec)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.features.batch import compute_features
from models.features.parity import RELATIVE_TOLERANCE, replay_incremental
from models.features.spec import FeatureSpec, parse_spec

DAY = 86_400
CATEGORIES = ("grocery", "travel", "online")
EVENT = {
    "terminal_id": {"type": "id"},
    "channel": {"type": "category", "values": list(CATEGORIES), "other": "elsewhere"},
    "risk": {"type": "number", "min": 0, "max": 1},
}
ENTITIES = ("card_id", "terminal_id", "channel")
NUMBERS = ("amount", "risk")


def _days() -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True)


def _feature() -> st.SearchStrategy[dict[str, Any]]:
    window = st.fixed_dictionaries(
        {
            "kind": st.just("window"),
            "entity": st.sampled_from(ENTITIES),
            "days": _days(),
            "aggregates": st.lists(
                st.sampled_from(["count", "sum", "mean"]), min_size=1, max_size=3, unique=True
            ),
            "of": st.sampled_from(NUMBERS),
            "include_current": st.booleans(),
        }
    )
    label_window = st.fixed_dictionaries(
        {
            "kind": st.just("label_window"),
            "entity": st.sampled_from(ENTITIES),
            "days": _days(),
            "delay_days": st.integers(1, 5),
            "aggregates": st.lists(
                st.sampled_from(["count", "frauds", "ratio"]), min_size=1, max_size=3, unique=True
            ),
        }
    )
    calendar = st.fixed_dictionaries(
        {
            "kind": st.just("calendar"),
            "flag": st.sampled_from(["weekend", "night"]),
            "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]),
            "hours": st.tuples(st.integers(0, 23), st.integers(0, 23)).map(list),
        }
    )
    plain = st.one_of(
        st.fixed_dictionaries({"kind": st.just("field"), "field": st.sampled_from(NUMBERS)}),
        st.fixed_dictionaries({"kind": st.just("category"), "field": st.just("channel")}),
    )
    return st.one_of(window, label_window, calendar, plain)


@st.composite
def specs(draw: st.DrawFn) -> FeatureSpec:
    features = draw(st.lists(_feature(), min_size=1, max_size=6))
    for index, feature in enumerate(features):  # unique column names
        if feature["kind"] in ("field", "calendar"):
            feature["name"] = f"f{index}"
        elif feature["kind"] == "category":
            feature["prefix"] = f"c{index}"
        else:
            feature["names"] = {a: f"w{index}_{a}_{{days}}" for a in feature["aggregates"]}
    return parse_spec({"spec_version": 1, "name": "random", "event": EVENT, "features": features})


@st.composite
def transactions(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Sorted times over ~40 days: whole hours (ties, and events exactly whole days apart, on
    # a window's edge) and a second either side of them.
    offsets = rng.choice(np.array([0, 0, 0, 1, 3_599]), size=n)
    hours = np.sort(rng.integers(0, 40 * 24, size=n) * 3_600 + offsets) + 1_530_000_000
    channels = np.array([*CATEGORIES, "atm", "phone"], dtype=object)
    return pd.DataFrame(
        {
            "transaction_id": np.arange(n, dtype=np.int64),
            "timestamp": pd.to_datetime(hours, unit="s", utc=True),
            "card_id": rng.integers(0, 4, size=n).astype(np.int64),
            "amount": np.round(rng.gamma(2.0, 30.0, size=n), 2),
            "label": (rng.random(n) < 0.2).astype(np.int64),
            "terminal_id": rng.integers(2**62, 2**62 + 3, size=n).astype(np.int64),
            "channel": channels[rng.integers(0, len(channels), size=n)],
            "risk": rng.random(n),
        }
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), data=transactions())
def test_batch_and_stream_agree_on_random_specs(spec: FeatureSpec, data: pd.DataFrame) -> None:
    batch = compute_features(data, spec)
    stream = replay_incremental(data, spec)
    assert list(batch.columns) == ["transaction_id", *spec.feature_names]
    expected = batch[list(spec.feature_names)].to_numpy(np.float64)
    actual = stream[list(spec.feature_names)].to_numpy(np.float64)
    scale = np.maximum(np.maximum(np.abs(expected), np.abs(actual)), 1.0)
    assert np.all(np.abs(actual - expected) <= RELATIVE_TOLERANCE * scale), (
        f"{spec.feature_names}\nbatch={expected}\nstream={actual}"
    )


@settings(max_examples=5, deadline=None)
@given(data=transactions())
def test_a_spec_without_windows_is_stateless(data: pd.DataFrame) -> None:
    """No window at all is valid: the event's own fields, nothing kept."""
    spec = parse_spec(
        {
            "spec_version": 1,
            "name": "stateless",
            "event": EVENT,
            "features": [
                {"kind": "field", "field": "amount"},
                {"kind": "category", "field": "channel"},
            ],
        }
    )
    assert spec.entities == ()
    batch = compute_features(data, spec)
    assert list(batch.columns)[1:] == [
        "amount",
        "channel=grocery",
        "channel=travel",
        "channel=online",
        "channel=elsewhere",
    ]
    assert (batch.iloc[:, 2:].sum(axis=1) == 1).all()  # exactly one bucket per transaction
