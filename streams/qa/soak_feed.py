"""The soak run's endless feed: the bundled transactions day after day, with their fraud labels
at the time each becomes known, wrapped around with shifted timestamps and ids when the data
runs out.

The feed starts at ``start``; each *cycle* replays the days from ``start`` to the end of the
file, shifted forward by whole days so that a cycle's first day follows the previous cycle's
last, and with ids shifted past every id of the previous cycle (ids stay unique). A fraud's
label comes out once the feed's time reaches its label time (the spec's label delay after the
transaction), before the first transaction at or after that time; so labels of the days before
the soak's live part are part of its history, and later ones arrive while it runs.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from models.data.handbook import (
    TRANSACTIONS_FILE,
    HandbookTransaction,
    partner_of,
    read_transactions,
)
from models.errors import DatasetError
from streams.qa.data_feed import label_time

__all__ = ["FeedItem", "soak_feed"]


@dataclass(frozen=True)
class FeedItem:
    """One record to send: a partner's transaction, or the fraud label of one (``is_label``)."""

    partner: str
    transaction: HandbookTransaction
    is_label: bool = False


def _cycles(start: date, path: Path) -> Iterator[HandbookTransaction]:
    """The transactions from ``start`` on, then again and again, shifted (module docstring)."""
    shift_days, id_stride = 0, 0
    for cycle in itertools.count():
        first_day, last_day, last_id = None, None, -1
        for tx in read_transactions(path, start=start):
            first_day = first_day or tx.timestamp.date()
            last_day, last_id = tx.timestamp.date(), max(last_id, tx.transaction_id)
            yield replace(
                tx,
                transaction_id=tx.transaction_id + cycle * id_stride,
                timestamp=tx.timestamp + timedelta(days=cycle * shift_days),
            )
        if first_day is None or last_day is None:
            msg = f"{path} has no transactions from {start} on"
            raise DatasetError(msg)
        # Every cycle replays the same rows: shift by one cycle's length and id range.
        shift_days = (last_day - first_day).days + 1
        id_stride = last_id + 1


def soak_feed(
    partners: Sequence[str], start: date, *, path: Path = TRANSACTIONS_FILE
) -> Iterator[FeedItem]:
    """Every partner's transactions from ``start`` on in time order, forever (wrapped), each
    fraud's label interleaved at its label time (:func:`~streams.qa.data_feed.label_time`)."""
    due: list[tuple[datetime, int, FeedItem]] = []
    order = itertools.count()
    for tx in _cycles(start, path):
        while due and due[0][0] <= tx.timestamp:
            yield heapq.heappop(due)[2]
        item = FeedItem(partner_of(tx.card_id, partners), tx)
        if tx.is_fraud:
            label = FeedItem(item.partner, tx, is_label=True)
            heapq.heappush(due, (label_time(tx), next(order), label))
        yield item
