"""``fraudstream topics``: create the topics of the system."""

from __future__ import annotations

import click

from streams.broker.admin import ensure_topics
from streams.cli._common import Group, broker_option, console, load_settings
from streams.core.topics import TopicNames, topic_specs
from streams.runtime.connection import kafka_python_config

__all__ = ["topics"]


@click.group(cls=Group)
def topics() -> None:
    """The topics of the system: <root>.<partner or scoring>.<entity>.v<N>."""


@topics.command("create")
@broker_option
def topics_create(broker: str | None) -> None:
    """Create every topic for FRAUD_PARTNERS that does not exist yet (idempotent)."""
    settings = load_settings(broker=broker)
    specs = topic_specs(
        TopicNames(settings.topic_root),
        settings.partners,
        partitions=settings.topic_partitions,
        max_message_bytes=settings.max_message_bytes,
        app_id=settings.app_id,
    )
    created = ensure_topics(
        kafka_python_config(settings), specs, replication=settings.topic_replication
    )
    for spec in specs:
        mark = "[green]created[/]" if spec.name in created else "exists "
        console.print(f"{mark} {spec.name} ({spec.partitions} partitions)")
