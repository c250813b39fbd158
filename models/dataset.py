"""The bundled Fraud Detection Handbook transactions and their split between partners.

Synchronous and dependency-light: used by training (batch) and by the replay tools.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from models.errors import DatasetError

__all__ = [
    "DATA_DIR",
    "DEMO_DAY_FILE",
    "HandbookTransaction",
    "partner_of",
    "read_transactions",
]

#: Bundled data (see ``models/data/fdh/README.md`` for source and attribution).
DATA_DIR = Path(__file__).resolve().parent / "data" / "fdh"
DEMO_DAY_FILE = DATA_DIR / "transactions_2018-08-08.csv.gz"

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


def read_transactions(path: Path = DEMO_DAY_FILE) -> Iterator[HandbookTransaction]:
    """Stream the rows of a handbook CSV (plain or gzip) in file order."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                msg = f"{path}: columns {sorted(missing)} are missing"
                raise DatasetError(msg)
            for line, row in enumerate(reader, start=2):
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
