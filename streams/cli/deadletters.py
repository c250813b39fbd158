"""``fraudstream deadletters list|resend``: a scope's dead letters, found and re-sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click
from rich.markup import escape

from streams.broker.connection import kafka_python_config
from streams.cli._common import (
    Group,
    broker_option,
    console,
    err_console,
    load_settings,
    moment_ms,
)
from streams.core.settings import Settings
from streams.core.times import format_ms
from streams.core.topics import SCORING_SCOPE, TopicNames
from streams.qa.dead_letter_queue import (
    DeadLetterFilter,
    StoredDeadLetter,
    read_dead_letters,
    resend,
)

__all__ = ["deadletters"]


def _filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options both subcommands take: the scope and which of its dead letters."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--scope",
            required=True,
            help=f"Whose dead letters: a partner of FRAUD_PARTNERS (its gateway's and "
            f"decryptor's), or {SCORING_SCOPE} (the scorer's).",
        ),
        click.option(
            "--reason",
            metavar="TEXT",
            help="Only dead letters whose error class or reason contains TEXT (any case), "
            "e.g. SchemaError or 'amount'.",
        ),
        click.option(
            "--since",
            metavar="TIME",
            help="Only those dead-lettered at or after this ISO date or time (UTC unless it "
            "says otherwise, e.g. 2026-12-03T10:00:00Z).",
        ),
        click.option(
            "--until",
            metavar="TIME",
            help="Only those dead-lettered before this ISO date or time.",
        ),
        click.option(
            "--source-topic",
            metavar="TOPIC",
            help="Only those refused on this topic (e.g. <root>.<partner>.transactions.v1).",
        ),
        broker_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _setup(
    scope: str, reason: str | None, since: str | None, until: str | None, **rest: Any
) -> tuple[Settings, str, DeadLetterFilter]:
    """The settings, the scope's dead-letter topic and the filter (the scope is checked before
    anything connects)."""
    settings = load_settings(broker=rest["broker"])
    scopes = [*settings.partners, SCORING_SCOPE]
    if scope not in scopes:
        msg = f"{scope!r} is not a scope here: one of {', '.join(scopes)} (FRAUD_PARTNERS)"
        raise click.BadParameter(msg, param_hint="--scope")
    if reason is not None and not reason.strip():
        msg = "an empty text matches every dead letter: give some, or leave --reason out"
        raise click.BadParameter(msg, param_hint="--reason")
    wanted = DeadLetterFilter(
        reason=reason,
        since_ms=moment_ms(since),
        until_ms=moment_ms(until),
        source_topic=rest["source_topic"],
    )
    return settings, TopicNames(settings.topic_root).deadletter(scope), wanted


def _skipped(where: str) -> None:
    err_console.print(f"[yellow]skipped[/] (not a dead letter) {escape(where)}", highlight=False)


@click.group(cls=Group)
def deadletters() -> None:
    """List a scope's dead letters, or send them back to be processed again.

    A record a worker refused is kept whole on its scope's dead-letter topic
    (<root>.<scope>.deadletter.v1) with the reason in Kafka Connect's headers (see
    docs/architecture.md). These commands read that topic without a consumer group (nobody's
    offsets move) and show where each record came from and why it was refused, never its
    values. Run them inside the scope's boundary: a partner's dead letters are its plaintext.
    """


@deadletters.command("list")
@_filters
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line instead of a table."
)
def list_(as_json: bool, **options: Any) -> None:
    """List dead letters: when, where from, the error and the reason."""
    settings, topic, wanted = _setup(**options)
    count = 0
    for stored in read_dead_letters(kafka_python_config(settings), topic, wanted, _skipped):
        count += 1
        if as_json:
            click.echo(json.dumps(stored.to_json()))
        else:
            console.print(_row(stored), highlight=False, soft_wrap=True)
    (err_console if as_json else console).print(f"{count} dead letters in {topic}", style="dim")


def _row(stored: StoredDeadLetter) -> str:
    """One dead letter in a line: when, where from, size, error and reason (and if re-sent)."""
    letter = stored.letter
    size = (
        f"{letter.value_omitted_bytes} B (not kept)"
        if letter.value_omitted_bytes is not None
        else f"{len(stored.value or b'')} B"
    )
    return (
        f"{format_ms(stored.dead_lettered_ms)}  {stored.source}  {size}  "
        f"{escape(letter.error_class)}: {escape(letter.reason)}"
        + ("  (re-sent)" if stored.resent else "")
    )


@deadletters.command("resend")
@_filters
@click.option(
    "--to",
    "to_topic",
    metavar="TOPIC",
    help="Send to this topic of the scope (<root>.<scope>.…) instead of the one each record was "
    "refused on.",
)
@click.option("--all", "every", is_flag=True, help="Re-send every dead letter (no filter given).")
@click.option(
    "--again",
    is_flag=True,
    help="Also re-send dead letters an earlier resend sent already (they would be scored and "
    "counted twice).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be re-sent.")
def resend_(to_topic: str | None, every: bool, again: bool, dry_run: bool, **options: Any) -> None:
    """Send dead letters' records back to the topics they were refused on.

    Each goes with its original key and headers and a fraudstream.resent_from header naming
    the dead letter. The worker checks it again like any record: one still bad is dead-lettered
    again. A dead letter whose value was too large to keep is skipped and named. Each one sent
    is then marked on the dead-letter topic, and a later resend skips it unless --again. Give
    a filter, or --all for every dead letter of the scope.
    """
    settings, topic, wanted = _setup(**options)
    if wanted == DeadLetterFilter() and not every:
        msg = "give a filter (--reason, --since, --until, --source-topic) or --all"
        raise click.UsageError(msg)
    scope_prefix = topic.removesuffix("deadletter.v1")
    if to_topic is not None and not to_topic.startswith(scope_prefix):
        msg = f"{to_topic} is not a topic of this scope ({scope_prefix}…): its records stay in it"
        raise click.BadParameter(msg, param_hint="--to")
    if not again:
        wanted = replace(wanted, resent=False)
    config = kafka_python_config(settings)
    chosen = list(read_dead_letters(config, topic, wanted, _skipped))
    for stored in chosen:
        console.print(_row(stored), highlight=False, soft_wrap=True)
    if dry_run:
        console.print(f"{len(chosen)} dead letters would be re-sent (dry run)", style="dim")
        return
    report = resend(config, chosen, to_topic=to_topic)
    for stored, why in report.skipped:
        console.print(f"[yellow]not re-sent[/] {stored.where}: {why}", highlight=False)
    for name, count in sorted(report.sent.per_topic.items()):
        console.print(f"[green]re-sent[/] {count} to {name}", highlight=False)
    console.print(f"{report.sent.sent} re-sent, {len(report.skipped)} skipped", style="dim")
