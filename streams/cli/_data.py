"""The options every command that reads a fraud team's transactions shares, and the reading.

``--data PATH`` (repeatable: CSV, CSV.gz/.xz, Parquet, JSON lines, or a recording of a partner's
transactions and labels topics), ``--labels PATH`` (fraud labels kept apart), ``--spec FILE``
(the feature spec; the handbook's by default) and the protocol's dates. Without ``--data``: the
bundled handbook transactions. See docs/data.md.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson

from models.data.handbook import TRANSACTIONS_FILE
from models.data.sources import TransactionData, read_transactions_data
from models.features.spec import FeatureSpec, handbook_spec, load_spec
from models.training.fitting import ProtocolChoice
from streams.qa.recorded_data import transaction_data_from_recording

__all__ = ["DataChoice", "data_choice", "data_options", "protocol_choice", "protocol_options"]


def _is_recording(path: Path) -> bool:
    """A recording (``fraudstream record``) starts with a gzip-compressed header line."""
    try:
        with gzip.open(path, "rb") as handle:
            first = handle.readline(64 * 1024)
        header = orjson.loads(first)
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError):
        return False
    return isinstance(header, dict) and "recording" in header


@dataclass(frozen=True)
class DataChoice:
    """What the user asked to read."""

    paths: tuple[Path, ...] = ()
    labels: tuple[Path, ...] = ()
    spec_file: Path | None = None

    @property
    def bundled(self) -> bool:
        """No ``--data``: the bundled handbook transactions."""
        return not self.paths

    def spec(self, default: FeatureSpec | None = None) -> FeatureSpec:
        """The ``--spec`` file's spec, else ``default``, else the handbook's."""
        if self.spec_file is not None:
            return load_spec(self.spec_file)
        return default or handbook_spec()

    def read(self, spec: FeatureSpec) -> TransactionData:
        """Read and check every file (``DatasetError`` lists the problems with their place)."""
        if self.bundled:
            if self.labels:
                msg = "--labels needs --data: the bundled transactions carry their labels"
                raise click.UsageError(msg)
            return read_transactions_data([TRANSACTIONS_FILE], spec)
        recordings = [path for path in self.paths if _is_recording(path)]
        if recordings and (len(recordings) != len(self.paths) or self.labels):
            msg = "a recording holds its own labels: give it alone, no other --data or --labels"
            raise click.UsageError(msg)
        if recordings:
            if len(recordings) > 1:
                msg = "give one recording at a time"
                raise click.UsageError(msg)
            return transaction_data_from_recording(recordings[0], spec)
        return read_transactions_data(list(self.paths), spec, labels=list(self.labels))


_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


def data_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--data``, ``--labels`` and ``--spec`` (``data_paths``, ``label_paths``, ``spec_file``:
    :func:`data_choice` makes them one value)."""

    options = [
        click.option(
            "--data",
            "data_paths",
            multiple=True,
            type=_FILE,
            help="Labelled transactions to read instead of the bundled ones (repeat for more "
            "files): CSV (.csv, .csv.gz, .csv.xz), Parquet, JSON lines, or a recording of a "
            "partner's transactions and labels topics. Columns as the spec maps them.",
        ),
        click.option(
            "--labels",
            "label_paths",
            multiple=True,
            type=_FILE,
            help="Fraud labels kept apart from --data: rows naming a fraudulent transaction "
            "id (and optionally its label column). Repeat for more files.",
        ),
        click.option(
            "--spec",
            "spec_file",
            type=_FILE,
            help="Feature spec (TOML, YAML or JSON): event fields, column names and features "
            "(default: the handbook's 15 features; see docs/data.md).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def data_choice(
    data_paths: Sequence[Path], label_paths: Sequence[Path], spec_file: Path | None
) -> DataChoice:
    """The options of :func:`data_options` as one value."""
    return DataChoice(tuple(data_paths), tuple(label_paths), spec_file)


def protocol_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--train-start``, ``--train-days``, ``--delay-days`` and ``--test-days``."""
    options = [
        click.option(
            "--train-start",
            type=click.DateTime(["%Y-%m-%d"]),
            help="First training day (default: so that the test days are the last complete "
            "ones the data holds).",
        ),
        click.option("--train-days", type=click.IntRange(1), help="Training days (default: 7)."),
        click.option(
            "--delay-days",
            type=click.IntRange(0),
            help="Days left between training and test, as labels arrive late (default: the "
            "spec's label delay, 7 for the handbook's).",
        ),
        click.option("--test-days", type=click.IntRange(1), help="Test days (default: 7)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def protocol_choice(
    train_start: datetime | None,
    train_days: int | None,
    delay_days: int | None,
    test_days: int | None,
) -> ProtocolChoice:
    """The options of :func:`protocol_options` as one value."""
    return ProtocolChoice(
        train_start.date() if train_start else None, train_days, delay_days, test_days
    )
