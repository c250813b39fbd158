"""Batch and stream follow the same spec: on generated data and random specs, the batch path and
the incremental path give every transaction the same features (not only for the default spec),
with and without counts shared across partners."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.features.batch import compute_features
from models.features.parity import RELATIVE_TOLERANCE, replay_incremental
from models.features.shared import SharedCounts, entity_buckets
from models.features.spec import FALLBACK_COLUMN, FeatureSpec, parse_spec

DAY = 86_400
CATEGORIES = ("grocery", "travel", "online")
EVENT = {
    "terminal_id": {"type": "id"},
    "channel": {"type": "category", "values": list(CATEGORIES), "other": "elsewhere"},
    "risk": {"type": "number", "min": 0, "max": 1},
}
ENTITIES = ("card_id", "terminal_id", "channel")
NUMBERS = ("amount", "risk")
START = 1_530_000_000
#: Terminals: 2**62 and 2**62 + 256 share an entity bucket at 256 buckets.
TERMINALS = np.array([2**62, 2**62 + 1, 2**62 + 2, 2**62 + 256], dtype=np.int64)


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


def _shared_counts(
    draw: st.DrawFn, features: list[dict[str, Any]], always: bool
) -> dict[str, Any] | None:
    """A ``[shared_counts]`` over some of the label-window entities but the card: sometimes, or
    ``always`` (adding a label window, so that an entity often has windows of two delays)."""
    if always:
        entity = draw(st.sampled_from(["terminal_id", "channel"]))
        window: dict[str, Any] = {"kind": "label_window", "entity": entity, "days": draw(_days())}
        window |= {"delay_days": draw(st.integers(1, 5)), "aggregates": ["count", "frauds"]}
        features.append(window)
    candidates = sorted(
        {f["entity"] for f in features if f["kind"] == "label_window"} - {"card_id"}
    )
    if not candidates or not (always or draw(st.booleans())):
        return None
    return {
        "entities": draw(st.lists(st.sampled_from(candidates), min_size=1, unique=True)),
        "bucket_hours": draw(st.sampled_from([1, 2, 3, 4, 6, 8, 12, 24])),
        "buckets": draw(st.sampled_from([256, 1024])),
    }


@st.composite
def specs(draw: st.DrawFn, shared: bool = False) -> FeatureSpec:
    """Random specs; sometimes with ``[shared_counts]``, always with ``shared``."""
    features = draw(st.lists(_feature(), min_size=1, max_size=6))
    shared_counts = _shared_counts(draw, features, shared)
    for index, feature in enumerate(features):  # unique column names
        if feature["kind"] in ("field", "calendar"):
            feature["name"] = f"f{index}"
        elif feature["kind"] == "category":
            feature["prefix"] = f"c{index}"
        else:
            feature["names"] = {a: f"w{index}_{a}_{{days}}" for a in feature["aggregates"]}
    spec = {"spec_version": 1, "name": "random", "event": EVENT, "features": features}
    if shared_counts is not None:
        spec["shared_counts"] = shared_counts
    return parse_spec(spec)


@st.composite
def transactions(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Sorted times over ~40 days: whole hours (ties, and events exactly whole days apart, on
    # a window's edge) and a second either side of them; in half the cases at two hours of the
    # day only, so that whole days apart (and time buckets' edges D days back) are common.
    offsets = rng.choice(np.array([0, 0, 0, 1, 3_599]), size=n)
    hours = (
        rng.integers(0, 40 * 24, size=n)
        if rng.random() < 0.5
        else rng.integers(0, 40, size=n) * 24 + rng.choice(np.array([0, 13]), size=n)
    )
    hours = np.sort(hours * 3_600 + offsets) + START
    channels = np.array([*CATEGORIES, "atm", "phone"], dtype=object)
    return pd.DataFrame(
        {
            "transaction_id": np.arange(n, dtype=np.int64),
            "timestamp": pd.to_datetime(hours, unit="s", utc=True),
            "card_id": rng.integers(0, 4, size=n).astype(np.int64),
            "amount": np.round(rng.gamma(2.0, 30.0, size=n), 2),
            "label": (rng.random(n) < 0.2).astype(np.int64),
            "terminal_id": TERMINALS[rng.integers(0, len(TERMINALS), size=n)],
            "channel": channels[rng.integers(0, len(channels), size=n)],
            "risk": rng.random(n),
        }
    )


def random_sums(spec: FeatureSpec, data: pd.DataFrame, seed: int) -> SharedCounts | None:
    """Sums over a random share of the time buckets the data and its windows reach (sometimes
    none, sometimes all), at the data's own entity buckets (colliding ones included) and others."""
    config = spec.shared_counts
    if config is None:
        return None
    rng = np.random.default_rng(seed)
    shared = SharedCounts(config)
    size = config.bucket_seconds
    first, last = (START - 20 * DAY) // size, (START + 41 * DAY) // size
    for entity in config.entities:
        values = data[entity].to_numpy()
        if entity == "channel":  # kept by bucket: unknown values are `elsewhere`
            values = np.where(np.isin(values, CATEGORIES), values, "elsewhere")
        seen = np.unique(entity_buckets(values, config.buckets))
        share = rng.choice([0.0, 0.3, 0.8, 1.0])
        for time_bucket in range(first, last + 1):
            if rng.random() >= share:
                continue
            at = np.concatenate((seen, rng.integers(0, config.buckets, size=2)))
            dtype = np.uint32 if rng.random() < 0.5 else np.int64
            transactions: npt.NDArray[np.integer[Any]] = np.zeros(config.buckets, dtype=dtype)
            transactions[at] = rng.integers(0, 4, size=len(at))
            frauds = rng.binomial(transactions.astype(np.int64), 0.3).astype(transactions.dtype)
            shared.add(entity, time_bucket, transactions, frauds)
    return shared


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), data=transactions(), seed=st.integers(0, 2**32 - 1))
def test_batch_and_stream_agree_on_random_specs(
    spec: FeatureSpec, data: pd.DataFrame, seed: int
) -> None:
    """Every feature of every transaction is equal (to 1e-9 relative) in batch and stream, and
    with shared counts, so is the number of time buckets that fell back to own counts."""
    assert_batch_equals_stream(spec, data, random_sums(spec, data, seed))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(shared=True), data=transactions(), seed=st.integers(0, 2**32 - 1))
def test_batch_and_stream_agree_with_shared_counts(
    spec: FeatureSpec, data: pd.DataFrame, seed: int
) -> None:
    """The same with ``[shared_counts]`` always there and random sums over a random share of
    the time buckets (colliding entity buckets included)."""
    assert_batch_equals_stream(spec, data, random_sums(spec, data, seed))


def assert_batch_equals_stream(
    spec: FeatureSpec, data: pd.DataFrame, shared: SharedCounts | None
) -> None:
    batch = compute_features(data, spec, shared)
    stream = replay_incremental(data, spec, shared)
    fallback = [FALLBACK_COLUMN] if spec.shared_counts is not None else []
    assert list(batch.columns) == ["transaction_id", *spec.feature_names, *fallback]
    assert list(stream.columns) == list(batch.columns)
    assert (batch[fallback].to_numpy() == stream[fallback].to_numpy()).all()
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
