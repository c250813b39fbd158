"""``fraudstream federate train`` (the coordinator, in the service) and ``federate trainer`` (one
per partner, inside it): federated training over the project's Kafka topics."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import click

from models.errors import FederationError
from models.features.shared import SharedCounts
from models.features.spec import FeatureSpec, handbook_spec, load_spec
from models.federation.assessment import owners
from models.federation.coordinator import FederationPlan, run_federation
from models.federation.model_version import save_federated
from models.federation.trainer import LocalRows, PartnerTrainer
from models.federation.trees import TreeParams
from models.federation.wire import MemberKey, Members
from models.training.fitting import ProtocolChoice, load_protocol_data
from streams.broker.admin import ensure_topics
from streams.broker.connection import kafka_python_config
from streams.cli._common import Command, broker_option, console, load_settings, say
from streams.cli._data import DataChoice, data_options, protocol_options
from streams.cli._model_steps import point_latest
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.federation import KafkaTransport, federation_topic_specs, serve_trainer
from streams.federation.shared_sums import read_shared_counts

__all__ = [
    "key_option",
    "load_members",
    "members_option",
    "own_key",
    "shape_options",
    "strategy_option",
    "train",
    "trainer",
]

#: ``--strategy``: how trees are grown.
strategy_option = click.option(
    "--strategy",
    type=click.Choice(["bagging", "cyclic"]),
    default="bagging",
    show_default=True,
    help="Every member boosts a tree each round (bagging), or one member in turn (cyclic).",
)
_SHAPE = [
    click.option(
        "--trees", type=click.IntRange(1, 500), default=10, show_default=True, help="Trees."
    ),
    click.option(
        "--depth", type=click.IntRange(1, 10), default=2, show_default=True, help="Tree depth."
    ),
    click.option(
        "--n-bits",
        type=click.IntRange(2, 8),
        default=3,
        show_default=True,
        help="Bits per quantized input and leaf.",
    ),
]


def shape_options(func: Callable[..., None]) -> Callable[..., None]:
    """``--trees``, ``--depth``, ``--n-bits``: the model's shape."""
    for option in reversed(_SHAPE):
        func = option(func)
    return func


members_option = click.option(
    "--members",
    "members_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="JSON file: member name → its Ed25519 public key (hex), the coordinator's included; "
    "the federation's pinned keys.",
)
key_option = click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="This member's Ed25519 signing key (32 raw bytes; made, mode 0600, when missing).",
)


def load_members(path: Path) -> Members:
    try:
        return Members.from_json(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        msg = f"{path}: not a members file ({exc})"
        raise FederationError(msg) from exc


def own_key(name: str, path: Path, members: Members) -> MemberKey:
    key = MemberKey.load_or_create(name, path)
    if members.keys.get(name) != key.public_key:
        msg = (
            f"{path} is not the key the members file pins for {name!r}: add its public key "
            f"{key.public_key.hex()} to the members file"
        )
        raise FederationError(msg)
    return key


@click.command(cls=Command)
@members_option
@key_option
@click.option("--name", default="coordinator", show_default=True, help="The coordinator's name.")
@click.option(
    "--partners",
    metavar="IDS",
    default=None,
    help="Members asked to train, comma-separated (default: FRAUD_PARTNERS).",
)
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The federation's feature spec (default: the handbook's); every trainer must "
    "compute its features with the same spec.",
)
@strategy_option
@shape_options
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=120.0,
    show_default=True,
    help="Seconds a member has to answer a task before it is left out of the round.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("artifacts"),
    show_default=True,
    help="Where the version is written: <out>/<version>/.",
)
@broker_option
def train(
    *,
    members_file: Path,
    key_file: Path,
    name: str,
    partners: str | None,
    spec_file: Path | None,
    strategy: str,
    trees: int,
    depth: int,
    n_bits: int,
    timeout: float,
    out: Path,
    broker: str | None,
) -> None:
    """Run a federated training as its coordinator: ask the members for trees and masked sums
    over Kafka, compile the model and save it as a version with its card (members, rounds, rows
    and frauds per member; never a row)."""
    settings = load_settings(broker=broker)
    names = [p.strip() for p in partners.split(",")] if partners else list(settings.partners)
    members = load_members(members_file)
    key = own_key(name, key_file, members)
    spec = load_spec(spec_file) if spec_file else handbook_spec()
    client = kafka_python_config(settings)
    topics = TopicNames(settings.topic_root)
    ensure_topics(client, federation_topic_specs(topics, names, settings.max_message_bytes))
    plan = FederationPlan(
        run=f"federated-{uuid.uuid4().hex[:12]}",
        spec_digest=spec.digest,
        n_features=len(spec.feature_names),
        strategy=strategy,  # type: ignore[arg-type]  # click.Choice guarantees the literal
        trees=trees,
        n_bits=n_bits,
        params=TreeParams(depth=depth),
        timeout=timeout,
    )
    console.print(f"federated run {plan.run}: {', '.join(names)}, {strategy}, {trees} trees")
    transport = KafkaTransport(client, topics, members, settings.max_message_bytes)
    try:
        result = run_federation(
            plan, key=key, members=members, names=names, transport=transport, say=say
        )
    finally:
        transport.close()
    with console.status("compiling the FHE circuit (on bin indices: no data)…"):
        version_dir = save_federated(result, spec, out)
    latest = point_latest(out, version_dir)
    console.print((version_dir / "model_card.md").read_text(), highlight=False)
    console.print(f"[green]saved[/] {version_dir} (also {latest})")


def _local_rows(
    source: DataChoice,
    protocol: ProtocolChoice,
    spec: FeatureSpec,
    partner: str,
    split: str,
    shared: SharedCounts | None = None,
) -> LocalRows:
    data = source.read(spec)
    if split:
        others = tuple(p.strip() for p in split.split(","))
        if partner not in others:
            msg = f"--split-partners {split} does not name {partner}"
            raise click.BadParameter(msg)
        data = dataclasses.replace(data, frame=data.frame[owners(data.frame, others) == partner])
    rows = load_protocol_data(data, spec, protocol, shared=shared)
    return LocalRows(rows.x_train, rows.y_train, spec.digest)


def _shared_sums(
    settings: Settings, spec: FeatureSpec, members: Members, aggregator: str
) -> SharedCounts | None:
    """The aggregator's sums from the broker, when the spec shares counts (else ``None``)."""
    if spec.shared_counts is None:
        return None
    shared = read_shared_counts(
        kafka_python_config(settings),
        TopicNames(settings.topic_root),
        spec,
        members=members,
        aggregator=aggregator,
        max_message_bytes=settings.max_message_bytes,
    )
    hours = sum(len(shared.time_buckets(entity)) for entity in spec.shared_counts.entities)
    say(f"{hours:,} hours of the aggregator's sums read; the others count this partner's own")
    return shared


@click.command(cls=Command)
@click.option("--partner", required=True, help="This partner's member name.")
@members_option
@key_option
@click.option(
    "--coordinator",
    default="coordinator",
    show_default=True,
    help="The member whose tasks are answered (and nobody else's).",
)
@click.option(
    "--split-partners",
    metavar="IDS",
    default="",
    help="Keep only this partner's cards of the data, split between IDS by hash (the "
    "bundled slice split per partner, as `model train --partners` does).",
)
@click.option(
    "--aggregator",
    default="aggregator",
    show_default=True,
    help="With a spec that has [shared_counts]: the member whose sums the shared windows read "
    "(from the broker's sums topic, as the gateway does).",
)
@data_options
@protocol_options
@broker_option
def trainer(
    *,
    partner: str,
    members_file: Path,
    key_file: Path,
    coordinator: str,
    split_partners: str,
    aggregator: str,
    source: DataChoice,
    protocol: ProtocolChoice,
    broker: str | None,
) -> None:
    """Answer the coordinator's tasks from this partner's own rows until stopped (SIGTERM or
    Ctrl-C): trees, masked histograms, counts of rows; never a row. A spec with [shared_counts]
    computes its shared windows from the aggregator's sums on the broker, as the gateway does."""
    settings = load_settings(broker=broker)
    members = load_members(members_file)
    key = own_key(partner, key_file, members)
    spec = source.spec()
    shared = _shared_sums(settings, spec, members, aggregator)
    with console.status(f"computing {partner}'s features ({spec.name})…"):
        rows = _local_rows(source, protocol, spec, partner, split_partners, shared)
    say(f"{partner}: {len(rows.labels):,} training rows, {rows.frauds} frauds; serving tasks")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    answered = serve_trainer(
        PartnerTrainer(key, members, coordinator, rows),
        kafka_python_config(settings),
        TopicNames(settings.topic_root),
        settings.max_message_bytes,
        stop,
        app_id=settings.app_id,
    )
    console.print(f"{partner}: answered {answered} task(s)")
