"""Putting the checked rows of several sources together: one frame, its labels, in time order.

What can only be checked across rows and files is checked here: a transaction id used twice
(both rows named, across files too), a label file naming a transaction no transaction file has,
and two labels that disagree. Rows out of time order are not an error: the frame is sorted by
timestamp (stably) and a note says how many rows were out of order and which came first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.data.columns import ConvertedRows
from models.data.problem_log import ProblemLog
from models.errors import DataProblem
from models.features.spec import CORE_FIELDS

__all__ = ["EventPart", "LabelPart", "TransactionData", "assemble"]


@dataclass(frozen=True, eq=False)
class TransactionData:
    """Labelled transactions, checked and in time order.

    ``frame`` has ``transaction_id``, ``timestamp`` (UTC), ``card_id``, ``amount``, ``label``
    (0/1), then the spec's declared fields (id: int64, number: float64, category: str), sorted
    stably by timestamp, with a RangeIndex. ``origins`` has, for each row of ``frame``, the
    ``source`` (a position in ``sources``) and the ``row`` it was read from.
    """

    frame: pd.DataFrame
    notes: tuple[str, ...]
    sources: tuple[str, ...]
    origins: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"source": [], "row": []}, dtype="int64")
    )

    def origin(self, position: int) -> str:
        """Where row ``position`` of :attr:`frame` came from, e.g. ``tx.csv row 17``."""
        source, row = self.origins.iloc[position]
        return f"{self.sources[source]} row {row}"


@dataclass(frozen=True)
class EventPart:
    """The checked transactions of one source, and the column its transaction id is in."""

    file: str
    id_column: str
    converted: ConvertedRows


@dataclass(frozen=True)
class LabelPart:
    """The labels of one label source: transaction ids, 0/1 labels, and their rows."""

    file: str
    id_column: str
    label_column: str
    ids: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]


def assemble(
    parts: Sequence[EventPart],
    label_parts: Sequence[LabelPart],
    log: ProblemLog,
    *,
    fields: Sequence[str],
    sources: Sequence[str],
    all_read: bool,
) -> TransactionData:
    """One :class:`TransactionData` from the checked parts, or the ``DataError`` of every
    problem logged (here or before). ``all_read``: every transaction source could be read, so a
    label naming no known transaction is an error (otherwise it may be in the unread one)."""
    frame = pd.concat([part.converted.frame for part in parts], ignore_index=True)
    part_of = np.concatenate(
        [np.full(len(part.converted.rows), n, dtype=np.int64) for n, part in enumerate(parts)]
    )
    rows = np.concatenate([part.converted.rows for part in parts]).astype(np.int64)
    ids = frame["transaction_id"].to_numpy(np.int64)
    _check_unique(ids, parts, part_of, rows, log)
    known = np.concatenate([part.converted.known_ids for part in parts])
    labels = _labels_by_id(label_parts, known if all_read else None, log)
    log.raise_if_any()
    # A transaction file without a label column (allowed with label files) labels its rows 0.
    label = frame["label"].fillna(0) if "label" in frame else pd.Series(0, index=frame.index)
    frame["label"] = label.to_numpy(np.int64)
    if len(labels):  # every labelled id is known and ids are unique (checked above)
        by_id = np.argsort(ids)
        positions = by_id[np.searchsorted(ids, labels.index.to_numpy(), sorter=by_id)]
        frame.iloc[positions, frame.columns.get_loc("label")] = labels.to_numpy()
    source_of = np.asarray([list(sources).index(part.file) for part in parts], dtype=np.int64)
    origins = pd.DataFrame({"source": source_of[part_of], "row": rows})
    order = _time_order(frame, origins, sources, log)
    columns = [*CORE_FIELDS, "label", *[name for name in fields if name not in CORE_FIELDS]]
    frame = frame.iloc[order][columns].reset_index(drop=True)
    return TransactionData(
        frame, tuple(log.notes), tuple(sources), origins.iloc[order].reset_index(drop=True)
    )


def _check_unique(
    ids: npt.NDArray[np.int64],
    parts: Sequence[EventPart],
    part_of: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    log: ProblemLog,
) -> None:
    """Each repeated transaction id is logged at its repeat, naming its first row."""
    repeats = np.flatnonzero(pd.Series(ids).duplicated(keep="first").to_numpy())
    if not len(repeats):
        return
    unique, first = np.unique(ids, return_index=True)
    first_of = first[np.searchsorted(unique, ids[repeats])]

    def problem(k: int) -> DataProblem:
        at, was = repeats[k], first_of[k]
        part = parts[part_of[at]]
        message = (
            f"transaction id {ids[at]} is used twice: "
            f"also at {parts[part_of[was]].file} row {rows[was]}"
        )
        return DataProblem(part.file, int(rows[at]), part.id_column, message)

    log.add_each(np.arange(len(repeats)), problem)


def _labels_by_id(
    label_parts: Sequence[LabelPart], known: npt.NDArray[np.int64] | None, log: ProblemLog
) -> pd.Series[Any]:
    """The label of each transaction named in ``label_parts`` (by id); logs labels of unknown
    transactions (when ``known`` is given) and labels that contradict an earlier one."""
    if not label_parts:
        return pd.Series([], dtype=np.int64)
    ids = np.concatenate([part.ids for part in label_parts])
    labels = np.concatenate([part.labels for part in label_parts])
    part_of = np.concatenate(
        [np.full(len(part.ids), n, dtype=np.int64) for n, part in enumerate(label_parts)]
    )
    rows = np.concatenate([part.rows for part in label_parts])
    if known is not None:
        unknown = np.flatnonzero(~np.isin(ids, known))

        def stranger(k: int) -> DataProblem:
            part = label_parts[part_of[k]]
            message = f"transaction {ids[k]} is not among the transactions read"
            return DataProblem(part.file, int(rows[k]), part.id_column, message)

        log.add_each(unknown, stranger)
    unique, first = np.unique(ids, return_index=True)
    first_of = first[np.searchsorted(unique, ids)]
    clashes = np.flatnonzero(labels != labels[first_of])

    def clash(k: int) -> DataProblem:
        part, was = label_parts[part_of[k]], first_of[k]
        message = (
            f"label {labels[k]} for transaction {ids[k]}, but "
            f"{label_parts[part_of[was]].file} row {rows[was]} says {labels[was]}"
        )
        return DataProblem(part.file, int(rows[k]), part.label_column, message)

    log.add_each(clashes, clash)
    return pd.Series(labels[first], index=unique)


def _time_order(
    frame: pd.DataFrame, origins: pd.DataFrame, sources: Sequence[str], log: ProblemLog
) -> npt.NDArray[np.intp]:
    """The stable order by timestamp; notes how many rows were out of order, and the first."""
    times = frame["timestamp"].dt.tz_localize(None).to_numpy()
    late = np.zeros(len(times), dtype=bool)
    late[1:] = times[1:] < np.maximum.accumulate(times)[:-1]
    if late.any():
        source, row = origins.iloc[int(np.argmax(late))]
        log.note(
            f"{int(late.sum()):,} rows were out of time order: sorted by timestamp "
            f"(first: {sources[source]} row {row})"
        )
    return np.argsort(times, kind="stable")
