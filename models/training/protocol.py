"""The handbook's assessment protocol: the split, and the three metrics.

Split: train on 2018-07-25..31, leave 2018-08-01..07 as the label delay, test on 2018-08-08..14.
A card found compromised is removed from the test days after it becomes known: the frauds of the
training week are known from the start, and each test day k also knows the frauds of the days up
to k days into the delay week (labels arrive a week late).
Metrics: AUC ROC, average precision, and card precision top-k (per day, the share of truly
compromised cards among the k cards with the highest score that day, averaged over days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from models.errors import DatasetError

__all__ = [
    "PROTOCOL",
    "Metrics",
    "Protocol",
    "Split",
    "card_precision_top_k",
    "handbook_split",
    "score_metrics",
]


@dataclass(frozen=True)
class Protocol:
    """The dates of a train / delay / test protocol."""

    train_start: date = date(2018, 7, 25)
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7

    @property
    def train_end(self) -> date:
        """Last training day."""
        return self.train_start + timedelta(days=self.train_days - 1)

    @property
    def test_start(self) -> date:
        """First test day."""
        return self.train_end + timedelta(days=self.delay_days + 1)

    @property
    def test_end(self) -> date:
        """Last test day."""
        return self.test_start + timedelta(days=self.test_days - 1)


PROTOCOL = Protocol()


@dataclass(frozen=True)
class Split:
    """Row selections of a frame with ``DAY``, ``CUSTOMER_ID`` and ``TX_FRAUD`` columns."""

    train: pd.DataFrame
    test: pd.DataFrame


def handbook_split(frame: pd.DataFrame, protocol: Protocol = PROTOCOL) -> Split:
    """Split ``frame`` (features with ``DAY`` as ``date``, card and label) by the protocol."""
    for column in ("DAY", "CUSTOMER_ID", "TX_FRAUD"):
        if column not in frame:
            msg = f"the frame needs a {column} column to be split"
            raise DatasetError(msg)
    day = frame["DAY"]
    train = frame[(day >= protocol.train_start) & (day <= protocol.train_end)]
    known = set(train.loc[train["TX_FRAUD"] == 1, "CUSTOMER_ID"])
    tests = []
    for k in range(protocol.test_days):
        test_day = protocol.test_start + timedelta(days=k)
        # Frauds of the day the delay puts just behind this test day are known by now.
        newly_known_day = protocol.train_end + timedelta(days=k)
        newly = frame[(day == newly_known_day) & (frame["TX_FRAUD"] == 1)]
        known |= set(newly["CUSTOMER_ID"])
        today = frame[day == test_day]
        tests.append(today[~today["CUSTOMER_ID"].isin(known)])
    test = pd.concat(tests)
    if train.empty or test.empty:
        msg = f"no rows for the protocol {protocol}: is the data range right?"
        raise DatasetError(msg)
    return Split(train=train, test=test)


def card_precision_top_k(test: pd.DataFrame, scores: npt.ArrayLike, k: int = 100) -> float:
    """Per day, the share of compromised cards among the k best-scored cards; mean over days.

    As in the handbook, a card found compromised in a day's top k is known from then on and
    left out of the following days' rankings (an investigator does not check it twice).
    """
    frame = pd.DataFrame(
        {
            "DAY": test["DAY"].to_numpy(),
            "CUSTOMER_ID": test["CUSTOMER_ID"].to_numpy(),
            "TX_FRAUD": test["TX_FRAUD"].to_numpy(),
            "SCORE": np.asarray(scores, dtype=np.float64),
        }
    )
    per_card = frame.groupby(["DAY", "CUSTOMER_ID"], sort=False).max().reset_index()
    detected: set[int] = set()
    precisions = []
    for _, cards in per_card.groupby("DAY", sort=True):
        candidates = cards[~cards["CUSTOMER_ID"].isin(detected)]
        top = candidates.sort_values("SCORE", ascending=False, kind="stable").head(k)
        found = top.loc[top["TX_FRAUD"] == 1, "CUSTOMER_ID"]
        precisions.append(len(found) / k)
        detected |= set(found.tolist())
    return float(np.mean(precisions))


@dataclass(frozen=True)
class Metrics:
    """The protocol's three numbers for one model on one test set."""

    auc_roc: float
    average_precision: float
    card_precision_100: float
    n_transactions: int
    n_frauds: int


def score_metrics(test: pd.DataFrame, scores: npt.ArrayLike) -> Metrics:
    """AUC ROC, average precision and card precision top-100 of ``scores`` on ``test``."""
    labels = test["TX_FRAUD"].to_numpy()
    values = np.asarray(scores, dtype=np.float64)
    return Metrics(
        auc_roc=float(roc_auc_score(labels, values)),
        average_precision=float(average_precision_score(labels, values)),
        card_precision_100=card_precision_top_k(test, values, 100),
        n_transactions=len(labels),
        n_frauds=int(labels.sum()),
    )
