"""Entity states nothing can read any more are deleted: the gateway's state table stays bounded.

A state prunes its own old entries when its entity gets a transaction; an entity that goes
quiet (a card closed, a terminal removed) would keep its state for ever. The sweep deletes, per
partition, the states whose newest entry is older than the partition's clock (its newest
transaction time) minus the entity's horizon and the allowed lateness: exactly what a new event
would have pruned, so no feature changes. It runs at most once per ``every`` seconds per
partition, on a record of that partition, and touches only that partition's keys (each state
records its partition, ``"p"``): a Faust table writes a change to the changelog partition of
the record being processed, so a key deleted from another partition would come back at restore.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from models.features.entity_state import ALLOWED_LATENESS

__all__ = ["StateSweep"]


class StateSweep:
    """Stamps each state with its partition and deletes the stale ones, partition by partition."""

    def __init__(
        self,
        states: MutableMapping[str, Any],
        horizons: Mapping[str, int],
        every: float = 60.0,
    ) -> None:
        """Sweep ``states`` (keys ``<entity>=<value>``); ``horizons``: seconds each entity's
        windows reach back."""
        self.states, self.every = states, every
        self.keep = {entity: horizon + ALLOWED_LATENESS for entity, horizon in horizons.items()}
        self._clocks: dict[int, int] = {}
        self._swept: dict[int, float] = {}
        self.deleted = 0

    def stamp(self, value: dict[str, Any], partition: int) -> dict[str, Any]:
        """``value`` (a state's JSON) with the partition its changes are written to."""
        return {**value, "p": partition}

    def advance(self, partition: int, at: int) -> None:
        """A transaction made at ``at`` was seen on ``partition``: maybe sweep it."""
        if at > self._clocks.get(partition, at - 1):
            self._clocks[partition] = at
        now = time.monotonic()
        if now - self._swept.get(partition, now - self.every) >= self.every:
            self._swept[partition] = now
            self.deleted += self._sweep(partition, self._clocks[partition])

    def _sweep(self, partition: int, clock: int) -> int:
        stale = []
        for key, value in list(self.states.items()):
            if not isinstance(value, Mapping) or value.get("p") != partition:
                continue
            keep = self.keep.get(str(key).split("=", 1)[0])
            newest = max([*value.get("t", [])[-1:], *value.get("f", [])[-1:]], default=None)
            if keep is not None and newest is not None and newest < clock - keep:
                stale.append(key)
        for key in stale:
            del self.states[key]
        return len(stale)
