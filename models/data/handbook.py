"""The bundled Fraud Detection Handbook transactions and their split between partners.

Synchronous and dependency-light: used by training (batch) and by the replay tools.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import lzma
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from models.errors import DatasetError

__all__ = [
    "DATA_DIR",
    "GOLDEN_FEATURES_FILE",
    "TRANSACTIONS_FILE",
    "HandbookTransaction",
    "open_text",
    "partner_of",
    "read_transactions",
]

#: Bundled data (see ``models/data/fdh/README.md`` for source and attribution).
DATA_DIR = Path(__file__).resolve().parent / "fdh"
TRANSACTIONS_FILE = DATA_DIR / "transactions_2018-06-18_2018-08-14.csv.xz"
GOLDEN_FEATURES_FILE = DATA_DIR / "features_2018-07-25_2018-08-14.csv.xz"

_COLUMNS = ("TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD")


@dataclass(frozen=True)
class HandbookTransaction:
    """One row of the handbook's raw transactions (the label travels separately in the stream)."""

    transaction_id: int
    timestamp: datetime
    card_id: int
    terminal_id: int
    amount: float
    is_fraud: bool


def partner_of(card_id: int, partners: Sequence[str]) -> str:
    """The partner that issued ``card_id``: a stable hash split, each card with one partner."""
    if not partners:
        msg = "at least one partner is needed to split cards"
        raise DatasetError(msg)
    digest = hashlib.blake2b(str(card_id).encode(), digest_size=8).digest()
    return partners[int.from_bytes(digest, "big") % len(partners)]


def open_text(path: Path) -> IO[Any]:
    """Open a CSV that may be plain, ``.gz`` or ``.xz`` compressed, as text."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    if path.suffix == ".xz":
        return lzma.open(path, "rt", newline="")
    return path.open(newline="")


def read_transactions(
    path: Path = TRANSACTIONS_FILE,
    *,
    start: date | None = None,
    end: date | None = None,
) -> Iterator[HandbookTransaction]:
    """Stream the rows of a handbook CSV in file order, optionally only days ``start..end``."""
    first = start.isoformat() if start else ""
    last = end.isoformat() if end else "9999"
    try:
        with open_text(path) as handle:
            reader = csv.DictReader(handle)
            missing = set(_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                msg = f"{path}: columns {sorted(missing)} are missing"
                raise DatasetError(msg)
            for line, row in enumerate(reader, start=2):
                day = row["TX_DATETIME"][:10]
                if day < first:
                    continue
                if day > last:
                    break  # the file is in time order
                try:
                    yield HandbookTransaction(
                        transaction_id=int(row["TRANSACTION_ID"]),
                        timestamp=datetime.strptime(
                            row["TX_DATETIME"], "%Y-%m-%d %H:%M:%S"
                        ).replace(tzinfo=UTC),
                        card_id=int(row["CUSTOMER_ID"]),
                        terminal_id=int(row["TERMINAL_ID"]),
                        amount=float(row["TX_AMOUNT"]),
                        is_fraud=row["TX_FRAUD"] == "1",
                    )
                except (TypeError, ValueError) as exc:
                    msg = f"{path}:{line}: bad row: {exc}"
                    raise DatasetError(msg) from exc
    except OSError as exc:
        msg = f"cannot read {path}: {exc}"
        raise DatasetError(msg) from exc
