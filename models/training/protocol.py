"""The assessment protocol: the split, and the three metrics.

Split: train for ``train_days`` from ``train_start``, leave ``delay_days`` as the label delay, test
for ``test_days``. :func:`resolve_protocol` fills what is not given from the data: by default the
test days are the last complete week the data holds, with the delay and the training week before
them; on the bundled data that is the handbook's split (train on 2018-07-25..31, leave
2018-08-01..07 as the label delay, test on 2018-08-08..14).
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
    "MIN_FRAUDS",
    "PROTOCOL",
    "Metrics",
    "Protocol",
    "Split",
    "card_precision_top_k",
    "check_frauds",
    "handbook_split",
    "resolve_protocol",
    "score_metrics",
]

#: Fewer frauds than this in the training or the test period cannot fit or assess a model.
MIN_FRAUDS = 5


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


def resolve_protocol(
    first_day: date,
    last_day: date,
    *,
    last_day_complete: bool = True,
    train_start: date | None = None,
    train_days: int | None = None,
    delay_days: int | None = None,
    test_days: int | None = None,
) -> Protocol:
    """The protocol of data that holds days ``first_day..last_day``: what is given, the rest
    from the data. The test period ends on the last complete day (``last_day``, or the day
    before it when ``last_day_complete`` is false) unless ``train_start`` places it; the periods
    are 7 days long unless given. :class:`DatasetError` when it does not fit in the data."""
    train_days = 7 if train_days is None else train_days
    delay_days = 7 if delay_days is None else delay_days
    test_days = 7 if test_days is None else test_days
    for name, days in (("train", train_days), ("test", test_days)):
        if days < 1:
            msg = f"the {name} period must last at least a day, not {days}"
            raise DatasetError(msg)
    if delay_days < 0:
        msg = f"the label delay cannot be negative ({delay_days} days)"
        raise DatasetError(msg)
    if train_start is None:
        end = last_day if last_day_complete else last_day - timedelta(days=1)
        train_start = end - timedelta(days=test_days + delay_days + train_days - 1)
    protocol = Protocol(train_start, train_days, delay_days, test_days)
    if protocol.train_start < first_day or protocol.test_end > last_day:
        msg = (
            f"the protocol (train {protocol.train_start}..{protocol.train_end}, test "
            f"{protocol.test_start}..{protocol.test_end}) does not fit in the data, which holds "
            f"{first_day}..{last_day}"
            + ("" if last_day_complete else f" ({last_day} incomplete)")
            + ": choose shorter periods or another --train-start"
        )
        raise DatasetError(msg)
    return protocol


@dataclass(frozen=True)
class Split:
    """Row selections of a frame with ``DAY``, ``card_id`` and ``label`` columns."""

    train: pd.DataFrame
    test: pd.DataFrame


def handbook_split(frame: pd.DataFrame, protocol: Protocol = PROTOCOL) -> Split:
    """Split ``frame`` (features with ``DAY`` as ``date``, card and label) by the protocol."""
    for column in ("DAY", "card_id", "label"):
        if column not in frame:
            msg = f"the frame needs a {column} column to be split"
            raise DatasetError(msg)
    day = frame["DAY"]
    train = frame[(day >= protocol.train_start) & (day <= protocol.train_end)]
    known = set(train.loc[train["label"] == 1, "card_id"])
    tests = []
    for k in range(protocol.test_days):
        test_day = protocol.test_start + timedelta(days=k)
        # Frauds of the day the delay puts just behind this test day are known by now.
        newly_known_day = protocol.train_end + timedelta(days=k)
        newly = frame[(day == newly_known_day) & (frame["label"] == 1)]
        known |= set(newly["card_id"])
        today = frame[day == test_day]
        tests.append(today[~today["card_id"].isin(known)])
    test = pd.concat(tests)
    return Split(train=train, test=test)


def check_frauds(split: Split, protocol: Protocol) -> None:
    """:class:`DatasetError` when the training or the test period has fewer than
    :data:`MIN_FRAUDS` frauds: too few to fit a model, or to assess one."""
    train, test = split.train, split.test
    for name, rows, first, last in (
        ("training", train, protocol.train_start, protocol.train_end),
        ("test", test, protocol.test_start, protocol.test_end),
    ):
        frauds = int(rows["label"].sum())
        if frauds < MIN_FRAUDS:
            use = "fit a model" if name == "training" else "assess one"
            msg = (
                f"the {name} period {first}..{last} holds {len(rows):,} transactions with "
                f"{frauds} fraud{'s' if frauds != 1 else ''}"
                + (" (cards already known compromised left out)" if name == "test" else "")
                + f": at least {MIN_FRAUDS} are needed to {use}; choose longer or other periods"
            )
            raise DatasetError(msg)


def card_precision_top_k(test: pd.DataFrame, scores: npt.ArrayLike, k: int = 100) -> float:
    """Per day, the share of compromised cards among the k best-scored cards; mean over days.

    As in the handbook, a card found compromised in a day's top k is known from then on and
    left out of the following days' rankings (an investigator does not check it twice).
    """
    frame = pd.DataFrame(
        {
            "DAY": test["DAY"].to_numpy(),
            "card_id": test["card_id"].to_numpy(),
            "label": test["label"].to_numpy(),
            "SCORE": np.asarray(scores, dtype=np.float64),
        }
    )
    per_card = frame.groupby(["DAY", "card_id"], sort=False).max().reset_index()
    detected: set[int] = set()
    precisions = []
    for _, cards in per_card.groupby("DAY", sort=True):
        candidates = cards[~cards["card_id"].isin(detected)]
        top = candidates.sort_values("SCORE", ascending=False, kind="stable").head(k)
        found = top.loc[top["label"] == 1, "card_id"]
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
    labels = test["label"].to_numpy()
    values = np.asarray(scores, dtype=np.float64)
    return Metrics(
        auc_roc=float(roc_auc_score(labels, values)),
        average_precision=float(average_precision_score(labels, values)),
        card_precision_100=card_precision_top_k(test, values, 100),
        n_transactions=len(labels),
        n_frauds=int(labels.sum()),
    )
