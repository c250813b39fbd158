"""``fraudstream federate aggregate`` (the shared service) and ``federate contribute`` (one per
partner, inside it): the secure sums of the shared counts over Kafka, running until stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from models.features.spec import FeatureSpec, SharedCountsSpec, load_spec, shared_handbook_spec
from models.federation.secure_sum import Ledger, MaskingKey
from models.federation.shared_rounds import (
    Contributor,
    CountBook,
    RosterBook,
    SumsAggregator,
    session_run,
)
from streams.broker.admin import ensure_topics
from streams.broker.connection import kafka_python_config
from streams.cli._common import Command, broker_option, console, load_settings, say
from streams.cli.federate_roles import key_option, load_members, members_option, own_key
from streams.core.events import EventLimits
from streams.core.settings import PartnerSettings
from streams.core.topics import TopicNames
from streams.federation import serve_aggregator, serve_contributor, shared_sums_topic_specs
from streams.federation.shared_sums import ContributorStats

__all__ = ["aggregate", "contribute"]

_spec_option = click.option(
    "--spec",
    "spec_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="A feature spec with [shared_counts] (default: the handbook's with shared terminal "
    "counts). Every member must use the same [shared_counts] and label delay: they name the "
    "session.",
)
_partners_option = click.option(
    "--partners",
    metavar="IDS",
    default=None,
    help="The members whose counts are summed, comma-separated (default: FRAUD_PARTNERS); "
    "a round is summed only when every one of them sent its vector.",
)


def _spec(spec_file: Path | None) -> tuple[FeatureSpec, SharedCountsSpec]:
    spec = load_spec(spec_file) if spec_file else shared_handbook_spec()
    session_run(spec)  # refuses a spec without [shared_counts] label windows
    if spec.shared_counts is None:  # (so does session_run: this tells mypy)
        msg = f"{spec.name} has no [shared_counts]"
        raise click.BadParameter(msg, param_hint="--spec")
    return spec, spec.shared_counts


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


@click.command(cls=Command)
@members_option
@key_option
@click.option("--name", default="aggregator", show_default=True, help="The aggregator's name.")
@_partners_option
@_spec_option
@click.option(
    "--max-pending",
    type=click.IntRange(1),
    default=24 * 14,
    show_default=True,
    help="Rounds kept waiting for a member's vector; older ones are dropped (the gateways "
    "count those hours from their own transactions).",
)
@broker_option
def aggregate(
    *,
    members_file: Path,
    key_file: Path,
    name: str,
    partners: str | None,
    spec_file: Path | None,
    max_pending: int,
    broker: str | None,
) -> None:
    """Run the aggregator until stopped (SIGTERM or Ctrl-C): sum each hour's masked vectors once
    every member sent its own, and publish the sums, signed, for the gateways. It learns the
    sums and nothing else; it never sums part of the members."""
    settings = load_settings(broker=broker)
    names = [p.strip() for p in partners.split(",")] if partners else list(settings.partners)
    members = load_members(members_file)
    key = own_key(name, key_file, members)
    spec, config = _spec(spec_file)
    client = kafka_python_config(settings)
    topics = TopicNames(settings.topic_root)
    ensure_topics(client, shared_sums_topic_specs(topics, settings.max_message_bytes))
    rosters = RosterBook(members, names, session_run(spec))
    aggregator = SumsAggregator(key, rosters, config, max_pending)
    console.print(f"aggregating {rosters.run} for {', '.join(rosters.partners)}; Ctrl-C stops")
    published = serve_aggregator(
        aggregator,
        client_config=client,
        names=topics,
        max_message_bytes=settings.max_message_bytes,
        stop=_stop_on_signals(),
        progress=lambda n: say(f"{n} round(s) summed and published"),
    )
    console.print(f"published {published} round(s) of sums")


@click.command(cls=Command)
@click.option("--partner", required=True, help="This partner's member name.")
@members_option
@key_option
@_partners_option
@_spec_option
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the masking key and the ledger of answered rounds are kept (default: the "
    "signing key's folder). Keep it: a restarted contributor then re-sends the same vectors.",
)
@broker_option
def contribute(
    *,
    partner: str,
    members_file: Path,
    key_file: Path,
    partners: str | None,
    spec_file: Path | None,
    state_dir: Path | None,
    broker: str | None,
) -> None:
    """Run this partner's contributor until stopped (SIGTERM or Ctrl-C): count its own
    transactions and frauds per terminal bucket and hour from its own topics, and send each hour,
    masked, once its labels are final (the label delay after the hour). Nothing it sends shows a
    count to anyone without the other members' vectors."""
    settings = load_settings(PartnerSettings, broker=broker)
    names = [p.strip() for p in partners.split(",")] if partners else list(settings.partners)
    if partner not in names:
        msg = f"{partner} is not one of the members {names}"
        raise click.BadParameter(msg, param_hint="--partner")
    members = load_members(members_file)
    key = own_key(partner, key_file, members)
    spec, _ = _spec(spec_file)
    folder = state_dir or key_file.parent
    run = session_run(spec)
    contributor = Contributor(
        key,
        MaskingKey.load_or_create(folder / f"{partner}.masking-key"),
        RosterBook(members, names, run),
        CountBook(spec),
        Ledger(folder / f"{partner}.secure-sum-ledger.json"),
    )
    limits = EventLimits(
        partners=frozenset({partner}),
        max_event_bytes=settings.max_event_bytes,
        max_amount=settings.max_amount,
        max_clock_skew_s=settings.max_clock_skew,
        spec=spec,
    )
    client = kafka_python_config(settings)
    topics = TopicNames(settings.topic_root)
    ensure_topics(client, shared_sums_topic_specs(topics, settings.max_message_bytes))
    console.print(f"{partner}: contributing to {run}; Ctrl-C stops")

    def progress(stats: ContributorStats) -> None:
        say(f"{partner}: {stats.events:,} events counted, {stats.rounds} round(s) sent")

    stats = serve_contributor(
        contributor,
        limits=limits,
        client_config=client,
        names=topics,
        max_message_bytes=settings.max_message_bytes,
        stop=_stop_on_signals(),
        progress=progress,
    )
    console.print(
        f"{partner}: {stats.events:,} events counted, {stats.refused:,} refused, "
        f"{stats.rounds} round(s) sent"
    )
