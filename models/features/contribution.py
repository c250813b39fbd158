"""A partner's own contribution to the shared counts, from a canonical frame.

For each entity of the spec's ``[shared_counts]`` and each time bucket, the two dense vectors a
partner would submit to secure aggregation (:mod:`models.features.shared`): its transactions and
its frauds per entity bucket, int64, of length ``buckets``. When a partner submits a time bucket
(once its labels are final) is the caller's business; this computes any time bucket asked.

It reads a pandas frame, so it belongs to the batch side (training, tests, tools).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.features.batch import entity_values, epoch_seconds_of
from models.features.shared import entity_buckets
from models.features.spec import FeatureSpec

__all__ = ["OwnCounts", "own_counts"]

_Ints = npt.NDArray[np.int64]


class OwnCounts(Mapping[int, tuple[_Ints, _Ints]]):
    """One entity's own ``(transactions, frauds)`` vectors by time bucket.

    Each is built when read (a frame's worth of time buckets held dense would take
    ``16 * buckets`` bytes each: 1 MB an hour at the default 65,536 buckets).
    """

    def __init__(
        self,
        time_buckets: _Ints,
        entity_buckets: _Ints,
        labels: _Ints,
        keys: Iterable[int],
        size: int,
    ) -> None:
        """Rows' ``time_buckets`` (sorted), their ``entity_buckets`` and ``labels`` (same order),
        the time buckets offered (``keys``) and the vectors' length (``size``)."""
        self._time_buckets = time_buckets
        self._entity_buckets = entity_buckets
        self._frauds = labels.astype(bool)
        self._keys = tuple(int(key) for key in keys)
        self._known = frozenset(self._keys)
        self._size = size

    def __getitem__(self, time_bucket: int) -> tuple[_Ints, _Ints]:
        """The vectors of ``time_bucket`` (all zero when the frame has none of its rows)."""
        if time_bucket not in self._known:
            raise KeyError(time_bucket)
        start, end = np.searchsorted(self._time_buckets, [time_bucket, time_bucket + 1])
        buckets = self._entity_buckets[start:end]
        transactions = np.bincount(buckets, minlength=self._size).astype(np.int64)
        frauds = np.bincount(buckets[self._frauds[start:end]], minlength=self._size)
        return transactions, frauds.astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        """The time buckets offered, in order."""
        return iter(self._keys)

    def __len__(self) -> int:
        """How many time buckets are offered."""
        return len(self._keys)


def own_counts(
    frame: pd.DataFrame, spec: FeatureSpec, time_buckets: Iterable[int] | None = None
) -> dict[str, OwnCounts]:
    """The partner's own vectors of each ``[shared_counts]`` entity (none without one), for
    ``time_buckets``, or else for every time bucket from the frame's first to its last.

    ``frame`` is a canonical frame (the columns :func:`~models.features.batch.compute_features`
    reads: ``timestamp``, ``label``, the entities); a frame without ``label`` counts no fraud.
    """
    config = spec.shared_counts
    if config is None:
        return {}
    seconds = epoch_seconds_of(frame["timestamp"])
    labels = (
        frame["label"].to_numpy(np.int64)
        if "label" in frame
        else np.zeros(len(frame), dtype=np.int64)
    )
    hours = seconds // config.bucket_seconds
    order = np.argsort(hours, kind="stable")
    if time_buckets is None:
        time_buckets = range(int(hours.min()), int(hours.max()) + 1) if len(hours) else ()
    keys = sorted({int(key) for key in time_buckets})
    return {
        entity: OwnCounts(
            hours[order],
            entity_buckets(entity_values(frame, spec, entity).to_numpy()[order], config.buckets),
            labels[order],
            keys,
            config.buckets,
        )
        for entity in config.entities
    }
