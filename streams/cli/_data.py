"""The options every command that reads a fraud team's transactions shares, and the reading.

``--data PATH`` (repeatable: CSV, CSV.gz/.xz, Parquet, JSON lines, or a recording of a partner's
transactions and labels topics), ``--labels PATH`` (fraud labels kept apart), ``--spec FILE``
(the feature spec; the handbook's by default) and the protocol's dates. Without ``--data``: the
bundled handbook transactions. See docs/data.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from models.data.handbook import TRANSACTIONS_FILE
from models.data.sources import TransactionData, read_transactions_data
from models.features.spec import FeatureSpec, handbook_spec, load_spec
from models.training.fitting import ProtocolChoice
from streams.core.errors import RecordingError
from streams.qa.recorded_data import transaction_data_from_recording
from streams.qa.recording_file import read_header

__all__ = ["DataChoice", "data_options", "protocol_options"]


def _is_recording(path: Path) -> bool:
    """A recording (``fraudstream record``) starts with its header line."""
    try:
        read_header(path)
    except RecordingError:
        return False
    return True


@dataclass(frozen=True)
class DataChoice:
    """What the user asked to read."""

    paths: tuple[Path, ...] = ()
    labels: tuple[Path, ...] = ()
    spec_file: Path | None = None

    @property
    def description(self) -> str:
        """What is read, in words (for progress lines)."""
        return "the bundled transactions" if self.bundled else ", ".join(map(str, self.paths))

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


def _grouped(
    options: Sequence[Callable[[Callable[..., Any]], Callable[..., Any]]],
    names: Sequence[str],
    into: str,
    make: Callable[..., Any],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator adding ``options`` to a command and passing their values (``names``) to it
    as one argument, ``into`` = ``make(**values)``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return func(*args, **kwargs, **{into: make(**values)})

        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _data_choice(
    data_paths: Sequence[Path], label_paths: Sequence[Path], spec_file: Path | None
) -> DataChoice:
    return DataChoice(tuple(data_paths), tuple(label_paths), spec_file)


#: ``--data``, ``--labels`` and ``--spec``, passed to the command as ``source: DataChoice``.
data_options = _grouped(
    [
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
    ],
    ("data_paths", "label_paths", "spec_file"),
    "source",
    _data_choice,
)


def _protocol_choice(
    train_start: datetime | None,
    train_days: int | None,
    delay_days: int | None,
    test_days: int | None,
) -> ProtocolChoice:
    return ProtocolChoice(
        train_start.date() if train_start else None, train_days, delay_days, test_days
    )


#: ``--train-start``, ``--train-days``, ``--delay-days`` and ``--test-days``, passed to the
#: command as ``protocol: ProtocolChoice``.
protocol_options = _grouped(
    [
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
    ],
    ("train_start", "train_days", "delay_days", "test_days"),
    "protocol",
    _protocol_choice,
)
