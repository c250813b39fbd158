"""Collecting what is wrong with data files, to report it all at once.

Checks run on whole columns: a check yields a mask of the bad rows, and only those rows are
visited to word a problem, and only while the log has room (:data:`PROBLEM_LIMIT`); past that,
problems are counted but not kept. Values are quoted only when short, never in full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.errors import DataError, DataProblem

__all__ = ["PROBLEM_LIMIT", "ColumnChecks", "Message", "ProblemLog", "quote"]

#: How many problems a log keeps in full; it counts every one.
PROBLEM_LIMIT = 1000
_QUOTED_CHARS = 24

#: A problem's message: fixed, or made from the row's position in the checked column.
Message = str | Callable[[int], str]


def quote(value: object) -> str:
    """``value`` quoted for a message if short; else its start and its length."""
    text = str(value)
    if len(text) <= _QUOTED_CHARS:
        return repr(text)
    return f"{text[: _QUOTED_CHARS - 4]!r}... ({len(text):,} characters)"


@dataclass
class ColumnChecks:
    """The failed checks of one column: a row is reported for its first problem only."""

    bad: npt.NDArray[np.bool_]
    failures: list[tuple[npt.NDArray[np.bool_], Message]] = field(default_factory=list)

    @classmethod
    def of(cls, length: int) -> ColumnChecks:
        """Checks of a column of ``length`` rows, none failed yet."""
        return cls(np.zeros(length, dtype=bool))

    def fail(self, mask: npt.NDArray[np.bool_], message: Message) -> None:
        """Rows where ``mask`` is true fail with ``message`` (unless they failed already)."""
        new = np.asarray(mask, dtype=bool) & ~self.bad
        if new.any():
            self.failures.append((new, message))
            self.bad |= new


@dataclass
class ProblemLog:
    """Problems found so far (the first :attr:`limit` of them in full) and notes for the user."""

    limit: int = PROBLEM_LIMIT
    problems: list[DataProblem] = field(default_factory=list)
    total: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def room(self) -> int:
        """How many more problems are kept in full."""
        return max(self.limit - len(self.problems), 0)

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        """Log one problem."""
        self.total += 1
        if self.room:
            self.problems.append(DataProblem(file, row, column, message))

    def add_rows(
        self,
        file: str,
        rows: npt.NDArray[np.int64],
        column: str | None,
        bad: npt.NDArray[np.bool_],
        message: Message,
    ) -> None:
        """Log a problem for each position where ``bad`` is true; ``rows`` gives each position's
        row number. Only the positions that fit in the log are visited."""

        def problem(position: int) -> DataProblem:
            text = message(position) if callable(message) else message
            return DataProblem(file, int(rows[position]), column, text)

        self.add_each(np.flatnonzero(bad), problem)

    def add_each(
        self, positions: npt.NDArray[np.intp], problem: Callable[[int], DataProblem]
    ) -> None:
        """Log ``problem(position)`` for each of ``positions`` (only those that fit are made)."""
        self.total += len(positions)
        self.problems.extend(problem(int(position)) for position in positions[: self.room])

    def note(self, text: str) -> None:
        """Something the user should know that is not an error."""
        self.notes.append(text)

    def error(self) -> DataError:
        """The problems as one error, by file (in the order first met), then row."""
        rank = {file: n for n, file in enumerate(dict.fromkeys(p.file for p in self.problems))}
        ordered = sorted(self.problems, key=lambda p: (rank[p.file], p.row or 0))
        return DataError(ordered, self.total)

    def raise_if_any(self) -> None:
        """Raise :meth:`error` if any problem was logged."""
        if self.total:
            raise self.error()
