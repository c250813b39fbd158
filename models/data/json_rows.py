"""Rows that arrive as JSON objects (JSON-lines files, recorded events): parsing and JSON types.

Each row must be a JSON object; each field a JSON value of its kind's type (an id a whole number,
a number a number, a category a string, a timestamp a string or, for ``epoch_*`` formats, a
number, a label a boolean, 0/1 or a string). ``null`` or an absent key is a missing value. The
values are then checked like any other (:func:`models.data.columns.convert_rows`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd

from models.data.columns import FieldRule, missing_columns
from models.data.problem_log import ProblemLog, quote

__all__ = ["JsonRows", "json_frame", "parse_objects"]

_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "number": (int, float),
    "amount": (int, float),
    "category": (str,),
    "timestamp": (str,),
    "label": (bool, int, str),
}
_EXPECTED = {
    "id": "an integer",
    "number": "a number",
    "amount": "a number",
    "category": "a string",
    "timestamp": "a string",
    "label": "true, false, 0 or 1",
}
#: The numpy type of a kind's JSON values, when they may skip the text checks.
_NUMPY: dict[str, type[np.generic]] = {
    "id": np.int64,
    "number": np.float64,
    "amount": np.float64,
    "label": np.int64,
}
_JSON_NAMES = {bool: "boolean", int: "number", float: "number", str: "string"}
_JSON_NAMES.update({list: "array", dict: "object"})


@dataclass(frozen=True)
class JsonRows:
    """The fields of JSON rows as a raw frame, their row numbers, and the values already
    reported for their JSON type."""

    raw: pd.DataFrame
    rows: npt.NDArray[np.int64]
    reported: dict[str, npt.NDArray[np.bool_]]


def parse_objects(
    values: Sequence[tuple[int, bytes | None]], file: str, log: ProblemLog
) -> tuple[list[dict[str, Any]], npt.NDArray[np.int64]]:
    """The JSON objects among ``(row, text)`` pairs and their rows; a row that is not a JSON
    object is logged. (JSON is parsed row by row: orjson does it in about 1 µs a row.)"""
    objects, rows = [], []
    for row, text in values:
        if not text:
            log.add(file, row, None, "empty: a row is a JSON object")
            continue
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            log.add(file, row, None, f"not valid JSON ({exc})")
            continue
        if isinstance(item, dict):
            objects.append(item)
            rows.append(row)
        else:
            log.add(file, row, None, f"a JSON {_json_name(item)}, not an object")
    return objects, np.asarray(rows, dtype=np.int64)


def _json_name(value: object) -> str:
    return "null" if value is None else _JSON_NAMES.get(type(value), type(value).__name__)


def json_frame(
    objects: list[dict[str, Any]],
    rows: npt.NDArray[np.int64],
    rules: Sequence[FieldRule],
    *,
    file: str,
    log: ProblemLog,
    numeric_time: bool = False,
) -> JsonRows | None:
    """The rules' fields of ``objects`` as a raw frame (``None`` if a required key is in no
    object: logged as a missing column). A value of the wrong JSON type is logged here and
    marked in :attr:`JsonRows.reported`; ``numeric_time``: timestamps are numbers."""
    table = pd.DataFrame(objects, dtype=object)
    if missing_columns(table.columns, rules, file, log):
        return None
    raw = pd.DataFrame(index=range(len(table)))
    reported: dict[str, npt.NDArray[np.bool_]] = {}
    for rule in rules:
        if rule.column not in table:
            continue
        column = table[rule.column].where(table[rule.column].notna(), None)
        numeric = rule.kind == "timestamp" and numeric_time
        allowed = (int, float) if numeric else _TYPES[rule.kind]
        expected = "a number" if numeric else _EXPECTED[rule.kind]
        kinds = column.map(type)
        present = column.notna()
        wrong = (present & ~kinds.isin(allowed)).to_numpy()
        log.add_rows(file, rows, rule.column, wrong, _wrong_type(column, expected))
        typed = present.all() and not wrong.any()
        if typed and (rule.kind != "label" or kinds.isin((bool, int)).all()):
            column = _as_numpy(column, np.float64 if numeric else _NUMPY.get(rule.kind))
        raw[rule.field] = column
        reported[rule.field] = wrong
    return JsonRows(raw, rows, reported)


def _as_numpy(column: pd.Series[Any], dtype: type[np.generic] | None) -> pd.Series[Any]:
    """JSON numbers, all there and of their type, as a numpy column (checked as typed values,
    as Arrow's parsed CSV cells are); the objects themselves if they do not fit ``dtype``."""
    if dtype is None:
        return column
    try:
        return pd.Series(column.to_numpy().astype(dtype))
    except (OverflowError, TypeError, ValueError):  # e.g. an id above 2^63-1: named as such later
        return column


def _wrong_type(column: pd.Series[Any], expected: str) -> Callable[[int], str]:
    def message(position: int) -> str:
        value = column.iat[position]
        scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
        shown = f" {quote(value)}" if scalar else ""
        return f"a JSON {_json_name(value)}{shown}, not {expected}"

    return message
