"""Label windows from counts shared across partners: entity buckets, the sums, a partner's own
vectors, and the window's edges in whole time buckets (batch and stream alike)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.errors import SharedCountsError
from models.features.batch import compute_features, rows_frame
from models.features.contribution import own_counts
from models.features.incremental import EntityPlan, EntityState, StreamFeatures
from models.features.parity import replay_incremental
from models.features.shared import SharedCounts, entity_bucket, entity_buckets, fallback_spans
from models.features.spec import FALLBACK_COLUMN, FeatureSpec, handbook_spec, parse_spec

HOUR, DAY = 3_600, 86_400
#: A transaction exactly on an hour's edge; its hour bucket.
T = 1_530_003_600
H = T // HOUR
TERMINAL = 7
SPEC = parse_spec(
    {
        "spec_version": 1,
        "name": "edges",
        "event": {"terminal_id": {"type": "id"}},
        "features": [
            {
                "kind": "label_window",
                "entity": "terminal_id",
                "days": [1],
                "delay_days": 1,
                "aggregates": ["count", "frauds", "ratio"],
            }
        ],
        "shared_counts": {"entities": ["terminal_id"], "buckets": 256},
    }
)
COLUMNS = [*SPEC.feature_names, FALLBACK_COLUMN]


def vectors(**counts: tuple[int, int]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Dense vectors of 256 entity buckets: ``b<bucket>=(transactions, frauds)``."""
    transactions = np.zeros(256, dtype=np.uint32)
    frauds = np.zeros(256, dtype=np.uint32)
    for name, (tx, fr) in counts.items():
        transactions[int(name[1:])], frauds[int(name[1:])] = tx, fr
    return transactions, frauds


def frame(times: list[int], frauds: set[int], terminal: int = TERMINAL) -> pd.DataFrame:
    """One terminal's transactions at ``times``; those at indexes ``frauds`` are frauds."""
    rows = [
        {
            "transaction_id": i,
            "timestamp": datetime.fromtimestamp(at, tz=UTC),
            "card_id": i,
            "amount": 1.0,
            "terminal_id": terminal,
            "label": int(i in frauds),
        }
        for i, at in enumerate(times)
    ]
    return rows_frame(rows, SPEC)


def both_paths(data: pd.DataFrame, shared: SharedCounts | None, spec: FeatureSpec = SPEC) -> Any:
    """The batch path's values (the last two rows), after checking the stream gives the same."""
    batch = compute_features(data, spec, shared)[COLUMNS].to_numpy(np.float64)
    stream = replay_incremental(data, spec, shared)[COLUMNS].to_numpy(np.float64)
    np.testing.assert_array_equal(batch, stream)
    return batch[-2:].tolist()


#: History around the window of T, [H - 48, H - 24): two transactions (one fraud) a second
#: before it starts, one as it starts, one fraud a second before it ends, one as it ends. Then
#: the transactions at T - 1 (window [H - 49, H - 25)) and at T.
HISTORY = [T - 2 * DAY - 1, T - 2 * DAY - 1, T - 2 * DAY, T - DAY - 1, T - DAY, T - 1, T]
FRAUDS = {0, 3}


def test_an_integer_id_maps_to_its_remainder_anything_else_to_its_hash() -> None:
    """Ints, numpy ints and strings of ASCII digits are ids; other values are hashed."""
    assert entity_bucket(1000, 256) == entity_bucket(np.int64(1000), 256) == 1000 % 256
    assert entity_bucket("1000", 256) == 1000 % 256
    assert entity_bucket(2**63 - 1, 65_536) == (2**63 - 1) % 65_536
    for value in ("grocery", "-5", "1.0", "\u0661\u0662", " 12"):
        digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
        assert entity_bucket(value, 1024) == int.from_bytes(digest, "big") % 1024
    ids = np.array([0, 255, 256, 2**62 + 1], dtype=np.int64)
    assert entity_buckets(ids, 256).tolist() == [0, 255, 0, 1]
    words = np.array(["grocery", "7", "grocery"], dtype=object)
    assert entity_buckets(words, 256).tolist() == [entity_bucket(w, 256) for w in words]


def test_the_window_is_whole_buckets_before_the_one_that_holds_t_minus_the_delay() -> None:
    """At T (an hour's edge) the window is [H - 48, H - 24): the transaction as it starts and
    the one a second before it ends count, not those a second before or as it ends; at T - 1 it
    is one hour earlier. Without sums, all 24 buckets fall back to own counts."""
    at_t_minus_1, at_t = both_paths(frame(HISTORY, FRAUDS), None)
    assert at_t_minus_1 == [3.0, 1.0, 1 / 3, 24.0]
    assert at_t == [2.0, 1.0, 0.5, 24.0]


def test_a_bucket_the_sums_hold_replaces_own_counts_the_others_keep_them() -> None:
    """With H - 48 in the sums, T counts the sums there and its own fraud at H - 25; a present
    all-zero bucket (H - 49) removes T - 1's own transactions there. Each present bucket in the
    window is one fewer fallback bucket."""
    shared = SharedCounts(SPEC.shared_counts)  # type: ignore[arg-type] # the spec has one
    shared.add("terminal_id", H - 48, *vectors(b7=(10, 4), b8=(50, 50)))
    shared.add("terminal_id", H - 49, *vectors())
    at_t_minus_1, at_t = both_paths(frame(HISTORY, FRAUDS), shared)
    assert at_t == [11.0, 5.0, 5 / 11, 23.0]
    assert at_t_minus_1 == [10.0, 4.0, 0.4, 22.0]


def test_values_that_share_an_entity_bucket_read_the_same_sums() -> None:
    """Terminal 263 (= 7 + 256) reads bucket 7's sums, and its own counts elsewhere."""
    shared = SharedCounts(SPEC.shared_counts)  # type: ignore[arg-type] # the spec has one
    shared.add("terminal_id", H - 48, *vectors(b7=(10, 4)))
    _, at_t = both_paths(frame(HISTORY, FRAUDS, terminal=TERMINAL + 256), shared)
    assert at_t == [11.0, 5.0, 5 / 11, 23.0]


def test_adding_sums_and_the_sparse_reads() -> None:
    """Adding to a present bucket sums; reads see present buckets, sorted, sparse."""
    shared = SharedCounts(SPEC.shared_counts)  # type: ignore[arg-type] # the spec has one
    shared.add("terminal_id", 12, *vectors(b1=(2, 1)))
    shared.add("terminal_id", 12, *vectors(b1=(1, 0), b3=(4, 4)))
    shared.add("terminal_id", 5, *vectors())
    assert shared.time_buckets("terminal_id").tolist() == [5, 12]
    assert shared.counts("terminal_id", 12) == {1: (3, 1), 3: (4, 4)}
    assert shared.counts("terminal_id", 5) == shared.counts("terminal_id", 6) == {}
    sums = shared.of("terminal_id", "259")  # an id as a string: 259 % 256 = 3
    assert sums.between(0, 13) == (4, 4)
    assert sums.between(0, 12) == (0, 0)
    assert sums.present_between(5, 12) == 1


@pytest.mark.parametrize(
    ("entity", "time_bucket", "change", "needle"),
    [
        ("channel", 1, {}, "'channel' is not one of the shared entities"),
        ("terminal_id", 2**37, {}, "not an integer within"),
        ("terminal_id", 1, {"transactions": np.zeros(255, dtype=np.int64)}, r"shape \(256,\)"),
        ("terminal_id", 1, {"frauds": np.zeros(256, dtype=np.float64)}, "must hold integers"),
        ("terminal_id", 1, {"frauds": np.full(256, -1, dtype=np.int64)}, "a negative count"),
        ("terminal_id", 1, {"frauds": np.ones(256, dtype=np.int64)}, "more frauds than"),
    ],
)
def test_vectors_that_are_not_counts_of_the_spec_are_refused(
    entity: str, time_bucket: int, change: dict[str, Any], needle: str
) -> None:
    """Wrong entity, time bucket, shape or type, negative counts, more frauds than
    transactions: SharedCountsError, and nothing added."""
    shared = SharedCounts(SPEC.shared_counts)  # type: ignore[arg-type] # the spec has one
    given = {"transactions": np.zeros(256, dtype=np.int64), "frauds": np.zeros(256, np.int64)}
    with pytest.raises(SharedCountsError, match=needle):
        shared.add(entity, time_bucket, **(given | change))
    assert shared.time_buckets("terminal_id").tolist() == []


def test_sums_made_for_other_buckets_or_another_spec_are_refused() -> None:
    """Sums must be made for the spec's own ``[shared_counts]``."""
    other = parse_spec({**SPEC.to_json(), "shared_counts": {"entities": ["terminal_id"]}})
    assert other.shared_counts is not None
    shared = SharedCounts(other.shared_counts)
    data = frame(HISTORY, FRAUDS)
    for spec in (SPEC, handbook_spec()):
        with pytest.raises(SharedCountsError, match="the shared counts were made for"):
            compute_features(data, spec, shared)
        with pytest.raises(SharedCountsError, match="the shared counts were made for"):
            StreamFeatures(spec, shared)


def test_own_counts_are_a_partners_dense_vectors_per_time_bucket() -> None:
    """Transactions and frauds per entity bucket, for every hour from the first to the last,
    or for the hours asked (zero where it had none); none without ``[shared_counts]``."""
    data = frame([T, T + 10, T + HOUR + 5], {1})
    data.loc[2, "terminal_id"] = 300  # bucket 44
    counts = own_counts(data, SPEC)["terminal_id"]
    assert list(counts) == [H, H + 1]
    transactions, frauds = counts[H]
    assert transactions.shape == frauds.shape == (256,)
    assert (transactions[TERMINAL], frauds[TERMINAL]) == (2, 1)
    assert (transactions.sum(), frauds.sum()) == (2, 1)
    assert counts[H + 1][0][44] == 1
    asked = own_counts(data, SPEC, [H - 3, H])["terminal_id"]
    assert list(asked) == [H - 3, H]
    assert asked[H - 3][0].sum() == 0
    with pytest.raises(KeyError):
        asked[H + 1]
    no_labels = own_counts(data.drop(columns="label"), SPEC)["terminal_id"]
    assert no_labels[H][1].sum() == 0
    assert own_counts(data, handbook_spec()) == {}


def test_the_stream_reports_the_fallback_count_on_its_rows_and_keeps_an_hour_more() -> None:
    """The entity's values and the whole vector carry how many buckets fell back; a shared
    entity's state keeps one time bucket more history than its windows' days."""
    features = StreamFeatures(SPEC)
    event = {"transaction_id": 1, "timestamp": datetime.fromtimestamp(T, tz=UTC)}
    event |= {"card_id": 1, "amount": 1.0, "terminal_id": TERMINAL}
    values = features.observe("terminal_id", EntityState(), event)
    assert values.fallback_buckets == 24
    assert features.vector(event, {"terminal_id": values}).fallback_buckets == 24
    plan = EntityPlan.of(SPEC, "terminal_id")
    assert plan.horizon == 2 * DAY + HOUR
    assert plan.spans == fallback_spans(SPEC, "terminal_id") == ((48, 24),)


def test_fallback_spans_merge_the_windows_time_buckets() -> None:
    """Overlapping or touching windows make one span; a gap keeps two."""

    def window(name: str, days: list[int], delay: int) -> dict[str, Any]:
        names = {"count": name + "{days}"}
        return {"kind": "label_window", "entity": "terminal_id", "days": days,
                "delay_days": delay, "aggregates": ["count"], "names": names}  # fmt: skip

    recent, old, between = window("a", [1, 7], 1), window("b", [1], 10), window("c", [2], 8)
    gap = parse_spec({**SPEC.to_json(), "features": [recent, old]})
    touching = parse_spec({**SPEC.to_json(), "features": [recent, old, between]})
    assert fallback_spans(gap, "terminal_id") == ((24 * 11, 24 * 10), (24 * 8, 24))
    assert fallback_spans(touching, "terminal_id") == ((24 * 11, 24),)
