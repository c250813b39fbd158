"""``fraudstream shadow``: a candidate model's shadow scores against the current model's."""

from __future__ import annotations

import click
import orjson

from streams.broker.connection import kafka_python_config
from streams.cli._common import Command, broker_option, console, load_settings
from streams.core.topics import TopicNames
from streams.partner.alert_follower import follow_records
from streams.partner.shadow_report import compare_shadow

__all__ = ["shadow"]


@click.command(cls=Command)
@click.option("--partner", required=True, help="Whose scores (the partner's own topics).")
@click.option(
    "--candidate",
    default=None,
    metavar="VERSION",
    help="Compare this candidate model version only (default: every one on shadow-scores).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@broker_option
def shadow(partner: str, candidate: str | None, as_json: bool, broker: str | None) -> None:
    """Compare a candidate model's shadow scores with the current model's, per transaction.

    Reads <root>.<partner>.scores.v1 and .shadow-scores.v1 to their end (no consumer group)
    and prints how many transactions both scored, the alerts each model raised, the
    transactions whose alert the switch would gain or lose, and how far the scores move. Runs
    inside the partner: scores are plaintext. Start shadow scoring with FRAUD_SHADOW_KEY_DIR
    on the partner's worker (docs/reliability.md, "Changing the model under load").
    """
    settings = load_settings(broker=broker)
    names = TopicNames(settings.topic_root)
    config = kafka_python_config(settings)

    def skipped(where: str) -> None:
        console.print(f"[yellow]skipped[/] {where}", highlight=False)

    current = list(follow_records(config, names.scores(partner), follow=False, on_bad=skipped))
    shadowed = follow_records(config, names.shadow_scores(partner), follow=False, on_bad=skipped)
    report = compare_shadow(current, shadowed, candidate)
    if as_json:
        click.echo(orjson.dumps(report.as_dict()).decode())
    else:
        console.print(report.text(), highlight=False)
