"""One entity value's state on the incremental path, and what the spec asks of an entity.

:class:`EntityState` keeps an entity value's recent transactions (times sorted, ids, the numbers
its windows aggregate) and its known frauds; :class:`EntityPlan` says which windows an entity has
and how far back they reach. :mod:`models.features.incremental` drives them, one event at a time.

No single event can wipe a state or silence it. A state's *clock* is the time of its
second-newest event, not its newest: one event dated far ahead is kept and counted in its own
windows, but it prunes nothing and makes no later event late. A card's event more than
:data:`ALLOWED_LATENESS` behind its card's clock is refused with
:class:`~models.errors.EventTimeError` before the state changes; anything within it gets exactly
the features it would have had in order. Other entities never refuse one.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.errors import EventTimeError
from models.features.shared import EntitySums, fallback_spans, window_span
from models.features.spec import (
    DAY_SECONDS,
    FeatureSpec,
    LabelWindowFeature,
    SharedCountsSpec,
    WindowFeature,
)

__all__ = ["ALLOWED_LATENESS", "KEY_ENTITY", "EntityPlan", "EntityState", "FeatureRow"]

#: How far (seconds) an event may be behind its state's clock and still be placed: an entity's
#: transactions other than a card's arrive from every card partition, so not quite in time
#: order. States keep this much more history than the windows need.
ALLOWED_LATENESS = DAY_SECONDS
#: The entity whose events Kafka keeps in order (the transactions topic's key).
KEY_ENTITY = "card_id"


def _clock(times: list[int]) -> int | None:
    """The time of the second-newest event of sorted ``times``; none before there are two (one
    event alone, however dated, holds no history another one could need)."""
    return times[-2] if len(times) > 1 else None


def _ratio(numerator: float, count: int) -> float:
    return numerator / count if count else 0.0


def _own_times(
    times: list[int], first: int, last: int, size: int, skip: frozenset[int]
) -> list[int]:
    """The sorted ``times`` of time buckets ``[first, last)`` (``size`` seconds each) that are
    not in ``skip``."""
    window = times[bisect_left(times, first * size) : bisect_left(times, last * size)]
    return [at for at in window if at // size not in skip] if skip else window


class FeatureRow(list[float]):
    """Feature values (one entity's windows, or a whole vector) and how many time buckets of the
    shared label windows fell back to the partner's own counts (0 without ``[shared_counts]``):
    an extra output, not a feature."""

    def __init__(self, values: Iterable[float] = (), fallback_buckets: int = 0) -> None:
        """``values``, with their fallback count."""
        super().__init__(values)
        self.fallback_buckets = fallback_buckets


@dataclass
class EntityState:
    """One entity value's recent transactions: times (sorted), their transaction ids and the
    number fields its windows aggregate (same order), and the times of its known frauds (sorted)
    with their transaction ids.

    Idempotent by transaction id: a transaction or a label seen again (a record processed twice
    after a crash, at-least-once delivery) changes nothing, and the transaction gets the window
    values it got the first time (unless an earlier-dated transaction or a label came in
    between). Ids are ``None`` for entries kept before ids were (old changelogs).
    """

    times: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    fraud_times: list[int] = field(default_factory=list)
    ids: list[int | None] = field(default_factory=list)
    fraud_ids: list[int | None] = field(default_factory=list)

    def add_fraud(self, at: int, transaction_id: int | None = None) -> None:
        """Record a confirmed fraud (a label, arriving late) of a transaction made at ``at``;
        a label of a transaction id already recorded changes nothing."""
        if transaction_id is not None and transaction_id in self.fraud_ids:
            return
        index = bisect_right(self.fraud_times, at)
        self.fraud_times.insert(index, at)
        self.fraud_ids.insert(index, transaction_id)

    def observe(
        self,
        at: int,
        numbers: Mapping[str, float],
        plan: EntityPlan,
        sums: EntitySums | None = None,
        transaction_id: int | None = None,
    ) -> FeatureRow:
        """Add a transaction; return its values of ``plan``'s windows, in spec order.

        Label windows end ``delay`` before ``at`` and are read before the transaction is added
        (those of a shared entity in whole time buckets, from ``sums`` where they hold one);
        the other windows end at ``at``, with the transactions of equal time that came before.
        An event more than :data:`ALLOWED_LATENESS` behind the clock of an entity that refuses
        late events raises :class:`~models.errors.EventTimeError` and changes nothing; one that
        is counted anyway sees windows missing only what was pruned. A ``transaction_id``
        already held is not added again: its values are read where it stands.
        """
        seen = self._position(transaction_id, at)
        clock = _clock(self.times)
        if plan.refuse_late and clock is not None and at < clock - ALLOWED_LATENESS:
            msg = (
                f"timestamp: more than {ALLOWED_LATENESS // 3600} h behind the {plan.entity}'s "
                "newest transactions; its windows are no longer held"
            )
            raise EventTimeError(msg)
        if plan.shared is not None:
            delayed, fallback = self._shared_label_windows(at, plan, plan.shared, sums)
        else:
            delayed, fallback = [self._label_window(at, w) for w in plan.label_windows], 0
        if seen is not None:
            index = seen
        else:
            index = bisect_right(self.times, at)
            self.times.insert(index, at)
            self.ids.insert(index, transaction_id)
            for name in plan.numbers:
                self.values.setdefault(name, []).insert(index, float(numbers[name]))
            index -= self._prune(plan.horizon)
        recent = iter([self._window(at, index, window) for window in plan.windows])
        label = iter(delayed)
        return FeatureRow(
            (value for is_label in plan.order for value in next(label if is_label else recent)),
            fallback,
        )

    def _position(self, transaction_id: int | None, at: int) -> int | None:
        """Where ``transaction_id``, made at ``at``, is held (``None``: not held)."""
        if transaction_id is None:
            return None
        start, end = bisect_left(self.times, at), bisect_right(self.times, at)
        for index in range(start, end):
            if self.ids[index] == transaction_id:
                return index
        return None

    def _window(self, at: int, index: int, feature: WindowFeature) -> list[float]:
        values: list[float] = []
        numbers = self.values.get(feature.of, []) if feature.of else []
        for days in feature.days:
            first = bisect_right(self.times, at - days * DAY_SECONDS)
            last = index + 1 if feature.include_current else index
            count = max(last - first, 0)
            total = math.fsum(numbers[first:last]) if feature.of else 0.0
            found = {"count": float(count), "sum": total, "mean": _ratio(total, count)}
            values += [found[aggregate] for aggregate in feature.aggregates]
        return values

    def _label_window(self, at: int, feature: LabelWindowFeature) -> list[float]:
        values: list[float] = []
        end = at - feature.delay_days * DAY_SECONDS
        last_tx = bisect_right(self.times, end)
        last_fraud = bisect_right(self.fraud_times, end)
        for days in feature.days:
            start = end - days * DAY_SECONDS
            count = last_tx - bisect_right(self.times, start)
            frauds = last_fraud - bisect_right(self.fraud_times, start)
            found = {"count": float(count), "frauds": float(frauds), "ratio": _ratio(frauds, count)}
            values += [found[aggregate] for aggregate in feature.aggregates]
        return values

    def _shared_label_windows(
        self, at: int, plan: EntityPlan, config: SharedCountsSpec, sums: EntitySums | None
    ) -> tuple[list[list[float]], int]:
        """The label windows in whole time buckets, and how many buckets of ``plan.spans`` fell
        back to the state's own counts (all of them without ``sums``)."""
        size, now = config.bucket_seconds, at // config.bucket_seconds
        present = sums.present if sums is not None else frozenset()
        oldest, newest = now - plan.spans[0][0], now - plan.spans[-1][1]
        own = _own_times(self.times, oldest, newest, size, present)
        own_frauds = _own_times(self.fraud_times, oldest, newest, size, present)
        windows: list[list[float]] = []
        for feature in plan.label_windows:
            values: list[float] = []
            for days in feature.days:
                a, b = window_span(feature, days, config.per_day)
                first, last = now - a, now - b
                count = bisect_left(own, last * size) - bisect_left(own, first * size)
                frauds = bisect_left(own_frauds, last * size) - bisect_left(
                    own_frauds, first * size
                )
                if sums is not None:
                    shared_count, shared_frauds = sums.between(first, last)
                    count, frauds = count + shared_count, frauds + shared_frauds
                found = {
                    "count": float(count),
                    "frauds": float(frauds),
                    "ratio": _ratio(frauds, count),
                }
                values += [found[aggregate] for aggregate in feature.aggregates]
            windows.append(values)
        fallback = sum(a - b for a, b in plan.spans)
        if sums is not None:
            fallback -= sum(sums.present_between(now - a, now - b) for a, b in plan.spans)
        return windows, fallback

    def _prune(self, horizon: int) -> int:
        """Drop what no placeable event's windows reach; return how many transactions went."""
        clock = _clock(self.times)
        if clock is None:
            return 0
        oldest = clock - ALLOWED_LATENESS - horizon
        cut = bisect_right(self.times, oldest)
        if cut:
            del self.times[:cut]
            del self.ids[:cut]
            for numbers in self.values.values():
                del numbers[:cut]
        frauds_cut = bisect_right(self.fraud_times, oldest)
        del self.fraud_times[:frauds_cut]
        del self.fraud_ids[:frauds_cut]
        return cut

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form for a Faust table."""
        return {
            "t": self.times,
            "v": self.values,
            "f": self.fraud_times,
            "i": self.ids,
            "g": self.fraud_ids,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntityState:
        """The inverse of :meth:`to_json` (a state kept before ids were has ``None`` ids)."""
        times = [int(t) for t in data["t"]]
        fraud_times = [int(t) for t in data["f"]]
        return cls(
            times,
            {str(name): [float(v) for v in values] for name, values in data["v"].items()},
            fraud_times,
            [None if i is None else int(i) for i in data.get("i", [None] * len(times))],
            [None if i is None else int(i) for i in data.get("g", [None] * len(fraud_times))],
        )


@dataclass(frozen=True)
class EntityPlan:
    """What the spec asks of one entity: its windows and how its state is kept."""

    entity: str
    windows: tuple[WindowFeature, ...]
    label_windows: tuple[LabelWindowFeature, ...]
    #: For each of the entity's window features in spec order: is it a label window?
    order: tuple[bool, ...]
    #: The number fields its windows aggregate.
    numbers: tuple[str, ...]
    #: How far back (seconds) its windows reach.
    horizon: int
    refuse_late: bool
    #: The spec's ``[shared_counts]`` when the entity's label windows use shared counts.
    shared: SharedCountsSpec | None = None
    #: Then the time buckets its label windows cover (see ``fallback_spans``).
    spans: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, spec: FeatureSpec, entity: str) -> EntityPlan:
        """The plan of ``entity`` under ``spec``."""
        features = spec.windows_of(entity)
        windows = tuple(f for f in features if isinstance(f, WindowFeature))
        label_windows = tuple(f for f in features if isinstance(f, LabelWindowFeature))
        reach = [max(f.days) for f in windows] + [max(f.days) + f.delay_days for f in label_windows]
        shared = spec.shared_counts if spec.is_shared(entity) else None
        # A window in whole time buckets reaches back up to one bucket further.
        extra = shared.bucket_seconds if shared is not None else 0
        return cls(
            entity=entity,
            windows=windows,
            label_windows=label_windows,
            order=tuple(isinstance(f, LabelWindowFeature) for f in features),
            numbers=tuple(dict.fromkeys(f.of for f in windows if f.of)),
            horizon=max(reach) * DAY_SECONDS + extra,
            refuse_late=entity == KEY_ENTITY,
            shared=shared,
            spans=fallback_spans(spec, entity) if shared is not None else (),
        )
