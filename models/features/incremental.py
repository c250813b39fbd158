"""The incremental path: per-card and per-terminal state, updated one event at a time.

Pure data and pure updates, no I/O: the stream agents keep these states in Faust tables (they
serialise to plain JSON-ready lists) and call :meth:`CardState.observe`,
:meth:`TerminalState.observe` and :meth:`TerminalState.add_fraud` per event. States keep their
times sorted, so a late event is placed where it belongs; Kafka keeps one card's events in order
(the card is the key), but one terminal's events come from many cards and partitions.

No single event can wipe a state or silence it. A state's *clock* is the time of its
second-newest event, not its newest: one event dated far ahead is kept and counted in its own
windows, but it prunes nothing and makes no later event late. A card's event more than
:data:`ALLOWED_LATENESS` behind its card's clock is refused with
:class:`~models.errors.EventTimeError` before the state changes (Kafka keeps a card's events in
order, so such an event is itself wrong, and its windows are no longer held); anything within it
gets exactly the features it would have had in order. A terminal never refuses one (see
:meth:`TerminalState.observe`).
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from dataclasses import dataclass, field
from datetime import UTC, datetime

from models.errors import EventTimeError
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

__all__ = ["ALLOWED_LATENESS", "CardState", "TerminalState", "epoch_seconds", "features_of"]

_CARD_HORIZON = max(CARD_WINDOW_DAYS) * DAY_SECONDS
_DELAY = LABEL_DELAY_DAYS * DAY_SECONDS
_TERMINAL_HORIZON = _DELAY + max(TERMINAL_WINDOW_DAYS) * DAY_SECONDS
#: How far (seconds) an event may be behind its state's clock and still be placed: a terminal's
#: transactions arrive from every card partition, so not quite in time order. States keep this
#: much more history than the windows need.
ALLOWED_LATENESS = DAY_SECONDS


def _clock(times: list[int]) -> int | None:
    """The time of the second-newest event of sorted ``times``; none before there are two (one
    event alone, however dated, holds no history another one could need)."""
    return times[-2] if len(times) > 1 else None


def _check_not_late(times: list[int], at: int, what: str) -> None:
    clock = _clock(times)
    if clock is not None and at < clock - ALLOWED_LATENESS:
        msg = (
            f"timestamp: more than {ALLOWED_LATENESS // 3600} h behind the {what}'s newest "
            "transactions; its windows are no longer held"
        )
        raise EventTimeError(msg)


def _prune_point(times: list[int], horizon: int) -> int | None:
    """Anything at or before this time is older than any placeable event's windows reach."""
    clock = _clock(times)
    return None if clock is None else clock - ALLOWED_LATENESS - horizon


def epoch_seconds(when: datetime) -> int:
    """Whole seconds since the Unix epoch (naive datetimes are read as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


@dataclass
class CardState:
    """A card's transactions of the last 30 days: (time, amount) in arrival order."""

    times: list[int] = field(default_factory=list)
    amounts: list[float] = field(default_factory=list)

    def observe(self, at: int, amount: float) -> list[float]:
        """Add a transaction; return its card features (count, mean amount per window).

        A late event (older than others already seen) is placed in time order and its windows
        end at its own time, so it gets the features it would have had in order; one more than
        :data:`ALLOWED_LATENESS` late raises :class:`~models.errors.EventTimeError` and changes
        nothing.
        """
        _check_not_late(self.times, at, "card")
        index = bisect_right(self.times, at)
        self.times.insert(index, at)
        self.amounts.insert(index, amount)
        oldest = _prune_point(self.times, _CARD_HORIZON)
        cut = 0 if oldest is None else bisect_right(self.times, oldest)
        if cut:
            del self.times[:cut]
            del self.amounts[:cut]
            index -= cut
        values: list[float] = []
        for days in CARD_WINDOW_DAYS:
            first = bisect_right(self.times, at - days * DAY_SECONDS)
            window = self.amounts[first : index + 1]
            values += card_window_values(len(window), math.fsum(window))
        return values

    def to_json(self) -> list[list[float]]:
        """A JSON-ready form for a Faust table."""
        return [list(map(float, self.times)), self.amounts]

    @classmethod
    def from_json(cls, data: list[list[float]]) -> CardState:
        """The inverse of :meth:`to_json`."""
        return cls([int(t) for t in data[0]], [float(a) for a in data[1]])


@dataclass
class TerminalState:
    """A terminal's transaction times and known-fraud times over the last 37 days, sorted."""

    times: list[int] = field(default_factory=list)
    fraud_times: list[int] = field(default_factory=list)

    def add_fraud(self, at: int) -> None:
        """Record a confirmed fraud (a label, arriving late) of a transaction made at ``at``."""
        insort(self.fraud_times, at)

    def observe(self, at: int) -> list[float]:
        """Return the terminal features at ``at`` (delayed windows), then add the transaction.

        Never refused: a terminal's transactions come from every card partition, each at its
        own pace (a bulk backfill can put one partition days ahead of another), so lateness here
        says nothing about the event. One more than :data:`ALLOWED_LATENESS` behind the clock is
        counted, but its windows miss what was pruned (``0`` when they are empty: no division).
        """
        values: list[float] = []
        end = at - _DELAY
        last_tx = bisect_right(self.times, end)
        last_fraud = bisect_right(self.fraud_times, end)
        for days in TERMINAL_WINDOW_DAYS:
            start = end - days * DAY_SECONDS
            count = last_tx - bisect_right(self.times, start)
            frauds = last_fraud - bisect_right(self.fraud_times, start)
            values += terminal_window_values(count, frauds)
        insort(self.times, at)
        oldest = _prune_point(self.times, _TERMINAL_HORIZON)
        if oldest is not None:
            del self.times[: bisect_right(self.times, oldest)]
            del self.fraud_times[: bisect_right(self.fraud_times, oldest)]
        return values

    def to_json(self) -> list[list[int]]:
        """A JSON-ready form for a Faust table."""
        return [self.times, self.fraud_times]

    @classmethod
    def from_json(cls, data: list[list[int]]) -> TerminalState:
        """The inverse of :meth:`to_json`."""
        return cls([int(t) for t in data[0]], [int(t) for t in data[1]])


def features_of(
    when: datetime, amount: float, card_values: list[float], terminal_values: list[float]
) -> list[float]:
    """The full feature vector, in :data:`FEATURE_NAMES` order."""
    vector = [amount, is_weekend(when), is_night(when), *card_values, *terminal_values]
    if len(vector) != len(FEATURE_NAMES):
        msg = f"{len(vector)} feature values for {len(FEATURE_NAMES)} features"
        raise ValueError(msg)
    return vector
