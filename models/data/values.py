"""Checking and converting one column of raw values: ids, numbers, labels and categories.

A raw column (what the readers give) is one of:

- ``object``: strings (CSV text, Parquet strings) or JSON scalars (int, float, bool, str); ``None``
  or NaN is a missing value, and so is a blank string;
- a numeric numpy dtype (Parquet, or CSV columns that Arrow already parsed): typed values, none
  missing (a float NaN is a value, reported as NaN);
- ``datetime64`` (see :mod:`models.data.timestamps`): NaT is missing.

Each function returns a numpy array as long as the column and records in ``checks`` why rows
fail; failed rows hold a placeholder. Every test runs on the whole column (Arrow's string
kernels, numpy comparisons), so only the bad rows are ever visited one by one, to word their
problems. Numbers are parsed by Arrow, correctly rounded: the same float as Python's float().
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from models.data.problem_log import ColumnChecks, quote
from models.features.spec import MAX_CATEGORY_CHARS, MAX_ID

__all__ = ["MISSING", "as_text", "categories", "ids", "labels", "numbers"]

MISSING = "missing value"
_MAX_ID_DIGITS = str(MAX_ID)
_OUT_OF_RANGE = "out of range: an id is an integer from 0 to 2^63-1"
#: Label spellings, in an order where a spelling's position modulo 2 is its label.
_LABELS = pa.array(["0", "1", "false", "true"])
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_NAN = pa.array(["nan", "+nan", "-nan"])
_INFINITE = pa.array(["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"])


def as_text(raw: pd.Series[Any]) -> pd.Series[Any]:
    """The column as strings: JSON scalars and typed values as Python writes them, ``""``
    where a value is missing."""
    if raw.dtype == object:
        return raw.astype(str).mask(raw.isna(), "")
    return raw.astype(str)


def _is_typed(raw: pd.Series[Any], kinds: str) -> bool:
    return raw.dtype != object and raw.dtype.kind in kinds


def _stripped(raw: pd.Series[Any]) -> pa.Array:
    """The column as Arrow strings without surrounding blanks (Arrow's string kernels run on
    whole columns, several times faster than pandas' string methods)."""
    return pc.utf8_trim_whitespace(pa.array(as_text(raw), type=pa.string()))


def _mask(values: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _not_a(what: str, text: pa.Array) -> Callable[[int], str]:
    def message(position: int) -> str:
        return f"{quote(text[position].as_py())} is not {what}"

    return message


def ids(raw: pd.Series[Any], checks: ColumnChecks) -> npt.NDArray[np.int64]:
    """Integers 0 .. 2^63-1 (digits, optionally signed, around blanks)."""
    if _is_typed(raw, "iu"):
        typed = raw.to_numpy()
        checks.fail(typed > MAX_ID if typed.dtype.kind == "u" else typed < 0, _OUT_OF_RANGE)
        return np.where(checks.bad, 0, typed).astype(np.int64)
    text = _stripped(raw)
    checks.fail(_mask(pc.equal(text, "")), MISSING)
    checks.fail(
        ~_mask(pc.match_substring_regex(text, r"^[+-]?[0-9]+$")), _not_a("an integer", text)
    )
    digits = pc.utf8_ltrim(pc.utf8_ltrim(text, characters="+-"), characters="0")
    checks.fail(_mask(pc.and_(pc.starts_with(text, "-"), pc.not_equal(digits, ""))), _OUT_OF_RANGE)
    length = pc.utf8_length(digits)
    longest = len(_MAX_ID_DIGITS)
    too_big = pc.or_(
        pc.greater(length, longest),
        pc.and_(pc.equal(length, longest), pc.greater(digits, _MAX_ID_DIGITS)),
    )
    checks.fail(_mask(too_big), _OUT_OF_RANGE)
    usable = pc.and_(pa.array(~checks.bad), pc.not_equal(digits, ""))
    return np.asarray(pc.cast(pc.if_else(usable, digits, "0"), pa.int64()), dtype=np.int64)


def numbers(
    raw: pd.Series[Any],
    checks: ColumnChecks,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> npt.NDArray[np.float64]:
    """Finite numbers within ``[minimum, maximum]`` (decimal text or JSON numbers)."""
    typed = _is_typed(raw, "iuf")
    values = raw.to_numpy(np.float64) if typed else _parse_numbers(raw, checks)
    checks.fail(np.isnan(values), "NaN is not a number")
    checks.fail(np.isinf(values), "infinite: a number must be finite")
    with np.errstate(invalid="ignore"):
        if minimum is not None:
            checks.fail(values < minimum, f"below the minimum of {minimum:g}")
        if maximum is not None:
            checks.fail(values > maximum, f"above the maximum of {maximum:g}")
    return np.where(checks.bad, 0.0, values)


def _parse_numbers(raw: pd.Series[Any], checks: ColumnChecks) -> npt.NDArray[np.float64]:
    """Decimal numbers (Arrow parses them exactly, as float() does); ``nan``, ``inf`` and
    ``infinity`` (any case, signed) are read too, to be named as such."""
    text = _stripped(raw)
    checks.fail(_mask(pc.equal(text, "")), MISSING)
    lowered = pc.utf8_lower(text)
    special = pc.or_(pc.is_in(lowered, value_set=_NAN), pc.is_in(lowered, value_set=_INFINITE))
    readable = pc.or_(pc.match_substring_regex(text, _DECIMAL), special)
    checks.fail(~_mask(readable), _not_a("a number", text))
    usable = pa.array(~checks.bad)
    return np.asarray(pc.cast(pc.if_else(usable, text, "0"), pa.float64()), dtype=np.float64)


def labels(raw: pd.Series[Any], checks: ColumnChecks) -> npt.NDArray[np.int64]:
    """0 or 1: ``0``, ``1``, ``false``, ``true`` (any case), a JSON boolean or 0/1."""
    if _is_typed(raw, "biu"):
        typed = raw.to_numpy().astype(np.int64)
        checks.fail(~np.isin(typed, (0, 1)), lambda i: f"{typed[i]} is not a label (0 or 1)")
        return np.where(checks.bad, 0, typed)
    text = _stripped(raw)
    checks.fail(_mask(pc.equal(text, "")), MISSING)
    spelling = pc.index_in(pc.utf8_lower(text), value_set=_LABELS)
    checks.fail(_mask(pc.is_null(spelling)), _not_a("a label (0, 1, true or false)", text))
    return np.asarray(pc.fill_null(spelling, 0), dtype=np.int64) % 2


def categories(raw: pd.Series[Any], checks: ColumnChecks) -> npt.NDArray[np.object_]:
    """Strings of 1 to 64 characters, kept as they are (unknown values are bucketed later)."""
    text = as_text(raw)
    strings = pa.array(text, type=pa.string())
    blank = pc.equal(pc.utf8_trim_whitespace(strings), "")
    checks.fail(_mask(blank), "empty: a category is 1 to 64 characters")
    length = np.asarray(pc.utf8_length(strings))
    checks.fail(
        length > MAX_CATEGORY_CHARS,
        lambda i: f"{length[i]:,} characters: a category is at most {MAX_CATEGORY_CHARS}",
    )
    return text.to_numpy(object)
