"""From a file's raw rows to typed event columns: which field is read how, and from where.

:func:`convert_rows` is the one validation every source shares (CSV, Parquet, JSON lines and
recordings): it takes a raw frame whose columns are already named by event field (see
:mod:`models.data.values` for what a raw column may hold), checks every value of every field,
logs a problem per bad value with its file, row and column, and returns the rows that passed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.data import values
from models.data.problem_log import ColumnChecks, ProblemLog
from models.data.timestamps import utc_times
from models.features.spec import FeatureSpec, NumberField, Timestamps

__all__ = [
    "ConvertedRows",
    "FieldRule",
    "Kind",
    "convert_rows",
    "event_rules",
    "label_file_rules",
    "label_rule",
    "missing_columns",
]

Kind = Literal["id", "number", "amount", "timestamp", "category", "label"]
_DTYPES = {
    "id": "int64",
    "number": "float64",
    "amount": "float64",
    "category": "object",
    "label": "int64",
}


@dataclass(frozen=True)
class FieldRule:
    """How one field is read: its kind, the column (or JSON key) that holds it, its range."""

    field: str
    column: str
    kind: Kind
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None


def event_rules(spec: FeatureSpec, *, mapped: bool = True) -> tuple[FieldRule, ...]:
    """The rules of every event field, in :attr:`FeatureSpec.fields` order; the columns are the
    spec's mapping (``mapped``) or the field names (events on a topic)."""
    rules = []
    for name in spec.fields:
        kind = cast(Kind, "amount" if name == "amount" else spec.field_type(name))
        declared = spec.event.get(name)
        bounds = (declared.min, declared.max) if isinstance(declared, NumberField) else (None, None)
        column = spec.column_of(name) if mapped else name
        rules.append(FieldRule(name, column, kind, minimum=bounds[0], maximum=bounds[1]))
    return tuple(rules)


def label_rule(spec: FeatureSpec, *, required: bool) -> FieldRule:
    """The rule of the label column (0/1)."""
    return FieldRule("label", spec.column_of("label"), "label", required=required)


def label_file_rules(spec: FeatureSpec) -> tuple[FieldRule, FieldRule]:
    """A label file's rules: the transaction id, and the label (optional: absent, a fraud)."""
    id_column = spec.column_of("transaction_id")
    return FieldRule("transaction_id", id_column, "id"), label_rule(spec, required=False)


def missing_columns(
    present: Collection[str], rules: Sequence[FieldRule], file: str, log: ProblemLog
) -> bool:
    """Log each required column not in ``present``; whether any was missing."""
    missing = [rule for rule in rules if rule.required and rule.column not in present]
    for rule in missing:
        holds = f"the {rule.field} field" if rule.field != "label" else "the fraud label"
        log.add(file, None, rule.column, f"missing column (it holds {holds})")
    return bool(missing)


@dataclass(frozen=True)
class ConvertedRows:
    """The rows of one file that passed every check, typed, and their row numbers."""

    frame: pd.DataFrame
    rows: npt.NDArray[np.int64]
    #: Transaction ids read from every row whose id was valid, whatever else was wrong.
    known_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def convert_rows(
    raw: pd.DataFrame,
    rules: Sequence[FieldRule],
    *,
    file: str,
    rows: npt.NDArray[np.int64],
    log: ProblemLog,
    timestamps: Timestamps,
    reported: Mapping[str, npt.NDArray[np.bool_]] | None = None,
) -> ConvertedRows:
    """Check and convert every field of ``raw`` (columns named by field; a field that is not
    there is skipped). ``rows`` numbers the rows in problems; ``reported`` marks values the
    reader already reported (a JSON value of the wrong type), so they are not reported again."""
    raw = raw.reset_index(drop=True)
    failed = np.zeros(len(raw), dtype=bool)
    columns: dict[str, pd.Series[Any]] = {}
    known_ids: npt.NDArray[np.generic] = np.zeros(0, dtype=np.int64)
    for rule in rules:
        if rule.field not in raw:
            continue
        already = (reported or {}).get(rule.field)
        checks = ColumnChecks.of(len(raw)) if already is None else ColumnChecks(already.copy())
        if rule.kind == "timestamp":
            times, moved = utc_times(raw[rule.field], timestamps, checks)
            _note_moved(moved, timestamps.timezone, file, rows, log)
            columns[rule.field] = pd.Series(times).dt.tz_localize("UTC")
        else:
            converted = _values(raw[rule.field], checks, rule)
            columns[rule.field] = pd.Series(converted, dtype=_DTYPES[rule.kind])
            if rule.field == "transaction_id":
                known_ids = converted[~checks.bad]
        for mask, message in checks.failures:
            log.add_rows(file, rows, rule.column, mask, message)
        failed |= checks.bad
    kept = ~failed
    frame = pd.DataFrame({name: column[kept] for name, column in columns.items()})
    return ConvertedRows(frame.reset_index(drop=True), rows[kept], known_ids.astype(np.int64))


def _values(raw: pd.Series[Any], checks: ColumnChecks, rule: FieldRule) -> npt.NDArray[np.generic]:
    """The typed values of a field other than the timestamp."""
    if rule.kind == "id":
        return values.ids(raw, checks)
    if rule.kind == "category":
        return values.categories(raw, checks)
    if rule.kind == "label":
        return values.labels(raw, checks)
    numbers = values.numbers(raw, checks, minimum=rule.minimum, maximum=rule.maximum)
    if rule.kind == "amount":
        checks.fail(numbers < 0, "negative: an amount is 0 or more")
    return numbers


def _note_moved(
    moved: npt.NDArray[np.bool_],
    zone: str,
    file: str,
    rows: npt.NDArray[np.int64],
    log: ProblemLog,
) -> None:
    if moved.any():
        first = int(rows[np.argmax(moved)])
        log.note(
            f"{int(moved.sum()):,} local times in {file} fell in a daylight-saving change of "
            f"{zone} (an hour repeated or skipped): read as the first of a repeated hour, "
            f"shifted forward past a skipped one (first: row {first})"
        )
