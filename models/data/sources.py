"""A fraud team's own labelled transactions, read from files and checked against a feature spec.

:func:`read_transactions_data` reads one or more transaction files (and optional label files)
into one :class:`TransactionData`, or raises one :class:`~models.errors.DataError` that names
every problem found (file, row, column and what is wrong; the first 1,000 kept, all counted).

**Files.** The kind comes from the name (any case): ``.csv`` (UTF-8, a header row),
``.parquet``, ``.jsonl`` / ``.ndjson`` (one JSON object per line); CSV and JSON lines may be
compressed, ``.gz`` or ``.xz`` after their suffix. Each file needs the spec's mapped column of
every event field (``spec.column_of``); other columns are ignored. Rows are numbered from 1:
CSV rows after the header, JSON lines by line, Parquet rows by position.

**Values.** Ids are integers 0 .. 2^63-1; ``amount`` a finite number >= 0; a ``number`` field a
finite number within its min and max; a ``category`` a string of 1 to 64 characters (unknown
values are kept: they are bucketed later); timestamps as the spec's ``[timestamps]`` says
(:mod:`models.data.timestamps`). CSV cells are read as text and converted here; a row whose
cell count differs from the header's is an error; blank rows are skipped (and noted).

**Labels.** By default the label column of the transaction files: ``0``, ``1``, ``true`` or
``false``. With ``labels=`` files (same kinds), each row names a transaction by id, with a label
column or without one (every row listed is then a fraud); the transaction files then need no
label column (an unlisted transaction is 0), and a label file overrides theirs. A label naming
a transaction that no transaction file has is an error, as are two labels that disagree.

**Order.** A transaction id may be used once across all files. Rows out of time order are
sorted (stably) by timestamp, with a note. Reading stays on whole columns (Arrow's CSV reader,
pandas, numpy): only rows with problems are visited one by one.
"""

from __future__ import annotations

import csv
import gzip
import io
import lzma
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from models.data.columns import (
    ConvertedRows,
    FieldRule,
    convert_rows,
    event_rules,
    label_file_rules,
    label_rule,
    missing_columns,
)
from models.data.json_rows import json_frame, parse_objects
from models.data.problem_log import ProblemLog
from models.data.timestamps import EPOCH_FORMATS
from models.data.transaction_data import EventPart, LabelPart, TransactionData, assemble
from models.errors import DataError, DataProblem, DatasetError
from models.features.spec import FeatureSpec, Timestamps

__all__ = [
    "DataError",
    "DataProblem",
    "TransactionData",
    "file_kind",
    "read_transactions_data",
]

FileKind = Literal["csv", "jsonl", "parquet"]
_KINDS: dict[str, FileKind] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_KNOWN = ".csv, .jsonl or .ndjson (each optionally .gz or .xz), or .parquet"
#: Cells that Arrow may parse directly, because the text path would read them the same way.
_PLAIN = {
    "id": (r"^[0-9]{1,18}$", pa.int64()),
    "amount": (r"^[0-9]+(\.[0-9]+)?$", pa.float64()),
    "number": (r"^-?[0-9]+(\.[0-9]+)?$", pa.float64()),
    "label": (r"^[01]$", pa.int64()),
}


def file_kind(path: Path) -> tuple[FileKind, str] | None:
    """The kind of file and its compression (``""``, ``.gz``, ``.xz``) from its name."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet", ""
    compression = next((c for c in (".gz", ".xz") if name.endswith(c)), "")
    stem = Path(name.removesuffix(compression))
    kind = _KINDS.get(stem.suffix)
    return None if kind is None else (kind, compression)


def read_transactions_data(
    paths: Sequence[Path], spec: FeatureSpec, *, labels: Sequence[Path] = ()
) -> TransactionData:
    """Every transaction of ``paths`` (labelled by ``labels`` if given), checked against
    ``spec``; :class:`DataError` lists every problem found."""
    if not paths:
        msg = "no transaction files to read"
        raise DatasetError(msg)
    log = ProblemLog()
    rules = (*event_rules(spec), label_rule(spec, required=not labels))
    parts = []
    for path in paths:
        converted = _read(path, rules, spec.timestamps, log, empty_ok=False)
        if converted is not None:
            parts.append(EventPart(str(path), spec.column_of("transaction_id"), converted))
    label_parts = [part for path in labels if (part := _read_labels(path, spec, log)) is not None]
    if not parts:
        raise log.error()
    return assemble(
        parts,
        label_parts,
        log,
        fields=spec.fields,
        sources=[str(path) for path in (*paths, *labels)],
        all_read=len(parts) == len(paths),
    )


def _read_labels(path: Path, spec: FeatureSpec, log: ProblemLog) -> LabelPart | None:
    rules = label_file_rules(spec)
    converted = _read(path, rules, spec.timestamps, log, empty_ok=True)
    if converted is None:
        return None
    frame = converted.frame
    ids = frame["transaction_id"].to_numpy(np.int64) if len(frame) else np.zeros(0, np.int64)
    labels = frame["label"].to_numpy(np.int64) if "label" in frame else np.ones_like(ids)
    return LabelPart(str(path), rules[0].column, rules[1].column, ids, labels, converted.rows)


def _read(
    path: Path,
    rules: Sequence[FieldRule],
    timestamps: Timestamps,
    log: ProblemLog,
    *,
    empty_ok: bool,
) -> ConvertedRows | None:
    """The checked rows of one file, or ``None`` when the file as a whole is unusable."""
    raw = _read_raw(path, rules, timestamps, log)
    if raw is None:
        return None
    frame, rows, reported = raw
    if not len(frame) and not empty_ok:
        log.add(str(path), None, None, "no rows: a transaction file needs at least one")
        return None
    return convert_rows(
        frame, rules, file=str(path), rows=rows, log=log, timestamps=timestamps, reported=reported
    )


_UNREADABLE = (OSError, EOFError, lzma.LZMAError, zlib.error, UnicodeDecodeError, csv.Error)


def _read_raw(
    path: Path, rules: Sequence[FieldRule], timestamps: Timestamps, log: ProblemLog
) -> Raw | None:
    """The file's raw rows; ``None`` (and a problem logged) if the file cannot be used."""
    kind = file_kind(path)
    if kind is None:
        log.add(str(path), None, None, f"not a kind of file this reads: {_KNOWN}")
        return None
    if not path.is_file():
        log.add(str(path), None, None, "no such file" if not path.exists() else "not a file")
        return None
    try:
        return _READERS[kind[0]](path, kind[1], rules, timestamps, log)
    except (*_UNREADABLE, pa.ArrowException) as exc:
        log.add(str(path), None, None, _unreadable(exc, *kind))
        return None


def _unreadable(exc: Exception, kind: FileKind, compression: str) -> str:
    """What an exception raised while reading says about the file, in a few words."""
    if isinstance(exc, gzip.BadGzipFile | EOFError | lzma.LZMAError | zlib.error):
        return f"corrupt or truncated {compression} data ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException):
        return f"cannot read the file: {exc.strerror or exc}"
    reason = (str(exc).splitlines() or [type(exc).__name__])[0][:100]
    if kind == "parquet":
        return f"not a valid Parquet file ({reason})"
    if "UTF8" in reason:
        return "not UTF-8 text"
    return f"not a readable CSV file ({reason})"


#: A reader's result: the raw frame (columns named by field), row numbers, values it reported.
Raw = tuple[pd.DataFrame, npt.NDArray[np.int64], dict[str, npt.NDArray[np.bool_]]]
Reader = Callable[[Path, str, Sequence[FieldRule], Timestamps, ProblemLog], Raw | None]


def _open(path: Path, compression: str) -> io.BufferedIOBase:
    if compression == ".gz":
        return gzip.open(path, "rb")
    if compression == ".xz":
        return lzma.open(path, "rb")
    return path.open("rb")


# --- CSV -------------------------------------------------------------------------------------
def _read_csv(
    path: Path,
    compression: str,
    rules: Sequence[FieldRule],
    timestamps: Timestamps,
    log: ProblemLog,
) -> Raw | None:
    file = str(path)
    with _open(path, compression) as handle:
        first_line = handle.readline()
    header = next(csv.reader([first_line.decode("utf-8-sig")]), [])
    if not header:
        log.add(file, None, None, "empty file: not even a header row")
        return None
    repeated = sorted({rule.column for rule in rules if header.count(rule.column) > 1})
    for column in repeated:
        log.add(file, None, column, "the header has this column more than once")
    if missing_columns(header, rules, file, log) or repeated:
        return None
    wanted = {rule.column: rule for rule in rules if rule.column in header}
    problems = log.total
    table, rows = _csv_table(path, compression, list(wanted), log)
    if not table.num_rows and log.total > problems:
        return None  # every row was ragged: those are the problems, not "no rows"
    if table.num_rows:
        blank = np.logical_and.reduce([pc.equal(table[column], "").to_numpy() for column in wanted])
        if blank.any():
            log.note(f"{int(blank.sum()):,} blank rows of {file} were skipped")
            table, rows = table.filter(pa.array(~blank)), rows[~blank]
    frame = pd.DataFrame(
        {
            rule.field: _csv_column(table[column], rule, timestamps)
            for column, rule in wanted.items()
        }
    )
    return frame, rows, {}


def _csv_table(
    path: Path, compression: str, columns: list[str], log: ProblemLog
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """The columns as text, and each row's number; rows with too many or too few cells are
    logged and left out."""
    ragged: list[tuple[int | None, int, int]] = []

    def skip(row: pa_csv.InvalidRow) -> str:
        ragged.append((row.number, row.actual_columns, row.expected_columns))
        return "skip"

    with _open(path, compression) as handle:
        table = pa_csv.read_csv(
            handle,
            # One thread: Arrow then numbers the rows it skips (the time goes to decompression).
            read_options=pa_csv.ReadOptions(use_threads=False),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=skip
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=columns,
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    # Arrow numbers records from the header (1); data rows are numbered from the first after it.
    skipped = [number - 1 for number, _, _ in ragged if number is not None]
    for number, actual, expected in ragged:
        row = None if number is None else number - 1
        log.add(str(path), row, None, f"{actual} cells, but the header has {expected}")
    rows = np.arange(1, table.num_rows + len(skipped) + 1, dtype=np.int64)
    return table, np.delete(rows, np.asarray(skipped, dtype=np.int64) - 1)


def _csv_column(text: pa.ChunkedArray, rule: FieldRule, timestamps: Timestamps) -> pd.Series[Any]:
    """A column of text, parsed by Arrow when every cell is a plain number (the fast path);
    as strings otherwise, for :mod:`models.data.values` to check one by one."""
    kind = (
        "number" if rule.kind == "timestamp" and timestamps.format in EPOCH_FORMATS else rule.kind
    )
    plain = _PLAIN.get(kind)
    if plain is not None and pc.all(pc.match_substring_regex(text, plain[0])).as_py():
        parsed: npt.NDArray[Any] = pc.cast(text, plain[1]).to_numpy()
        return pd.Series(parsed)
    strings: pd.Series[Any] = text.to_pandas(deduplicate_objects=False)
    return strings


# --- JSON lines ----------------------------------------------------------------------------
def _read_jsonl(
    path: Path,
    compression: str,
    rules: Sequence[FieldRule],
    timestamps: Timestamps,
    log: ProblemLog,
) -> Raw | None:
    file = str(path)
    with _open(path, compression) as handle:
        data = handle.read()
    lines = [(n, line) for n, line in enumerate(data.split(b"\n"), start=1) if line.strip()]
    if not lines:
        return pd.DataFrame(), np.zeros(0, dtype=np.int64), {}
    objects, rows = parse_objects(lines, file, log)
    if not objects:
        return None  # no line held an object: each was logged
    numeric_time = timestamps.format in EPOCH_FORMATS
    got = json_frame(objects, rows, rules, file=file, log=log, numeric_time=numeric_time)
    return None if got is None else (got.raw, got.rows, got.reported)


# --- Parquet -------------------------------------------------------------------------------
def _read_parquet(
    path: Path,
    compression: str,
    rules: Sequence[FieldRule],
    timestamps: Timestamps,
    log: ProblemLog,
) -> Raw | None:
    names = pq.read_schema(path).names
    if missing_columns(names, rules, str(path), log):
        return None
    wanted = [rule for rule in rules if rule.column in names]
    table = pq.read_table(path, columns=[rule.column for rule in wanted])
    frame = pd.DataFrame({rule.field: _parquet_column(table[rule.column]) for rule in wanted})
    return frame, np.arange(1, table.num_rows + 1, dtype=np.int64), {}


def _parquet_column(values: pa.ChunkedArray) -> pd.Series[Any]:
    """Numbers and times as they are typed; strings and anything else as Python objects
    (``None`` for null), to be checked like text."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    kind = values.type
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    if numeric and values.null_count == 0:
        typed: npt.NDArray[Any] = values.to_numpy()
        return pd.Series(typed)
    if pa.types.is_timestamp(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind):
        column: pd.Series[Any] = values.to_pandas(deduplicate_objects=False)
        return column
    return pd.Series(values.to_pylist(), dtype=object)


_READERS: dict[FileKind, Reader] = {
    "csv": _read_csv,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
}
