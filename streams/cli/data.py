"""``fraudstream data``: a fraud team's own transactions, checked against a feature spec before
anything is trained on them, and the worked example's files (see docs/data.md)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from models.data.example import write_example
from streams.cli._common import Command, Group, console, say
from streams.cli._data import DataChoice, data_options

__all__ = ["data"]


@click.group(cls=Group)
def data() -> None:
    """A fraud team's own transactions: check them against a feature spec, or write the
    worked example's."""


@data.command(cls=Command)
@data_options
def check(source: DataChoice) -> None:
    """Read --data as the spec maps it and report what it holds, or every problem found.

    Each problem names its file, row and column. Exit code 1 when the data cannot be used.
    """
    spec = source.spec()
    what = source.description
    with console.status(f"reading {what} with spec {spec.name}…"):
        transactions = source.read(spec)
    frame = transactions.frame
    local = frame["timestamp"].dt.tz_convert(spec.timestamps.timezone)
    for note in transactions.notes:
        say(f"[yellow]note:[/] {note}")
    say(
        f"[green]ok:[/] {len(frame):,} transactions, {int(frame['label'].sum()):,} frauds, "
        f"{frame['card_id'].nunique():,} cards, {local.min():%Y-%m-%d %H:%M} .. "
        f"{local.max():%Y-%m-%d %H:%M} ({spec.timestamps.timezone})"
    )
    for name, declared in spec.event.items():
        column = frame[name]
        if declared.type == "category":
            known = column.isin(spec.category(name).values)
            say(
                f"  {name}: {column.nunique()} values, {int((~known).sum()):,} transactions "
                f"outside the spec's known ones (they count as {spec.category(name).other!r})"
            )
        elif declared.type == "number":
            say(f"  {name}: {column.min():g} .. {column.max():g}")
        else:
            say(f"  {name}: {column.nunique():,} distinct ids")
    say(f"spec {spec.name} `{spec.digest}`: {len(spec.feature_names)} features")


@data.command(cls=Command)
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    default="csv",
    show_default=True,
    help="File format of the transactions (csv is gzip-compressed).",
)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day.")
@click.option(
    "--sample",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Keep this share of the cards (a smaller example for quick tries).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the device scores.")
def example(
    out: Path,
    file_format: str,
    start: datetime | None,
    end: datetime | None,
    sample: float,
    seed: int,
) -> None:
    """Write the worked example's transactions, labels and spec into OUT.

    The bundled transactions in a second schema: other column names, Paris timestamps, a
    merchant category and a device risk score, no terminal, labels in their own file.
    """
    with console.status("writing the example's files…"):
        files = write_example(
            out,
            start=start.date() if start else None,
            end=end.date() if end else None,
            file_format=file_format,  # type: ignore[arg-type]  # click.Choice guarantees it
            sample=sample,
            seed=seed,
        )
    say(
        f"[green]written[/] {files.transactions} ({files.rows:,} transactions), "
        f"{files.labels} ({files.frauds:,} frauds), {files.spec}"
    )
    say(
        f"next: fraudstream data check --data {files.transactions} --labels {files.labels} "
        f"--spec {files.spec}"
    )
