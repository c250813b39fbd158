"""``fraudstream record``: copy messages of topics into a recording file (see docs/replay.md)."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from streams.broker.connection import kafka_python_config
from streams.cli._common import Command, broker_option, console, load_settings, moment_ms
from streams.core.times import format_ms
from streams.core.topics import TopicNames
from streams.qa.recorder import RecordPlan, expand_topic, record_to_file

__all__ = ["record"]


@click.command(cls=Command)
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--topic",
    "-t",
    "topics",
    multiple=True,
    required=True,
    help="Topic to record (repeat for more); PARTNER.ENTITY is short for "
    "<root>.PARTNER.ENTITY.v1, e.g. alpha.scores.",
)
@click.option(
    "--from-offset", type=click.IntRange(0), help="Start at this offset in every partition."
)
@click.option("--from-time", help="Start at the first message written at or after this time (ISO).")
@click.option("--count", type=click.IntRange(1), help="Stop after this many messages.")
@click.option("--until-time", help="Stop at the first message written at or after this time (ISO).")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Go on past the topics' current end, until --count, --until-time, --idle-timeout "
    "or Ctrl-C.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0.1),
    default=30.0,
    show_default=True,
    help="With --follow: stop after this many seconds without a new message.",
)
@click.option("--append", is_flag=True, help="Add to OUT if it is already a recording.")
@broker_option
def record(
    out: Path,
    topics: tuple[str, ...],
    from_offset: int | None,
    from_time: str | None,
    count: int | None,
    until_time: str | None,
    follow: bool,
    idle_timeout: float,
    append: bool,
    broker: str | None,
) -> None:
    """Record topics to OUT (gzip JSON lines: a header line, then one line per message with
    topic, partition, offset, timestamp, key, headers and value; bytes in base64).

    Reads without a consumer group, from the beginning unless told otherwise, until the end the
    topics had when recording began. Times are the messages' Kafka timestamps. OUT appears only
    once recording is done (Ctrl-C ends a --follow recording and keeps what was read).
    """
    if from_offset is not None and from_time is not None:
        msg = "give --from-offset or --from-time, not both"
        raise click.UsageError(msg)
    if not out.resolve().parent.is_dir():
        msg = f"{out.resolve().parent} is not a folder: cannot write {out} there"
        raise click.UsageError(msg)
    if follow:  # a service manager stops with SIGTERM: end the recording as Ctrl-C does
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    settings = load_settings(broker=broker)
    names = TopicNames(settings.topic_root)
    plan = RecordPlan(
        topics=tuple(expand_topic(names, t) for t in topics),
        from_offset=from_offset,
        from_time_ms=moment_ms(from_time),
        count=count,
        until_time_ms=moment_ms(until_time),
        follow=follow,
        idle_timeout=idle_timeout,
    )
    console.print(f"recording {', '.join(plan.topics)} {plan.describe()}", highlight=False)
    with console.status("") as status:
        header, recorded = record_to_file(
            kafka_python_config(settings),
            plan,
            out,
            append=append,
            progress=lambda n: status.update(f"{n} messages recorded…"),
        )
    span = ""
    if header.time_range and not append:
        first, last = (format_ms(ms) for ms in header.time_range)
        span = f", written {first} → {last}"
    console.print(f"[green]recorded[/] {recorded} messages into {out}{span}", highlight=False)
