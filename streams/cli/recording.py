"""``fraudstream recording show|export|import``: a recording read by people and by kcat."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click
import orjson

from streams.cli._common import Group, console, err_console
from streams.core.times import format_ms
from streams.qa.kcat_format import from_kcat, readable, to_kcat
from streams.qa.recording_file import (
    RecordedMessage,
    RecordingHeader,
    read_recording,
    write_recording,
)

__all__ = ["recording"]

_RECORDING = click.Path(path_type=Path, dir_okay=False, exists=True)


@click.group(cls=Group)
def recording() -> None:
    """Read a recording (`fraudstream record`): show its messages with their JSON values
    decoded, or convert it to and from kcat's -J JSON lines."""


@recording.command("show")
@click.argument("path", type=_RECORDING)
@click.option("--topic", "topics", multiple=True, help="Only this topic's messages (repeat).")
@click.option(
    "--limit",
    type=click.IntRange(1),
    help="Show at most this many messages (default: every one).",
)
def show(path: Path, topics: tuple[str, ...], limit: int | None) -> None:
    """Print the recording's header, then one JSON line per message: JSON keys, values and
    headers decoded (a transaction, a score), other text as text, binary (a ciphertext) as
    its size. For people and jq; a recording stays the exact record."""
    shown = 0
    for item in read_recording(path):
        if isinstance(item, RecordingHeader):
            span = ""
            if item.time_range:
                first, last = item.time_range
                span = f", {format_ms(first)} → {format_ms(last)}"
            err_console.print(
                f"{path}: {item.messages} messages of {', '.join(item.topics)} from "
                f"{item.source}{span}",
                highlight=False,
            )
            continue
        if topics and item.topic not in topics:
            continue
        if limit is not None and shown >= limit:
            break
        click.echo(orjson.dumps(readable(item)).decode())
        shown += 1
    err_console.print(f"{shown} messages shown", style="dim")


@recording.command("export")
@click.argument("path", type=_RECORDING)
@click.argument("out", default="-")
@click.option("--topic", "topics", multiple=True, help="Only this topic's messages (repeat).")
def export(path: Path, out: str, topics: tuple[str, ...]) -> None:
    """Write the recording's messages as kcat -J JSON lines to OUT (default "-": stdout), for
    tools that read kcat's output. Only text converts: a message with binary bytes (a
    ciphertext) stops the export, named, and no OUT file is left (--topic picks the plaintext
    topics of a recording that holds both)."""
    lines = (
        to_kcat(item) + b"\n"
        for item in read_recording(path)
        if isinstance(item, RecordedMessage) and (not topics or item.topic in topics)
    )
    if out == "-":
        stdout = click.get_binary_stream("stdout")
        count = sum(stdout.write(line) > 0 for line in lines)
    else:
        count = _write_whole(Path(out), lines)
    err_console.print(f"{count} messages exported", style="dim")


def _write_whole(target: Path, lines: Iterator[bytes]) -> int:
    """Write ``lines`` to ``target`` through a temporary file renamed at the end: an error part
    way leaves no half-written file. Returns how many lines."""
    count = 0
    with tempfile.NamedTemporaryFile("wb", dir=target.resolve().parent, delete=False) as handle:
        try:
            for line in lines:
                handle.write(line)
                count += 1
        except BaseException:
            handle.close()
            Path(handle.name).unlink()
            raise
    Path(handle.name).replace(target)
    return count


@recording.command("import")
@click.argument("source", type=click.File("rb"), default="-")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
def import_(source: IO[bytes], out: Path) -> None:
    """Make a recording OUT from kcat -J JSON lines (`kcat -C -J -e -t TOPIC > FILE`; SOURCE
    "-" reads stdin), to replay or verify it like any recording."""
    if out.exists():
        msg = f"{out} exists: choose another name (a recording is never overwritten)"
        raise click.UsageError(msg)
    name = getattr(source, "name", "stdin")
    messages = list(from_kcat(source, source=str(name)))
    topics = tuple(dict.fromkeys(m.topic for m in messages))
    header = RecordingHeader(
        source=f"kcat -J ({name})", topics=topics, selection="imported from kcat -J"
    )
    written = write_recording(out, header, messages)
    names = ", ".join(topics) or "no topic"
    console.print(
        f"[green]written[/] {out}: {written.messages} messages of {names}", highlight=False
    )
