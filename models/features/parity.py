"""Checks that batch and stream features agree, and equal the handbook's golden file.

:func:`replay_incremental` drives the incremental path the way the stream does: transactions in
time order, each fraud label arriving the spec's label delay after its transaction.
:func:`check_against_golden` compares any computed frame with the golden file and raises
:class:`FeatureParityError` naming the first mismatches.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.data.handbook import GOLDEN_FEATURES_FILE
from models.errors import FeatureParityError
from models.features.incremental import EntityState, FeatureRow, StreamFeatures, epoch_seconds
from models.features.shared import SharedCounts
from models.features.spec import DAY_SECONDS, FALLBACK_COLUMN, FeatureSpec

__all__ = ["RELATIVE_TOLERANCE", "check_against_golden", "replay_incremental"]

#: Features must equal the golden values to this relative tolerance. The scale never goes below
#: 1 (one unit of amount): the golden file holds pandas' rolling-sum drift where the exact mean is
#: 0 (e.g. 1.7e-13 for a single transaction of amount 0), which no relative test could accept.
RELATIVE_TOLERANCE = 1e-9


def replay_incremental(
    data: pd.DataFrame, spec: FeatureSpec, shared: SharedCounts | None = None
) -> pd.DataFrame:
    """Features of every row of a canonical frame through the incremental path, in row order,
    each fraud's label arriving ``spec.label_delay_days`` after its transaction: the columns of
    :func:`models.features.batch.compute_features`, the fallback column included."""
    features = StreamFeatures(spec, shared)
    states: defaultdict[str, EntityState] = defaultdict(EntityState)
    pending: list[tuple[int, int, int]] = []  # (label known at, tx time, row)
    delay = (spec.label_delay_days or 0) * DAY_SECONDS
    events: list[dict[str, Any]] = data.to_dict("records")  # type: ignore[assignment]
    rows: list[FeatureRow] = []
    for row, event in enumerate(events):
        event["timestamp"] = event["timestamp"].to_pydatetime()
        at = epoch_seconds(event["timestamp"])
        while pending and pending[0][0] <= at:
            _, fraud_at, fraud_row = heapq.heappop(pending)
            for entity in spec.label_entities:
                states[features.state_key(entity, events[fraud_row])].add_fraud(
                    fraud_at, int(events[fraud_row]["transaction_id"])
                )
        windows = {
            entity: features.observe(entity, states[features.state_key(entity, event)], event)
            for entity in features.entities
        }
        rows.append(features.vector(event, windows))
        if event.get("label"):
            heapq.heappush(pending, (at + delay, at, row))
    frame = pd.DataFrame(rows, columns=list(spec.feature_names), index=data.index)
    frame.insert(0, "transaction_id", data["transaction_id"].to_numpy())
    if spec.shared_counts is not None:
        frame[FALLBACK_COLUMN] = np.array([row.fallback_buckets for row in rows], dtype=np.int64)
    return frame


def check_against_golden(computed: pd.DataFrame, golden_path: Path = GOLDEN_FEATURES_FILE) -> int:
    """Compare every golden feature of every golden transaction; return how many were compared.

    Raises :class:`FeatureParityError` when a transaction is missing or a value differs.
    """
    golden = pd.read_csv(golden_path)
    computed = computed.rename(columns={"transaction_id": "TRANSACTION_ID"})
    merged = golden.merge(computed, on="TRANSACTION_ID", how="left", suffixes=("_gold", ""))
    missing = merged[golden.columns[1]].isna()
    if missing.any():
        first = merged.loc[missing, "TRANSACTION_ID"].head(5).tolist()
        msg = f"{int(missing.sum())} golden transactions have no computed features, e.g. {first}"
        raise FeatureParityError(msg)
    problems: list[str] = []
    compared = 0
    for name in golden.columns[1:]:
        expected = merged[f"{name}_gold"].to_numpy(np.float64)
        actual = merged[name].to_numpy(np.float64)
        scale = np.maximum(np.maximum(np.abs(expected), np.abs(actual)), 1.0)
        wrong = np.abs(actual - expected) > RELATIVE_TOLERANCE * scale
        compared += len(expected)
        for row in np.flatnonzero(wrong)[:3]:
            problems.append(
                f"{name} of transaction {merged['TRANSACTION_ID'].iloc[row]}: "
                f"computed {actual[row]!r}, golden {expected[row]!r}"
            )
        if wrong.any():
            problems.append(f"{name}: {int(wrong.sum())} mismatches in all")
    if problems:
        msg = "features differ from the golden file:\n" + "\n".join(problems)
        raise FeatureParityError(msg)
    return compared
