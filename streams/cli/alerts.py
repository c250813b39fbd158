"""``fraudstream alerts``: a partner's fraud alerts (or scores) as a table, or its live page."""

from __future__ import annotations

import signal
import threading

import click

from streams.broker.admin import assigned_consumer
from streams.broker.connection import kafka_python_config
from streams.cli._common import (
    Command,
    broker_option,
    check_partners,
    console,
    err_console,
    load_settings,
)
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.partner.alert_follower import ALERT_COLUMNS, alert_row, follow_records
from streams.partner.alerts_page import AlertsPage, serve_page

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
@click.option(
    "--serve",
    metavar="[HOST:]PORT",
    help="Instead of a table, serve the live alerts page (the latest alerts and scores, a score "
    "histogram, updated as they arrive) at http://HOST:PORT/ until Ctrl-C; HOST is 127.0.0.1 "
    "unless given. FRAUD_ALERTS_PAGE_SCORES and FRAUD_ALERTS_PAGE_ALERTS size it.",
)
@broker_option
def alerts(
    partner: str,
    follow: bool,
    from_now: bool,
    scores: bool,
    as_json: bool,
    serve: str | None,
    broker: str | None,
) -> None:
    """Show a partner's fraud alerts as a table, for its fraud team.

    Reads <root>.<partner>.alerts.v1 (or .scores.v1 with --scores) without joining a consumer
    group, so following never moves anyone's offsets. Runs inside the partner: alerts are
    plaintext. With --serve, a web page shows both topics live (docs/alerts.md).
    """
    settings = load_settings(broker=broker)
    check_partners(settings, [partner])
    names = TopicNames(settings.topic_root)
    if serve is not None:
        if follow or from_now or scores or as_json:
            msg = "--serve shows alerts and scores as they arrive: no --follow, --from-now, "
            raise click.UsageError(msg + "--scores or --json with it")
        _serve_page(settings, names, partner, serve)
        return
    topic = names.scores(partner) if scores else names.alerts(partner)
    shown = _show_table(settings, topic, follow=follow, from_now=from_now, as_json=as_json)
    summary = f"{shown} {'scores' if scores else 'alerts'} from {topic}"
    (err_console if as_json else console).print(summary, style="dim")


def _show_table(
    settings: Settings, topic: str, *, follow: bool, from_now: bool, as_json: bool
) -> int:
    """Print ``topic``'s records (a table, or JSON lines); return how many were shown."""
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
    return shown


def _address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` → (host, port); 127.0.0.1 when no host is given."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        msg = f"{text!r} is not [HOST:]PORT (e.g. 8080 or 127.0.0.1:8080)"
        raise click.BadParameter(msg, param_hint="--serve")
    return host.strip("[]") or "127.0.0.1", int(port)


def _serve_page(settings: Settings, names: TopicNames, partner: str, address: str) -> None:
    """Serve ``partner``'s live alerts page at ``address`` until Ctrl-C."""
    host, port = _address(address)
    client = kafka_python_config(settings)
    topics = (names.scores(partner), names.alerts(partner))
    # Both topics must be there: a wrong partner or root is an error now, not an empty page.
    hint = " (is the partner id right? is FRAUD_TOPIC_ROOT?)"
    assigned_consumer(client, topics, hint=hint).close()
    page = AlertsPage(
        client,
        partner,
        *topics,
        host=host,
        port=port,
        max_scores=settings.alerts_page_scores,
        max_alerts=settings.alerts_page_alerts,
    )

    def ready(url: str) -> None:
        console.print(f"Live alerts page of {partner}: {url} (Ctrl-C stops)", highlight=False)

    serve_page(page, ready)
