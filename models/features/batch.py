"""The batch path: every transaction's features at once, with pandas and numpy (for training).

It reads a canonical frame (:mod:`models.data.sources`: one column per event field, plus
``label``) and computes the columns of a :class:`~models.features.spec.FeatureSpec`, in the
spec's order. Windows are found with sorted composite keys ``(entity, time)`` and
``searchsorted``; sums and counts come from prefix sums. Ties in time keep file order, as the
incremental path (:mod:`models.features.incremental`) sees them; both follow the same spec, and
the tests hold them equal on random specs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.errors import DatasetError
from models.features.spec import (
    DAY_SECONDS,
    CalendarFeature,
    CategoryFeature,
    FeatureSpec,
    FieldFeature,
    LabelWindowFeature,
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


def compute_features(data: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The spec's features of every row of ``data`` (a canonical frame, history included).

    Returns a frame indexed like ``data`` with ``transaction_id`` and the spec's feature columns
    in order. Label windows count the frauds of ``label``; a frame without one (what a gateway
    sent no labels sees) counts none.
    """
    seconds = epoch_seconds_of(data["timestamp"])
    labels = (
        data["label"].to_numpy(np.int64) if "label" in data else np.zeros(len(data), dtype=np.int64)
    )
    entities = {e: _Entity(entity_values(data, spec, e), seconds) for e in spec.entities}
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
        else:
            columns += _label_window_columns(feature, entities[feature.entity], labels)
    names: Sequence[str] = spec.feature_names
    frame = pd.DataFrame(dict(zip(names, columns, strict=True)), index=data.index)
    frame.insert(0, "transaction_id", data["transaction_id"].to_numpy())
    return frame


def rows_frame(rows: Sequence[Mapping[str, Any]], spec: FeatureSpec) -> pd.DataFrame:
    """A canonical frame of ``rows`` (mappings of the event's fields, ``timestamp`` an aware
    ``datetime``, and ``label``, 0 when missing): what a gateway that was sent them saw."""
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in spec.fields}
    columns["timestamp"] = pd.to_datetime(columns["timestamp"], utc=True)
    columns["label"] = [int(row.get("label", 0)) for row in rows]
    return pd.DataFrame(columns)
