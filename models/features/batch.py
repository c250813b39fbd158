"""The batch path: every transaction's features at once, with pandas and numpy (for training).

It reads a canonical frame (:mod:`models.data.sources`: one column per event field, plus
``label``) and computes the columns of a :class:`~models.features.spec.FeatureSpec`, in the
spec's order. Windows are found with sorted composite keys ``(entity, time)`` and
``searchsorted``; sums and counts come from prefix sums. Ties in time keep file order, as the
incremental path (:mod:`models.features.incremental`) sees them; both follow the same spec, and
the tests hold them equal on random specs.

Label windows over an entity of the spec's ``[shared_counts]`` count whole time buckets, from a
:class:`~models.features.shared.SharedCounts` where it holds the bucket and from the frame's own
transactions otherwise (:mod:`models.features.shared`); the frame then gets one more column,
:data:`~models.features.spec.FALLBACK_COLUMN`, after the features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.errors import DatasetError
from models.features.shared import (
    SharedCounts,
    entity_buckets,
    fallback_spans,
    matching_counts,
    window_span,
)
from models.features.spec import (
    DAY_SECONDS,
    FALLBACK_COLUMN,
    CalendarFeature,
    CategoryFeature,
    FeatureSpec,
    FieldFeature,
    LabelWindowFeature,
    SharedCountsSpec,
    WindowFeature,
)

__all__ = ["compute_features", "entity_values", "epoch_seconds_of", "rows_frame"]

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float64]
#: Separates entities in composite keys: more than any data span plus any window's reach.
_SPAN = np.int64(1 << 40)


def epoch_seconds_of(timestamps: pd.Series[Any]) -> _Ints:
    """Whole seconds since the epoch of a UTC timestamp column (floored, as the stream does
    for any time after 1970)."""
    nanos = timestamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    return nanos.astype(np.int64) // 10**9


class _Entity:
    """One entity's transactions in (entity, time, file) order, with composite keys."""

    def __init__(self, values: pd.Series[Any], seconds: _Ints) -> None:
        codes = pd.factorize(values, sort=False)[0].astype(np.int64)
        offset = seconds - seconds.min() if len(seconds) else seconds
        if len(seconds) and int(offset.max()) >= _SPAN // 2:
            msg = "the data spans more than 17,000 years: timestamps are wrong"
            raise DatasetError(msg)
        #: The time the composite keys count from.
        self.base = int(seconds.min()) if len(seconds) else 0
        self.order = np.lexsort((np.arange(len(seconds)), seconds, codes))
        self.codes = codes[self.order]
        self.keys = self.codes * _SPAN + offset[self.order]
        self.group_start = np.searchsorted(self.keys, self.codes * _SPAN, side="left")

    def unsort(self, column: npt.NDArray[np.float64]) -> _Floats:
        out = np.empty_like(column)
        out[self.order] = column
        return out

    def running_sum(self, values: _Floats) -> _Floats:
        """Prefix sums of ``values`` (sorted order) restarting at each entity: one long sum
        would carry the whole data set's rounding into every window."""
        summed: _Floats = pd.Series(values[self.order]).groupby(self.codes).cumsum().to_numpy()
        return summed


def _ratio(numerator: _Floats, denominator: npt.NDArray[np.int64]) -> _Floats:
    out = np.zeros(len(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _window_columns(
    feature: WindowFeature, entity: _Entity, data: pd.DataFrame, seconds: _Ints
) -> list[_Floats]:
    position = np.arange(len(entity.keys))
    of = (
        data[feature.of].to_numpy(np.float64)
        if feature.of
        else np.zeros(len(seconds), dtype=np.float64)
    )
    running = entity.running_sum(of)
    current = of[entity.order]
    columns: list[_Floats] = []
    for days in feature.days:
        first = np.searchsorted(entity.keys, entity.keys - days * DAY_SECONDS, side="right")
        count = position - first + 1
        before = np.where(first > entity.group_start, running[np.maximum(first - 1, 0)], 0.0)
        total = running - before
        if not feature.include_current:
            count = count - 1
            total = np.where(count > 0, total - current, 0.0)
        values = {
            "count": count.astype(np.float64),
            "sum": total,
            "mean": _ratio(total, count),
        }
        columns += [entity.unsort(values[aggregate]) for aggregate in feature.aggregates]
    return columns


def _label_window_columns(
    feature: LabelWindowFeature, entity: _Entity, labels: _Ints
) -> list[_Floats]:
    frauds_before = np.concatenate(([0], np.cumsum(labels[entity.order])))
    end = entity.keys - feature.delay_days * DAY_SECONDS
    last = np.searchsorted(entity.keys, end, side="right")
    columns: list[_Floats] = []
    for days in feature.days:
        first = np.searchsorted(entity.keys, end - days * DAY_SECONDS, side="right")
        count = last - first
        frauds = (frauds_before[last] - frauds_before[first]).astype(np.float64)
        values = {
            "count": count.astype(np.float64),
            "frauds": frauds,
            "ratio": _ratio(frauds, count),
        }
        columns += [entity.unsort(values[aggregate]) for aggregate in feature.aggregates]
    return columns


class _Bucketed:
    """A shared entity's transactions by time bucket (sorted order, as :class:`_Entity`): its
    own counts outside the time buckets the sums hold, and the sums' entity buckets."""

    def __init__(
        self,
        entity: _Entity,
        name: str,
        *,
        values: pd.Series[Any],
        seconds: _Ints,
        labels: _Ints,
        config: SharedCountsSpec,
        shared: SharedCounts | None,
    ) -> None:
        self.entity, self.name, self.shared = entity, name, shared
        self.size, self.per_day = config.bucket_seconds, config.per_day
        self.now = (seconds // self.size)[entity.order]
        own = np.ones(len(seconds), dtype=np.int64)
        if shared is not None:
            own -= shared.is_present(name, self.now).astype(np.int64)
        zero = np.zeros(1, dtype=np.int64)
        self.own_before = np.concatenate((zero, np.cumsum(own)))
        self.own_frauds_before = np.concatenate((zero, np.cumsum(own * labels[entity.order])))
        self.buckets = entity_buckets(values.to_numpy()[entity.order], config.buckets)

    def counts(self, a: int, b: int) -> tuple[_Ints, _Ints]:
        """Transactions and frauds over time buckets ``[now - a, now - b)`` of each row."""
        entity = self.entity
        start, end = (
            np.searchsorted(
                entity.keys, entity.codes * _SPAN + ((self.now - k) * self.size - entity.base)
            )
            for k in (a, b)
        )
        count = self.own_before[end] - self.own_before[start]
        frauds = self.own_frauds_before[end] - self.own_frauds_before[start]
        if self.shared is not None:
            shared = self.shared.sums_between(self.name, self.buckets, self.now - a, self.now - b)
            count, frauds = count + shared[0], frauds + shared[1]
        return count, frauds

    def fallback(self, spans: tuple[tuple[int, int], ...]) -> _Ints:
        """How many time buckets of ``spans`` each row counts from its own transactions."""
        total = np.full(len(self.now), sum(a - b for a, b in spans), dtype=np.int64)
        if self.shared is not None:
            for a, b in spans:
                total -= self.shared.present_between(self.name, self.now - a, self.now - b)
        return total


def _shared_label_window_columns(feature: LabelWindowFeature, bucketed: _Bucketed) -> list[_Floats]:
    columns: list[_Floats] = []
    for days in feature.days:
        count, frauds = bucketed.counts(*window_span(feature, days, bucketed.per_day))
        values = {
            "count": count.astype(np.float64),
            "frauds": frauds.astype(np.float64),
            "ratio": _ratio(frauds.astype(np.float64), count),
        }
        columns += [bucketed.entity.unsort(values[aggregate]) for aggregate in feature.aggregates]
    return columns


def _calendar_column(feature: CalendarFeature, timestamps: pd.Series[Any]) -> _Floats:
    local = timestamps.dt.tz_convert(feature.timezone)
    if feature.flag == "weekend":
        flag = local.dt.weekday.to_numpy() >= 5
    else:
        hour = local.dt.hour.to_numpy()
        first, last = feature.hours
        flag = (
            (hour >= first) & (hour <= last) if first <= last else (hour >= first) | (hour <= last)
        )
    return flag.astype(np.float64)


def entity_values(data: pd.DataFrame, spec: FeatureSpec, entity: str) -> pd.Series[Any]:
    """The values an entity's windows are kept by: category fields by bucket (a value the spec
    does not know is ``other``, as in the stream), ids as they are."""
    values = data[entity]
    if spec.field_type(entity) == "category":
        field = spec.category(entity)
        return values.where(values.isin(field.values), field.other)
    return values


def compute_features(
    data: pd.DataFrame, spec: FeatureSpec, shared: SharedCounts | None = None
) -> pd.DataFrame:
    """The spec's features of every row of ``data`` (a canonical frame, history included).

    Returns a frame indexed like ``data`` with ``transaction_id`` and the spec's feature columns
    in order. Label windows count the frauds of ``label``; a frame without one (what a gateway
    sent no labels sees) counts none. With ``[shared_counts]`` in the spec, those entities' label
    windows read ``shared`` (made for the same ``[shared_counts]``; ``None``: the frame's own
    counts only), and a last column :data:`~models.features.spec.FALLBACK_COLUMN` (int) says how
    many of their time buckets came from the frame's own counts: callers that select
    ``spec.feature_names`` see no difference.
    """
    shared = matching_counts(spec, shared)
    seconds = epoch_seconds_of(data["timestamp"])
    labels = (
        data["label"].to_numpy(np.int64) if "label" in data else np.zeros(len(data), dtype=np.int64)
    )
    entities = {e: _Entity(entity_values(data, spec, e), seconds) for e in spec.entities}
    config = spec.shared_counts
    bucketed: dict[str, _Bucketed] = {}
    if config is not None:
        for e in config.entities:
            values = entity_values(data, spec, e)
            bucketed[e] = _Bucketed(
                entities[e],
                e,
                values=values,
                seconds=seconds,
                labels=labels,
                config=config,
                shared=shared,
            )
    columns: list[_Floats] = []
    for feature in spec.features:
        if isinstance(feature, FieldFeature):
            columns.append(data[feature.field].to_numpy(np.float64))
        elif isinstance(feature, CategoryFeature):
            bucket = entity_values(data, spec, feature.field).to_numpy()
            field = spec.category(feature.field)
            columns += [(bucket == value).astype(np.float64) for value in field.buckets]
        elif isinstance(feature, CalendarFeature):
            columns.append(_calendar_column(feature, data["timestamp"]))
        elif isinstance(feature, WindowFeature):
            columns += _window_columns(feature, entities[feature.entity], data, seconds)
        elif feature.entity in bucketed:
            columns += _shared_label_window_columns(feature, bucketed[feature.entity])
        else:
            columns += _label_window_columns(feature, entities[feature.entity], labels)
    names: Sequence[str] = spec.feature_names
    frame = pd.DataFrame(dict(zip(names, columns, strict=True)), index=data.index)
    frame.insert(0, "transaction_id", data["transaction_id"].to_numpy())
    if config is not None:
        fallback = np.zeros(len(data), dtype=np.int64)
        for name, entity in bucketed.items():
            fallback[entity.entity.order] += entity.fallback(fallback_spans(spec, name))
        frame[FALLBACK_COLUMN] = fallback
    return frame


def rows_frame(rows: Sequence[Mapping[str, Any]], spec: FeatureSpec) -> pd.DataFrame:
    """A canonical frame of ``rows`` (mappings of the event's fields, ``timestamp`` an aware
    ``datetime``, and ``label``, 0 when missing): what a gateway that was sent them saw."""
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in spec.fields}
    columns["timestamp"] = pd.to_datetime(columns["timestamp"], utc=True)
    columns["label"] = [int(row.get("label", 0)) for row in rows]
    return pd.DataFrame(columns)
