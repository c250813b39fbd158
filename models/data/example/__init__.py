"""A worked example of a fraud team's own data: a second schema, generated from the bundled one.

``fraudstream data example DIR`` writes, from the bundled handbook transactions (the same
instants, cards and amounts, so their fraud patterns are real):

- ``transactions.csv.gz`` (or ``.parquet`` / ``.jsonl``) with the bank's own column names:
  ``txn_ref``, ``event_time`` (ISO 8601 in Paris time, with its offset), ``account``,
  ``value_eur``, ``mcc_group`` (a merchant category: six known ones and a few the spec does not
  know) and ``device_score`` (0..1, from a device-risk engine, higher on frauds); no terminal;
- ``labels.csv``: the frauds' ``txn_ref``, kept apart as investigators report them;
- ``merchants.toml``: the spec that reads them (:data:`SPEC_FILE`).

Deterministic for a seed. See docs/data.md for the walk from these files to alerts.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.data.handbook import TRANSACTIONS_FILE
from models.errors import DatasetError

__all__ = ["SPEC_FILE", "ExampleFiles", "write_example"]

SPEC_FILE = Path(__file__).resolve().parent / "merchants.toml"
_CATEGORIES = ("grocery", "fuel", "restaurant", "travel", "online", "electronics")
#: Categories the spec does not know: they count as its "other".
_UNKNOWN = ("pharmacy", "atm")
_ID_OFFSET = 10_000_000
_ACCOUNT_OFFSET = 500_000

Format = Literal["csv", "parquet", "jsonl"]


@dataclass(frozen=True)
class ExampleFiles:
    """What :func:`write_example` wrote."""

    transactions: Path
    labels: Path
    spec: Path
    rows: int
    frauds: int


def _hashes(ids: pd.Series[Any]) -> npt.NDArray[np.int64]:
    """A stable 32-bit hash of each id."""
    digest = ids.map(
        lambda i: int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=4).digest(), "big")
    )
    return digest.to_numpy(np.int64)


def _stable_share(cards: pd.Series[Any]) -> npt.NDArray[np.float64]:
    """A number in [0, 1) per card, the same every time: a sample keeps the cards below it."""
    return _hashes(cards) / 2**32


def _category(terminal: pd.Series[Any]) -> pd.Series[Any]:
    """A stable merchant category per terminal (a terminal is one merchant)."""
    names = np.array([*_CATEGORIES, *_UNKNOWN], dtype=object)
    weights = np.array([20, 12, 16, 6, 14, 8, 3, 2], dtype=np.int64)
    buckets = np.repeat(np.arange(len(names)), weights)
    chosen: pd.Series[Any] = pd.Series(
        names[buckets[_hashes(terminal) % len(buckets)]], index=terminal.index
    )
    return chosen


def write_example(
    out: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    file_format: Format = "csv",
    sample: float = 1.0,
    seed: int = 7,
) -> ExampleFiles:
    """Write the example's files into ``out`` (created); days ``start..end`` of the bundled
    transactions (default: all 58), of a ``sample`` share of the cards (all by default; a
    smaller example for tests and quick tries)."""
    raw = pd.read_csv(TRANSACTIONS_FILE, parse_dates=["TX_DATETIME"])
    day = raw["TX_DATETIME"].dt.date
    if start is not None:
        raw = raw[day >= start]
    if end is not None:
        raw = raw[day <= end]
    if sample < 1.0:
        raw = raw[_stable_share(raw["CUSTOMER_ID"]) < sample]
    if raw.empty:
        msg = f"the bundled transactions hold no day in {start}..{end} (sample {sample:g})"
        raise DatasetError(msg)
    rng = np.random.default_rng(seed)
    fraud = raw["TX_FRAUD"].to_numpy() == 1
    risk = np.where(fraud, rng.beta(4.0, 3.0, len(raw)), rng.beta(2.0, 6.0, len(raw)))
    local = raw["TX_DATETIME"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    frame = pd.DataFrame(
        {
            "txn_ref": raw["TRANSACTION_ID"] + _ID_OFFSET,
            "event_time": local.map(lambda t: t.isoformat()),
            "account": raw["CUSTOMER_ID"] + _ACCOUNT_OFFSET,
            "value_eur": raw["TX_AMOUNT"],
            "mcc_group": _category(raw["TERMINAL_ID"]),
            "device_score": np.round(risk, 3),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    if file_format == "parquet":
        transactions = out / "transactions.parquet"
        frame.to_parquet(transactions, index=False)
    elif file_format == "jsonl":
        transactions = out / "transactions.jsonl"
        frame.to_json(transactions, orient="records", lines=True)
    else:
        transactions = out / "transactions.csv.gz"
        frame.to_csv(transactions, index=False)
    labels = out / "labels.csv"
    frame.loc[fraud, ["txn_ref"]].to_csv(labels, index=False)
    spec = out / SPEC_FILE.name
    shutil.copyfile(SPEC_FILE, spec)
    return ExampleFiles(transactions, labels, spec, len(frame), int(fraud.sum()))
