"""The incremental path: per-card and per-terminal state, updated one event at a time.

Pure data and pure updates, no I/O: the stream agents keep these states in Faust tables (they
serialise to plain JSON-ready lists) and call :meth:`CardState.observe`,
:meth:`TerminalState.observe` and :meth:`TerminalState.add_fraud` per event. States keep their
times sorted, so a late event is placed where it belongs; Kafka keeps one card's events in order
(the card is the key), but one terminal's events come from many cards and partitions.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from dataclasses import dataclass, field
from datetime import UTC, datetime

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

__all__ = ["CardState", "TerminalState", "epoch_seconds", "features_of"]

_CARD_HORIZON = max(CARD_WINDOW_DAYS) * DAY_SECONDS
_DELAY = LABEL_DELAY_DAYS * DAY_SECONDS
_TERMINAL_HORIZON = _DELAY + max(TERMINAL_WINDOW_DAYS) * DAY_SECONDS
#: A terminal's transactions arrive from every card partition, so not quite in time order: keep
#: a day more than the windows need, so that a transaction up to a day late still finds them.
_PRUNE_SLACK = DAY_SECONDS


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
        end at its own time, so it gets the features it would have had in order.
        """
        index = bisect_right(self.times, at)
        self.times.insert(index, at)
        self.amounts.insert(index, amount)
        cut = bisect_right(self.times, max(self.times[-1], at) - _CARD_HORIZON)
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
        """Return the terminal features at ``at`` (delayed windows), then add the transaction."""
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
        self._prune(at)
        return values

    def _prune(self, now: int) -> None:
        horizon = now - _TERMINAL_HORIZON - _PRUNE_SLACK
        del self.times[: bisect_right(self.times, horizon)]
        del self.fraud_times[: bisect_right(self.fraud_times, horizon)]

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
