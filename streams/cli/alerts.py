"""``fraudstream alerts``: a partner's fraud alerts (or scores) as a table."""

from __future__ import annotations

import signal
import threading

import click

from streams.broker.connection import kafka_python_config
from streams.cli._common import Command, broker_option, console, err_console, load_settings
from streams.core.topics import TopicNames
from streams.partner.alert_follower import ALERT_COLUMNS, alert_row, follow_records

__all__ = ["alerts"]


@click.command(cls=Command)
@click.option(
    "--partner",
    required=True,
    help="Whose alerts (the partner's own topic): one of FRAUD_PARTNERS.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep waiting for new alerts (Ctrl-C stops).")
@click.option(
    "--from-now",
    is_flag=True,
    help="Only alerts that arrive from now on (default: from the start).",
)
@click.option("--scores", is_flag=True, help="Every score, not only alerts.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line, as on the topic (docs/schemas/score.v1.json; "
    "alert.v1.json for alerts), instead of a table.",
)
@broker_option
def alerts(
    partner: str, follow: bool, from_now: bool, scores: bool, as_json: bool, broker: str | None
) -> None:
    """Show a partner's fraud alerts as a table, for its fraud team.

    Reads <root>.<partner>.alerts.v1 (or .scores.v1 with --scores) without joining a consumer
    group, so following never moves anyone's offsets. Runs inside the partner: alerts are
    plaintext.
    """
    settings = load_settings(broker=broker)
    if partner not in settings.partners:
        msg = f"{partner!r} is not a partner here: one of {', '.join(settings.partners)}"
        raise click.BadParameter(msg + " (FRAUD_PARTNERS)", param_hint="--partner")
    names = TopicNames(settings.topic_root)
    topic = names.scores(partner) if scores else names.alerts(partner)
    shown = 0
    # Ctrl-C ends the view between two records (never in the middle of one: the count at the
    # end is exactly the rows shown); a second Ctrl-C ends it at once.
    interrupted = threading.Event()

    def on_ctrl_c(*_: object) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()

    def header() -> None:  # once the topic is found: an error comes alone
        if not as_json:
            titles = "  ".join(f"{title:>{width}}" for title, width in ALERT_COLUMNS)
            console.print(titles, style="bold")

    notes = err_console if as_json else console  # with --json, stdout carries records only
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        for record in follow_records(
            kafka_python_config(settings),
            topic,
            follow=follow,
            from_beginning=not from_now,
            on_bad=lambda where: notes.print(f"[yellow]skipped[/] {where}", highlight=False),
            stopped=interrupted.is_set,
            on_ready=header,
        ):
            if as_json:
                click.echo(record.model_dump_json())
            else:
                cells = alert_row(record)
                line = "  ".join(
                    f"{c:>{w}}" for c, (_, w) in zip(cells, ALERT_COLUMNS, strict=True)
                )
                console.print(line, style="red" if record.alert else None, highlight=False)
            shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, previous)
    summary = f"{shown} {'scores' if scores else 'alerts'} from {topic}"
    notes.print(summary, style="dim")
