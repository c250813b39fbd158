"""The 15 features of the Fraud Detection Handbook: one definition for batch and stream.

Everything that says *what* a feature is lives here: names and their order, window lengths, the
label delay, and the formulas that turn a window's aggregates into feature values. The batch path
(:mod:`models.features.batch`, pandas/numpy) and the incremental path
(:mod:`models.features.incremental`, pure state updates) only differ in *how* they find the
window's aggregates; both call the functions below for the values.

Windows (times in whole seconds, UTC):
- per card, over ``(t - w, t]`` — the current transaction included — for w in 1, 7, 30 days:
  number of transactions and mean amount;
- per terminal, over ``(t - d - w, t - d]`` with the label delay d = 7 days: number of
  transactions and the share of them that were fraud (0 where there were none).
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "CARD_WINDOW_DAYS",
    "DAY_SECONDS",
    "FEATURE_NAMES",
    "LABEL_DELAY_DAYS",
    "TERMINAL_WINDOW_DAYS",
    "card_window_values",
    "is_night",
    "is_weekend",
    "terminal_window_values",
]

DAY_SECONDS = 86_400
CARD_WINDOW_DAYS = (1, 7, 30)
TERMINAL_WINDOW_DAYS = (1, 7, 30)
LABEL_DELAY_DAYS = 7

#: The model's input columns, in this order everywhere (training, encryption, the golden file).
FEATURE_NAMES: tuple[str, ...] = (
    "TX_AMOUNT",
    "TX_DURING_WEEKEND",
    "TX_DURING_NIGHT",
    *(
        name
        for w in CARD_WINDOW_DAYS
        for name in (f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW", f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW")
    ),
    *(
        name
        for w in TERMINAL_WINDOW_DAYS
        for name in (f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW", f"TERMINAL_ID_RISK_{w}DAY_WINDOW")
    ),
)


def is_weekend(when: datetime) -> float:
    """1.0 on Saturday and Sunday."""
    return 1.0 if when.weekday() >= 5 else 0.0


def is_night(when: datetime) -> float:
    """1.0 from midnight to 06:59 (hour <= 6)."""
    return 1.0 if when.hour <= 6 else 0.0


def card_window_values(count: int, total_amount: float) -> tuple[float, float]:
    """(number of transactions, mean amount) of a card window; it always holds the current one."""
    return float(count), total_amount / count


def terminal_window_values(count: int, frauds: int) -> tuple[float, float]:
    """(number of transactions, fraud ratio) of a delayed terminal window; ratio 0 when empty."""
    return float(count), (frauds / count if count else 0.0)
