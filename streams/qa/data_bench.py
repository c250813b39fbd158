"""How reading transactions and computing their features scales: the bundled file against a
larger one made from it.

The larger file repeats the bundled transactions with each copy shifted by the bundled span
(58 days, and one more) and new transaction and card ids, so every copy has the same traffic
pattern and the windows the same work per row (the last copy is cut at the number of rows
asked). It is written in the bundled file's format (CSV, xz) and read by the same code
(:func:`models.data.sources.read_transactions_data` with the handbook's spec, then
:func:`models.features.batch.compute_features`). The benchmark prints the seconds per row of
both and their ratio: reading and features should scale linearly.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from models.data.handbook import TRANSACTIONS_FILE
from models.data.sources import read_transactions_data
from models.features.batch import compute_features
from models.features.spec import handbook_spec

__all__ = ["DataBenchResult", "make_larger_file", "run_data_bench"]


@dataclass(frozen=True)
class DataBenchResult:
    """Per-row times (medians of ``repeats``) of the bundled and the larger file."""

    bundled_rows: int
    larger_rows: int
    bundled_seconds: list[float]
    larger_seconds: list[float]

    @property
    def bundled_per_row_us(self) -> float:
        """Median microseconds per row, bundled file."""
        return statistics.median(self.bundled_seconds) / self.bundled_rows * 1e6

    @property
    def larger_per_row_us(self) -> float:
        """Median microseconds per row, larger file."""
        return statistics.median(self.larger_seconds) / self.larger_rows * 1e6

    @property
    def ratio(self) -> float:
        """Per-row time of the larger file over the bundled one's."""
        return self.larger_per_row_us / self.bundled_per_row_us

    def markdown(self) -> str:
        """A table of the measurement."""
        runs = len(self.bundled_seconds)

        def row(name: str, rows: int, seconds: list[float], per_row: float) -> str:
            listed = ", ".join(f"{s:.2f}" for s in seconds)
            median = statistics.median(seconds)
            return f"| {name} | {rows:,} | {median:.2f} ({listed}) | {per_row:.2f} |"

        return "\n".join(
            [
                f"| file | rows | read + 15 features, s (median of {runs}; runs) | µs per row |",
                "|---|---|---|---|",
                row(
                    "bundled (csv.xz)",
                    self.bundled_rows,
                    self.bundled_seconds,
                    self.bundled_per_row_us,
                ),
                row(
                    "larger (csv.xz)", self.larger_rows, self.larger_seconds, self.larger_per_row_us
                ),
                "",
                f"Per-row time of the larger file / the bundled one: **{self.ratio:.2f}**.",
            ]
        )


def make_larger_file(path: Path, rows: int) -> int:
    """Write ``rows`` transactions (copies of the bundled ones, shifted; the last one cut short)
    to ``path`` (``.csv.xz``); return how many were written."""
    bundled = pd.read_csv(TRANSACTIONS_FILE, parse_dates=["TX_DATETIME"])
    span = bundled["TX_DATETIME"].max().normalize() - bundled["TX_DATETIME"].min().normalize()
    shift = span + pd.Timedelta(days=1)
    copies = -(-rows // len(bundled))
    ids, cards = int(bundled["TRANSACTION_ID"].max()) + 1, int(bundled["CUSTOMER_ID"].max()) + 1
    parts = []
    for k in range(copies):
        part = bundled.copy()
        part["TRANSACTION_ID"] += k * ids
        part["CUSTOMER_ID"] += k * cards
        part["TX_DATETIME"] = (part["TX_DATETIME"] + k * shift).dt.strftime("%Y-%m-%d %H:%M:%S")
        parts.append(part)
    larger = pd.concat(parts, ignore_index=True).iloc[:rows]
    larger.to_csv(path, index=False, compression={"method": "xz", "preset": 1})
    return len(larger)


def _timed(path: Path) -> tuple[int, float]:
    spec = handbook_spec()
    started = time.perf_counter()
    data = read_transactions_data([path], spec)
    compute_features(data.frame, spec)
    return len(data.frame), time.perf_counter() - started


def run_data_bench(
    workdir: Path,
    *,
    rows: int = 1_300_000,
    repeats: int = 3,
    say: Callable[[str], None] = print,
) -> DataBenchResult:
    """Time reading and computing the handbook's features of the bundled file and of a file of
    about ``rows`` made from it, ``repeats`` times each, alternating."""
    larger = workdir / f"transactions_{rows}.csv.xz"
    say(f"writing {larger} (copies of the bundled transactions)…")
    written = make_larger_file(larger, rows)
    bundled_seconds: list[float] = []
    larger_seconds: list[float] = []
    bundled_rows = 0
    for run in range(1, repeats + 1):
        bundled_rows, seconds = _timed(TRANSACTIONS_FILE)
        bundled_seconds.append(seconds)
        _, seconds = _timed(larger)
        larger_seconds.append(seconds)
        say(f"run {run}: bundled {bundled_seconds[-1]:.2f} s, larger {larger_seconds[-1]:.2f} s")
    return DataBenchResult(bundled_rows, written, bundled_seconds, larger_seconds)
