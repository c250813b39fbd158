"""``fraudstream replay``: send a recording, or a slice of the bundled transactions, into the
topics (see docs/replay.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.broker.admin import admin_client
from streams.broker.connection import kafka_python_config
from streams.cli._common import Command, broker_option, console, load_settings
from streams.cli._data import DataChoice, data_options
from streams.core.errors import BrokerError
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.replay import ReplayReport, send_replay, wait_for_gateways
from streams.qa.replay_plan import (
    ReplayMessage,
    load_recording,
    plan_data_slice,
    save_messages,
    split_warm_up,
)

__all__ = ["replay"]


@click.command(cls=Command)
@click.argument(
    "recording", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@data_options
@click.option(
    "--data-from",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Instead of a recording: transactions from this day, of --data or else the bundled "
    "ones (2018-06-18..2018-08-14). With --data, default: its last day.",
)
@click.option(
    "--data-to", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: --data-from)."
)
@click.option(
    "--partner",
    "only",
    multiple=True,
    help="For a slice: only this partner's cards (repeat for more; default: every "
    "partner of FRAUD_PARTNERS).",
)
@click.option(
    "--fraud-cards",
    type=click.IntRange(0),
    help="For a slice: at most this many cards per partner with a fraud in the slice.",
)
@click.option(
    "--legit-cards",
    type=click.IntRange(0),
    help="For a slice: at most this many cards per partner without one.",
)
@click.option(
    "--history/--no-history",
    default=True,
    show_default=True,
    help="For a slice: first send the history the features need (as fraud.backfill "
    "warm-up) and the fraud labels.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Event time runs this many times faster than real time (1: real speed).",
)
@click.option("--fast", is_flag=True, help="As fast as possible (the default without --speed).")
@click.option(
    "--no-wait",
    is_flag=True,
    help="Do not wait for running partner gateways to process the warm-up before the live part.",
)
@click.option("--dry-run", is_flag=True, help="Check and count what would be sent; send nothing.")
@click.option(
    "--save",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write what would be sent as a recording (for `fraudstream verify`); send nothing.",
)
@broker_option
def replay(
    recording: Path | None,
    source: DataChoice,
    data_from: datetime | None,
    data_to: datetime | None,
    only: tuple[str, ...],
    fraud_cards: int | None,
    legit_cards: int | None,
    history: bool,
    speed: float | None,
    fast: bool,
    no_wait: bool,
    dry_run: bool,
    save: Path | None,
    broker: str | None,
) -> None:
    """Send RECORDING, or a slice of transactions (--data files, or with --data-from alone the
    bundled ones), into topics.

    A slice's events carry the fields of --spec (the handbook's by default): run the partners
    with a model trained on the same spec.

    Per key, messages keep their recorded order; event time (the fraud.event_time_ms header, or
    the recorded timestamp) paces them at --speed. Warm-up history (fraud.backfill) and the
    labels known before the first live event go first, as fast as possible; running partner
    gateways are given the time to process them (--no-wait: not). Topics are renamed
    to FRAUD_TOPIC_ROOT; they must exist (`fraudstream topics create`). A recording is checked
    in full before anything is sent.
    """
    slice_options = {
        "--labels": source.labels or None, "--spec": source.spec_file, "--data-to": data_to,
        "--partner": only or None, "--fraud-cards": fraud_cards, "--legit-cards": legit_cards,
        "--no-history": None if history else True,
    }  # fmt: skip
    slicing = data_from is not None or not source.bundled
    _check_options(recording, slicing, slice_options, fast=fast, speed=speed)
    settings = load_settings(broker=broker)
    if recording is not None:
        header, messages = load_recording(recording, root=settings.topic_root)
        what = f"{recording} (recorded from {header.source}, {header.created})"
    else:
        messages, what = _data_slice(
            settings, source, data_from, data_to, only, fraud_cards, legit_cards, history
        )
    _deliver(settings, messages, what, speed=speed, save=save, dry_run=dry_run, wait=not no_wait)


def _deliver(
    settings: Settings,
    messages: list[ReplayMessage],
    source: str,
    *,
    speed: float | None,
    save: Path | None,
    dry_run: bool,
    wait: bool,
) -> None:
    """Send ``messages`` (warm-up first), or save them as a recording, or only count them."""
    warm, live = split_warm_up(messages)
    pace = "as fast as possible" if speed is None else f"at {speed:g}x real time"
    console.print(
        f"replaying {source}: {len(warm)} warm-up messages, then {len(live)} {pace}",
        highlight=False,
    )
    if save is not None:
        written = save_messages(save, messages, source)
        console.print(f"[green]saved[/] {written} messages to {save}: nothing sent")
        return
    if dry_run:
        console.print("dry run: nothing sent")
        return
    client = kafka_python_config(settings)
    _check_topics(client, {m.topic for m in messages})
    report = _send(client, settings, warm, live, speed=speed, wait=wait)
    for line in report.lines():
        console.print(line, highlight=False)


def _check_options(
    recording: Path | None,
    slicing: bool,
    slice_options: dict[str, Any],
    *,
    fast: bool,
    speed: float | None,
) -> None:
    """Refuse options that contradict each other (``slice_options``: the slice's options that
    were given, by name, else None)."""
    if (recording is None) != slicing:
        msg = "give a RECORDING, or --data / --data-from (one of them)"
        raise click.UsageError(msg)
    given = [name for name, value in slice_options.items() if value is not None]
    if recording is not None and given:
        msg = f"{', '.join(given)} only apply to a slice (--data, --data-from), not to a recording"
        raise click.UsageError(msg)
    if fast and speed is not None:
        msg = "give --speed or --fast, not both"
        raise click.UsageError(msg)


def _data_slice(
    settings: Settings,
    choice: DataChoice,
    data_from: datetime | None,
    data_to: datetime | None,
    only: tuple[str, ...],
    fraud_cards: int | None,
    legit_cards: int | None,
    history: bool,
) -> tuple[list[ReplayMessage], str]:
    """The messages of a slice of transactions, and words saying what it is."""
    spec = choice.spec()
    what = choice.description
    with console.status(f"reading {what}…"):
        transactions = choice.read(spec)
    for note in transactions.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if data_from is None:
        zone = spec.timestamps.timezone
        first: date = transactions.frame["timestamp"].dt.tz_convert(zone).max().date()
    else:
        first = data_from.date()
    last: date = data_to.date() if data_to else first
    with console.status(f"planning the slice {first}..{last}…"):
        data = plan_data_slice(
            TopicNames(settings.topic_root),
            settings.partners,
            first,
            last,
            data=transactions,
            spec=spec,
            only=only or None,
            fraud_cards=fraud_cards,
            legit_cards=legit_cards,
            history=history,
        )
    frauds = sum(fraud for _, fraud in data.truth.values())
    source = (
        f"{'bundled transactions' if choice.bundled else what} {first}..{last} (spec "
        f"{spec.name}): {len(data.truth)} transactions ({frauds} frauds) of "
        f"{', '.join(only or settings.partners)}"
    )
    return data.messages, source


def _check_topics(client: dict[str, Any], topics: set[str]) -> None:
    admin = admin_client(client)
    try:
        missing = sorted(topics - set(admin.list_topics()))
    finally:
        admin.close()
    if missing:
        msg = (
            f"topic {', '.join(missing)} does not exist: nothing was sent (create the topics "
            "with `fraudstream topics create`, or set FRAUD_TOPIC_ROOT / FRAUD_PARTNERS)"
        )
        raise BrokerError(msg)


def _send(
    client: dict[str, Any],
    settings: Settings,
    warm: Sequence[ReplayMessage],
    live: Sequence[ReplayMessage],
    *,
    speed: float | None,
    wait: bool,
) -> ReplayReport:
    """Send the warm-up, wait (when ``wait``) for the running gateways to process it, then send
    the live part; with a progress bar."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("sending", total=len(warm) + len(live))

        def after_warm_up() -> None:
            if not wait or not warm:
                return
            waited = wait_for_gateways(
                client,
                settings.app_id,
                TopicNames(settings.topic_root),
                {m.partner for m in warm},
                say=lambda m: bar.console.print(m, highlight=False),
                progress=lambda p, lag: bar.update(
                    task, description=f"{p}'s gateway: {lag} warm-up records to go"
                ),
            )
            bar.update(task, description="sending")
            if waited:
                bar.console.print("warm-up processed by the gateways; sending the live part")

        return send_replay(
            client,
            warm,
            live,
            speed=speed,
            max_request_size=settings.max_message_bytes,
            after_warm_up=after_warm_up,
            progress=lambda sent, _: bar.update(task, completed=sent),
        )
