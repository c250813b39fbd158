"""Checking and converting a column of timestamps to UTC, as the spec's ``[timestamps]`` says.

- ``format = None``: ISO 8601 (``2018-06-18T10:00:00Z``, ``2018-06-18 12:00:00+02:00``,
  ``2018-06-18``...). A time with an offset (or ``Z``) is converted to UTC; one without is local
  time in ``timezone``. Both kinds may be mixed in one column.
- a ``strptime`` format: every value must match it exactly; with ``%z`` the values carry their
  offset, without it they are local time in ``timezone``.
- ``epoch_s`` / ``epoch_ms``: numbers of seconds / milliseconds since 1970-01-01 UTC.
- a typed column (Parquet timestamps): an aware one is converted, a naive one is local time.

A local time that does not exist or exists twice (a daylight-saving change) is read as the
first of the two, or shifted forward past the gap, and counted, so the reader can say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.data.problem_log import ColumnChecks, quote
from models.data.values import MISSING, as_text, numbers
from models.features.spec import Timestamps

__all__ = ["EPOCH_FORMATS", "utc_times"]

#: The numeric formats and their units in nanoseconds.
EPOCH_FORMATS = {"epoch_s": 1_000_000_000, "epoch_ms": 1_000_000}
#: ISO 8601 with an offset or Z after the time.
_ISO_WITH_OFFSET = r".*\d[T ]\d{2}.*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)"
_ISO_EXAMPLE = "2018-06-18T10:00:00Z"
_NAT = np.datetime64("NaT", "ns")

UtcTimes = npt.NDArray[np.datetime64]


def utc_times(
    raw: pd.Series[Any], timestamps: Timestamps, checks: ColumnChecks
) -> tuple[UtcTimes, npt.NDArray[np.bool_]]:
    """The UTC times (``datetime64[ns]``, NaT where a row failed) and which rows were local
    times moved by a daylight-saving change."""
    if raw.dtype.kind == "M":
        return _from_datetimes(raw, timestamps.timezone, checks)
    unit = EPOCH_FORMATS.get(timestamps.format or "")
    if unit is not None:
        return _from_epoch(raw, unit, checks), np.zeros(len(raw), dtype=bool)
    text = as_text(raw)
    checks.fail((text == "").to_numpy(), MISSING)  # blanks do not parse: they are named
    fmt = timestamps.format
    aware = (
        text.str.fullmatch(_ISO_WITH_OFFSET).to_numpy()
        if fmt is None
        else np.full(len(text), "%z" in fmt or "%Z" in fmt)
    )
    parsed = np.full(len(text), _NAT)
    parsed[aware] = _parse(text[aware], fmt, utc=True)
    local = pd.Series(_parse(text[~aware], fmt, utc=False))
    utc, moved = _localize(local, timestamps.timezone)
    parsed[~aware] = utc
    checks.fail(np.isnat(parsed), lambda i: _unreadable(text.iat[i], fmt))
    shifted = np.zeros(len(text), dtype=bool)
    shifted[~aware] = moved
    return parsed, shifted & ~checks.bad


def _unreadable(value: str, fmt: str | None) -> str:
    if fmt is None:
        return f"{quote(value)} is not an ISO 8601 time (such as {_ISO_EXAMPLE})"
    return f"{quote(value)} does not match the time format {fmt!r}"


def _parse(text: pd.Series[Any], fmt: str | None, *, utc: bool) -> UtcTimes:
    """Parsed times, NaT where a value does not parse; naive unless ``utc``."""
    if text.empty:
        return np.array([], dtype="datetime64[ns]")
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=utc)
    if utc:
        parsed = parsed.dt.tz_localize(None)
    return parsed.to_numpy("datetime64[ns]")


def _localize(local: pd.Series[Any], zone: str) -> tuple[UtcTimes, npt.NDArray[np.bool_]]:
    """Local times in ``zone`` as UTC, and which were moved (repeated or skipped hours)."""
    if zone == "UTC" or local.empty:
        return local.to_numpy("datetime64[ns]"), np.zeros(len(local), dtype=bool)
    strict = local.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    moved = (strict.isna() & local.notna()).to_numpy()
    if moved.any():
        first = np.ones(len(local), dtype=bool)  # an hour seen twice: its first (summer) time
        strict = local.dt.tz_localize(zone, ambiguous=first, nonexistent="shift_forward")
    return strict.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]"), moved


def _from_datetimes(
    raw: pd.Series[Any], zone: str, checks: ColumnChecks
) -> tuple[UtcTimes, npt.NDArray[np.bool_]]:
    checks.fail(raw.isna().to_numpy(), MISSING)
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        utc = raw.dt.tz_convert("UTC").dt.tz_localize(None)
        return utc.to_numpy("datetime64[ns]"), np.zeros(len(raw), dtype=bool)
    times, moved = _localize(raw, zone)
    return times, moved & ~checks.bad


def _from_epoch(raw: pd.Series[Any], unit: int, checks: ColumnChecks) -> UtcTimes:
    """Seconds or milliseconds since 1970 (whole numbers exactly, fractions to the ns)."""
    values = numbers(raw, checks)
    lowest, highest = pd.Timestamp.min.value // unit + 1, pd.Timestamp.max.value // unit
    checks.fail((values < lowest) | (values > highest), "out of range: a time from 1677 to 2262")
    whole = np.floor(values)
    nanos = whole.astype(np.int64) * unit + np.round((values - whole) * unit).astype(np.int64)
    return np.where(checks.bad, _NAT, nanos.astype("datetime64[ns]"))
