"""Checks that batch and stream features equal the handbook's golden file.

:func:`replay_incremental` drives the incremental path the way the stream will: transactions in
time order, each fraud label arriving ``LABEL_DELAY_DAYS`` after its transaction.
:func:`check_against_golden` compares any computed frame with the golden file and raises
:class:`FeatureParityError` naming the first mismatches.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from models.data.handbook import GOLDEN_FEATURES_FILE, HandbookTransaction
from models.errors import FeatureParityError
from models.features.definition import DAY_SECONDS, FEATURE_NAMES, LABEL_DELAY_DAYS
from models.features.incremental import CardState, TerminalState, epoch_seconds, features_of

__all__ = ["RELATIVE_TOLERANCE", "check_against_golden", "replay_incremental"]

#: Features must equal the golden values to this relative tolerance. The scale never goes below
#: 1 (one unit of amount): the golden file holds pandas' rolling-sum drift where the exact mean is
#: 0 (e.g. 1.7e-13 for a single transaction of amount 0), which no relative test could accept.
RELATIVE_TOLERANCE = 1e-9


def replay_incremental(transactions: Iterable[HandbookTransaction]) -> pd.DataFrame:
    """Features of every transaction through the incremental path, labels delayed by 7 days."""
    cards: defaultdict[int, CardState] = defaultdict(CardState)
    terminals: defaultdict[int, TerminalState] = defaultdict(TerminalState)
    pending: list[tuple[int, int, int]] = []  # (label available at, tx time, terminal)
    delay = LABEL_DELAY_DAYS * DAY_SECONDS
    ids: list[int] = []
    rows: list[list[float]] = []
    for tx in transactions:
        at = epoch_seconds(tx.timestamp)
        while pending and pending[0][0] <= at:
            _, fraud_at, terminal = heapq.heappop(pending)
            terminals[terminal].add_fraud(fraud_at)
        card_values = cards[tx.card_id].observe(at, tx.amount)
        terminal_values = terminals[tx.terminal_id].observe(at)
        ids.append(tx.transaction_id)
        rows.append(features_of(tx.timestamp, tx.amount, card_values, terminal_values))
        if tx.is_fraud:
            heapq.heappush(pending, (at + delay, at, tx.terminal_id))
    frame = pd.DataFrame(rows, columns=list(FEATURE_NAMES))
    frame.insert(0, "TRANSACTION_ID", ids)
    return frame


def check_against_golden(computed: pd.DataFrame, golden_path: Path = GOLDEN_FEATURES_FILE) -> int:
    """Compare every golden feature of every golden transaction; return how many were compared.

    Raises :class:`FeatureParityError` when a transaction is missing or a value differs.
    """
    golden = pd.read_csv(golden_path)
    merged = golden.merge(computed, on="TRANSACTION_ID", how="left", suffixes=("_gold", ""))
    missing = merged[FEATURE_NAMES[1]].isna()
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
