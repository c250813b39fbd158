"""Label windows from counts shared across partners: entity and time buckets, and the sums.

Several partners each see their own share of an entity's traffic (a terminal's, say). For each
time bucket whose labels are final, each partner contributes two dense vectors of length
``buckets``: its transactions and its frauds per entity bucket (:func:`entity_bucket`); secure
aggregation sums them across partners (not here). :class:`SharedCounts` holds those sums for the
spec's ``[shared_counts]`` entities; :mod:`models.features.contribution` computes a partner's own
vectors from a frame.

A label window of N days, delayed D days, over a shared entity covers whole time buckets: for a
transaction in bucket ``h`` (epoch seconds // bucket seconds), ``[h - per_day * (D + N),
h - per_day * D)``, the N days of buckets before the one that holds ``t - D days`` (that one's
labels are not all final yet). Each bucket counts the sums of the value's entity bucket when the
sums hold that time bucket, else the partner's own transactions and frauds of the value itself.
The batch path (:mod:`models.features.batch`) and the incremental path
(:mod:`models.features.incremental`) both read a :class:`SharedCounts` this way.

Numpy only, no pandas: the partner's gateway runs it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from models.errors import SharedCountsError
from models.features.spec import FeatureSpec, LabelWindowFeature, SharedCountsSpec

__all__ = [
    "EntitySums",
    "SharedCounts",
    "entity_bucket",
    "entity_buckets",
    "fallback_spans",
    "matching_counts",
    "window_span",
]

_Ints = npt.NDArray[np.int64]
_Vector = npt.NDArray[np.integer[Any]]
#: Time buckets are kept within +-2**37 (15 million years of hours) so that an entity bucket
#: (below 2**24) and a time bucket share one int64 key.
_TIME_LIMIT = 1 << 37
_TIME_SHIFT = 1 << 38


def entity_bucket(value: object, buckets: int) -> int:
    """The entity bucket of ``value``: an integer id (an int, a numpy integer, or a string of
    decimal digits) modulo ``buckets``; anything else by the BLAKE2b hash of its text."""
    if isinstance(value, int | np.integer):
        return int(value) % buckets
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) % buckets
    digest = hashlib.blake2b(str(value).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def entity_buckets(values: npt.NDArray[Any], buckets: int) -> _Ints:
    """:func:`entity_bucket` of each of ``values`` (integer arrays at numpy speed)."""
    if values.dtype.kind in "iu":
        return (values.astype(np.int64) % buckets).astype(np.int64)
    unique, inverse = np.unique(values, return_inverse=True)
    mapped = np.array([entity_bucket(value, buckets) for value in unique], dtype=np.int64)
    found: _Ints = mapped[inverse.reshape(-1)]
    return found


def window_span(feature: LabelWindowFeature, days: int, per_day: int) -> tuple[int, int]:
    """``(a, b)``: the window of ``days`` covers time buckets ``[h - a, h - b)``."""
    return per_day * (feature.delay_days + days), per_day * feature.delay_days


def fallback_spans(spec: FeatureSpec, entity: str) -> tuple[tuple[int, int], ...]:
    """The time buckets any of ``entity``'s label windows covers, as disjoint ``(a, b)`` spans
    (``[h - a, h - b)``, the oldest first): what the fallback count counts."""
    if spec.shared_counts is None:
        return ()
    per_day = spec.shared_counts.per_day
    spans = sorted(
        (
            window_span(feature, days, per_day)
            for feature in spec.windows_of(entity)
            if isinstance(feature, LabelWindowFeature)
            for days in feature.days
        ),
        reverse=True,
    )
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a >= merged[-1][1]:
            merged[-1] = (merged[-1][0], min(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)


@dataclass(frozen=True)
class _Index:
    """One entity's sums, searchable: present time buckets, and prefix sums by (entity bucket,
    time bucket) key."""

    present: _Ints
    present_set: frozenset[int]
    keys: _Ints
    transactions_before: _Ints
    frauds_before: _Ints


class SharedCounts:
    """Transactions and frauds per (entity bucket, time bucket), summed across partners, for the
    entities of a spec's ``[shared_counts]``.

    Built from dense vectors (:meth:`add`), kept sparse; read in bulk by the batch path
    (:meth:`is_present`, :meth:`present_between`, :meth:`sums_between` on arrays) and per entity
    value by the stream (:meth:`of`). A time bucket is *present* for an entity once a vector was
    added for it, even an all-zero one.
    """

    def __init__(self, config: SharedCountsSpec) -> None:
        """Empty sums for ``config`` (a spec's ``shared_counts``)."""
        self.config = config
        self._sparse: dict[str, dict[int, tuple[_Ints, _Ints, _Ints]]] = {
            entity: {} for entity in config.entities
        }
        self._indexes: dict[str, _Index] = {}

    def add(
        self,
        entity: str,
        time_bucket: int,
        transactions: _Vector,
        frauds: _Vector,
    ) -> None:
        """Add the dense vectors (length ``buckets``, unsigned or signed integers) of one time
        bucket of ``entity``; adding to a present bucket sums."""
        self._check(entity, time_bucket, transactions, frauds)
        tx, fr = transactions.astype(np.int64), frauds.astype(np.int64)
        held = self._sparse[entity].get(int(time_bucket))
        if held is not None:
            index, held_tx, held_fr = held
            tx[index] += held_tx
            fr[index] += held_fr
        nonzero = np.flatnonzero(tx).astype(np.int64)
        self._sparse[entity][int(time_bucket)] = (nonzero, tx[nonzero], fr[nonzero])
        self._indexes.pop(entity, None)

    def add_all(self, counts: Mapping[str, Mapping[int, tuple[_Vector, _Vector]]]) -> None:
        """:meth:`add` every ``(transactions, frauds)`` of ``{entity: {time bucket: ...}}``
        (e.g. :func:`models.features.contribution.own_counts`)."""
        for entity, by_time in counts.items():
            for time_bucket, (transactions, frauds) in by_time.items():
                self.add(entity, time_bucket, transactions, frauds)

    def _check(
        self,
        entity: str,
        time_bucket: int,
        transactions: npt.NDArray[Any],
        frauds: npt.NDArray[Any],
    ) -> None:
        problem = None
        if entity not in self._sparse:
            problem = f"{entity!r} is not one of the shared entities {list(self.config.entities)}"
        elif not isinstance(time_bucket, int | np.integer) or abs(time_bucket) >= _TIME_LIMIT:
            problem = f"time bucket {time_bucket!r} is not an integer within +-2**37"
        elif any(v.shape != (self.config.buckets,) for v in (transactions, frauds)):
            problem = f"the vectors must have shape ({self.config.buckets},)"
        elif any(v.dtype.kind not in "iu" for v in (transactions, frauds)):
            problem = "the vectors must hold integers"
        elif (transactions < 0).any() or (frauds < 0).any():
            problem = "the vectors hold a negative count"
        elif (frauds > transactions).any():
            problem = "the vectors count more frauds than transactions in an entity bucket"
        if problem is not None:
            msg = f"shared counts of {entity} at time bucket {time_bucket}: {problem}"
            raise SharedCountsError(msg)

    def time_buckets(self, entity: str) -> _Ints:
        """The time buckets present for ``entity``, sorted."""
        return self._index(entity).present

    def counts(self, entity: str, time_bucket: int) -> dict[int, tuple[int, int]]:
        """One present time bucket's nonzero entity buckets: ``{bucket: (transactions, frauds)}``
        (empty when the time bucket is absent or all zero)."""
        held = self._sparse[entity].get(int(time_bucket))
        if held is None:
            return {}
        return {int(b): (int(t), int(f)) for b, t, f in zip(*held, strict=True)}

    def _index(self, entity: str) -> _Index:
        """``entity``'s sums, searchable (built when first read after an :meth:`add`)."""
        found = self._indexes.get(entity)
        if found is None:
            found = self._indexes[entity] = self._build(self._sparse[entity])
        return found

    @staticmethod
    def _build(sparse: dict[int, tuple[_Ints, _Ints, _Ints]]) -> _Index:
        present = np.array(sorted(sparse), dtype=np.int64)
        zero = np.zeros(1, dtype=np.int64)
        parts = [(index, t, tx, fr) for t, (index, tx, fr) in sparse.items()]
        keys = np.concatenate(
            [zero[:0]] + [index * _TIME_SHIFT + (t + _TIME_LIMIT) for index, t, _, _ in parts]
        )
        order = np.argsort(keys, kind="stable")
        tx = np.concatenate([zero[:0]] + [part[2] for part in parts])[order]
        fr = np.concatenate([zero[:0]] + [part[3] for part in parts])[order]
        return _Index(
            present=present,
            present_set=frozenset(present.tolist()),
            keys=keys[order].astype(np.int64),
            transactions_before=np.concatenate((zero, np.cumsum(tx))),
            frauds_before=np.concatenate((zero, np.cumsum(fr))),
        )

    # --- bulk reads (the batch path) -------------------------------------------------------
    def is_present(self, entity: str, time_buckets: _Ints) -> npt.NDArray[np.bool_]:
        """Whether each of ``time_buckets`` is present for ``entity``."""
        present = self._index(entity).present
        return np.isin(time_buckets, present)

    def present_between(self, entity: str, first: _Ints, last: _Ints) -> _Ints:
        """How many present time buckets of ``entity`` each ``[first, last)`` holds."""
        present = self._index(entity).present
        found = np.searchsorted(present, last) - np.searchsorted(present, first)
        return found.astype(np.int64)

    def sums_between(
        self, entity: str, buckets: _Ints, first: _Ints, last: _Ints
    ) -> tuple[_Ints, _Ints]:
        """Transactions and frauds of each entity bucket over its time buckets
        ``[first, last)`` (only present ones hold any)."""
        index = self._index(entity)
        start = np.searchsorted(index.keys, buckets * _TIME_SHIFT + (first + _TIME_LIMIT))
        end = np.searchsorted(index.keys, buckets * _TIME_SHIFT + (last + _TIME_LIMIT))
        transactions = index.transactions_before[end] - index.transactions_before[start]
        frauds = index.frauds_before[end] - index.frauds_before[start]
        return transactions.astype(np.int64), frauds.astype(np.int64)

    # --- one entity value (the stream) -----------------------------------------------------
    def of(self, entity: str, value: object) -> EntitySums:
        """The sums one entity value reads: its entity bucket's."""
        return EntitySums(self, entity, entity_bucket(value, self.config.buckets))

    def present_set(self, entity: str) -> frozenset[int]:
        """The time buckets present for ``entity``, as a set."""
        return self._index(entity).present_set


@dataclass(frozen=True)
class EntitySums:
    """What a shared label window of one entity value reads: its entity bucket's sums."""

    counts: SharedCounts
    entity: str
    bucket: int

    @property
    def present(self) -> frozenset[int]:
        """The entity's present time buckets."""
        return self.counts.present_set(self.entity)

    def present_between(self, first: int, last: int) -> int:
        """How many present time buckets ``[first, last)`` holds."""
        present = self.counts._index(self.entity).present
        return int(np.searchsorted(present, last)) - int(np.searchsorted(present, first))

    def between(self, first: int, last: int) -> tuple[int, int]:
        """The bucket's transactions and frauds over time buckets ``[first, last)``."""
        index = self.counts._index(self.entity)
        key = self.bucket * _TIME_SHIFT + _TIME_LIMIT
        start = int(np.searchsorted(index.keys, key + first))
        end = int(np.searchsorted(index.keys, key + last))
        return (
            int(index.transactions_before[end] - index.transactions_before[start]),
            int(index.frauds_before[end] - index.frauds_before[start]),
        )


def matching_counts(spec: FeatureSpec, shared: SharedCounts | None) -> SharedCounts | None:
    """``shared`` when it was made for ``spec``'s ``[shared_counts]``; :class:`SharedCountsError`
    otherwise (sums for a spec without shared counts, or with other buckets)."""
    if shared is not None and shared.config != spec.shared_counts:
        msg = (
            f"the shared counts were made for {shared.config!r}, the spec {spec.name} has "
            f"shared_counts {spec.shared_counts!r}"
        )
        raise SharedCountsError(msg)
    return shared
