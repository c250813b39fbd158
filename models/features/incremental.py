"""The incremental path: per-entity state, updated one event at a time, driven by a spec.

Pure data and pure updates, no I/O: the partner's gateway keeps one :class:`EntityState` per
entity value (a card, a terminal, a merchant category...) in a Faust table (it serialises to
plain JSON) and calls :meth:`StreamFeatures.observe` for each of the spec's entities in turn, then
:meth:`StreamFeatures.vector`. States keep their times sorted, so a late event is placed where it
belongs; Kafka keeps one card's events in order (the card is the key), but the events of any
other entity come from many cards and partitions.

The states themselves (:class:`EntityState`: clocks, lateness, idempotence by transaction id)
and each entity's plan live in :mod:`models.features.entity_state`; they are re-exported here.

Label windows over an entity of the spec's ``[shared_counts]`` count whole time buckets, from a
:class:`~models.features.shared.SharedCounts` where it holds the bucket and from the state's own
transactions and frauds otherwise (:mod:`models.features.shared`); the sums are read as they are
when the transaction is observed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from models.errors import FeatureVectorError
from models.features.entity_state import ALLOWED_LATENESS, EntityPlan, EntityState, FeatureRow
from models.features.shared import SharedCounts, matching_counts
from models.features.spec import (
    CalendarFeature,
    CategoryFeature,
    FeatureSpec,
    FieldFeature,
)

__all__ = [
    "ALLOWED_LATENESS",
    "EntityPlan",
    "EntityState",
    "FeatureRow",
    "StreamFeatures",
    "epoch_seconds",
]


def epoch_seconds(when: datetime) -> int:
    """Whole seconds since the Unix epoch (naive datetimes are read as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


class StreamFeatures:
    """A spec's features, one event at a time.

    An *event* here is a mapping of the event's fields (``timestamp`` an aware ``datetime``,
    ``amount`` and number fields as numbers, ids as ints, categories as strings).
    """

    def __init__(self, spec: FeatureSpec, shared: SharedCounts | None = None) -> None:
        """Work for ``spec``; label windows of its ``[shared_counts]`` entities read ``shared``
        (made for the same ``[shared_counts]``) where it holds a time bucket."""
        self.spec = spec
        self.shared = matching_counts(spec, shared)
        self.plans = {entity: EntityPlan.of(spec, entity) for entity in spec.entities}

    @property
    def entities(self) -> tuple[str, ...]:
        """The entities in the order an event visits them (the card first)."""
        return self.spec.entities

    def entity_value(self, entity: str, event: Mapping[str, Any]) -> str:
        """The value an entity's state is kept by: an id, or a category's bucket."""
        value = event[entity]
        if self.spec.field_type(entity) == "category":
            return self.spec.category(entity).bucket(str(value))
        return str(int(value))

    def state_key(self, entity: str, event: Mapping[str, Any]) -> str:
        """The key of ``event``'s state of ``entity`` (and of the record that carries it there)."""
        return f"{entity}={self.entity_value(entity, event)}"

    def observe(self, entity: str, state: EntityState, event: Mapping[str, Any]) -> FeatureRow:
        """Add ``event`` to its ``entity`` state; its values of that entity's windows (an event
        whose ``transaction_id`` the state holds already is not added twice)."""
        plan = self.plans[entity]
        numbers = {name: event[name] for name in plan.numbers}
        sums = (
            self.shared.of(entity, self.entity_value(entity, event))
            if self.shared is not None and plan.shared is not None
            else None
        )
        transaction_id = event.get("transaction_id")
        return state.observe(
            epoch_seconds(event["timestamp"]),
            numbers,
            plan,
            sums,
            None if transaction_id is None else int(transaction_id),
        )

    @cached_property
    def _zones(self) -> dict[str, ZoneInfo]:
        return {
            f.timezone: ZoneInfo(f.timezone)
            for f in self.spec.features
            if isinstance(f, CalendarFeature)
        }

    def vector(self, event: Mapping[str, Any], windows: Mapping[str, list[float]]) -> FeatureRow:
        """The full feature vector in the spec's order, from the event's own fields and the
        values :meth:`observe` returned for each entity (their fallback counts summed)."""
        remaining = {entity: list(values) for entity, values in windows.items()}
        vector: list[float] = []
        for feature in self.spec.features:
            if isinstance(feature, FieldFeature):
                vector.append(float(event[feature.field]))
            elif isinstance(feature, CategoryFeature):
                bucket = self.entity_value(feature.field, event)
                buckets = self.spec.category(feature.field).buckets
                vector += [1.0 if bucket == value else 0.0 for value in buckets]
            elif isinstance(feature, CalendarFeature):
                local = event["timestamp"].astimezone(self._zones[feature.timezone])
                on = (
                    local.weekday() >= 5
                    if feature.flag == "weekend"
                    else (feature.is_night_hour(local.hour))
                )
                vector.append(1.0 if on else 0.0)
            else:
                width = len(feature.days) * len(feature.aggregates)
                values = remaining[feature.entity]
                vector += values[:width]
                del values[:width]
        if len(vector) != len(self.spec.feature_names):
            msg = f"{len(vector)} feature values for {len(self.spec.feature_names)} features"
            raise FeatureVectorError(msg)
        fallback = sum(getattr(values, "fallback_buckets", 0) for values in windows.values())
        return FeatureRow(vector, fallback)
