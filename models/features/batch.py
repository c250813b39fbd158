"""The batch path: every transaction's features at once, with pandas and numpy (for training).

Windows are found with sorted composite keys ``(entity, time)`` and ``searchsorted``; sums and
counts come from prefix sums. Ties in time keep file order, as the incremental path sees them.
The values themselves come from :mod:`models.features.definition`, shared with the stream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.data.handbook import HandbookTransaction
from models.features.definition import (
    CARD_WINDOW_DAYS,
    DAY_SECONDS,
    FEATURE_NAMES,
    LABEL_DELAY_DAYS,
    TERMINAL_WINDOW_DAYS,
    card_window_values,
    is_night,
    is_weekend,
    terminal_window_values,
)

__all__ = ["compute_features", "unlabelled_frame"]

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float64]
_SPAN = np.int64(1 << 34)  # > any time span in seconds; separates entities in composite keys


def _grouped(entity: _Ints, seconds: _Ints) -> tuple[_Ints, _Ints]:
    """Stable order by (entity, time) and the sorted composite keys."""
    order = np.lexsort((np.arange(len(seconds)), seconds, entity))
    keys = entity[order] * _SPAN + (seconds[order] - seconds.min())
    return order, keys


def _card_columns(card: _Ints, seconds: _Ints, amount: _Floats) -> list[_Floats]:
    order, keys = _grouped(card, seconds)
    position = np.arange(len(keys))
    # Prefix sums restart at each card: one long cumulative sum would carry rounding error of
    # the order of the whole data set's total into every window.
    sorted_card = card[order]
    running = pd.Series(amount[order]).groupby(sorted_card).cumsum().to_numpy()
    group_start = np.searchsorted(keys, sorted_card * _SPAN, side="left")
    columns: list[_Floats] = []
    vectorised = np.vectorize(card_window_values, otypes=[float, float])
    for days in CARD_WINDOW_DAYS:
        first = np.searchsorted(keys, keys - days * DAY_SECONDS, side="right")
        count = position - first + 1
        before = np.where(first > group_start, running[np.maximum(first - 1, 0)], 0.0)
        total = running - before
        n, mean = vectorised(count, total)
        for column in (n, mean):
            unsorted = np.empty_like(column)
            unsorted[order] = column
            columns.append(unsorted)
    return columns


def _terminal_columns(terminal: _Ints, seconds: _Ints, fraud: _Ints) -> list[_Floats]:
    order, keys = _grouped(terminal, seconds)
    frauds_before = np.concatenate(([0], np.cumsum(fraud[order])))
    end = keys - LABEL_DELAY_DAYS * DAY_SECONDS
    last = np.searchsorted(keys, end, side="right")
    columns: list[_Floats] = []
    vectorised = np.vectorize(terminal_window_values, otypes=[float, float])
    for days in TERMINAL_WINDOW_DAYS:
        first = np.searchsorted(keys, end - days * DAY_SECONDS, side="right")
        n, risk = vectorised(last - first, frauds_before[last] - frauds_before[first])
        for column in (n, risk):
            unsorted = np.empty_like(column)
            unsorted[order] = column
            columns.append(unsorted)
    return columns


def compute_features(transactions: pd.DataFrame) -> pd.DataFrame:
    """The 15 features of every row of a raw handbook frame (history rows included).

    ``transactions`` has the raw columns (``TX_DATETIME`` parsed or as text). Returns a frame
    indexed like the input with ``TRANSACTION_ID`` and the :data:`FEATURE_NAMES` columns.
    """
    when = pd.to_datetime(transactions["TX_DATETIME"])
    seconds = (when.astype("int64") // 10**9).to_numpy(np.int64)
    card = transactions["CUSTOMER_ID"].to_numpy(np.int64)
    terminal = transactions["TERMINAL_ID"].to_numpy(np.int64)
    amount = transactions["TX_AMOUNT"].to_numpy(np.float64)
    fraud = transactions["TX_FRAUD"].to_numpy(np.int64)
    moments = when.dt.to_pydatetime()
    columns = [
        amount,
        np.fromiter((is_weekend(m) for m in moments), float, len(moments)),
        np.fromiter((is_night(m) for m in moments), float, len(moments)),
        *_card_columns(card, seconds, amount),
        *_terminal_columns(terminal, seconds, fraud),
    ]
    frame = pd.DataFrame(dict(zip(FEATURE_NAMES, columns, strict=True)), index=transactions.index)
    frame.insert(0, "TRANSACTION_ID", transactions["TRANSACTION_ID"].to_numpy())
    return frame


def unlabelled_frame(transactions: list[HandbookTransaction]) -> pd.DataFrame:
    """``transactions`` as a raw frame for :func:`compute_features`, none marked fraud: what a
    gateway that was sent no label computes its features from."""
    return pd.DataFrame(
        {
            "TRANSACTION_ID": [tx.transaction_id for tx in transactions],
            "TX_DATETIME": [tx.timestamp.replace(tzinfo=None) for tx in transactions],
            "CUSTOMER_ID": [tx.card_id for tx in transactions],
            "TERMINAL_ID": [tx.terminal_id for tx in transactions],
            "TX_AMOUNT": [tx.amount for tx in transactions],
            "TX_FRAUD": [0] * len(transactions),
        }
    )
