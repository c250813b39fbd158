"""``fraudstream topics``: create the topics of the system."""

from __future__ import annotations

import click

from streams.broker.admin import ensure_declared_topics
from streams.cli._common import Group, broker_option, console, load_settings
from streams.core.topics import declared_topics

__all__ = ["topics"]


@click.group(cls=Group)
def topics() -> None:
    """The topics of the system: <root>.<partner or scoring>.<entity>.v<N>."""


@topics.command("create")
@broker_option
def topics_create(broker: str | None) -> None:
    """Create every topic for FRAUD_PARTNERS that does not exist yet (idempotent)."""
    settings = load_settings(broker=broker)
    created = ensure_declared_topics(settings)
    for spec in declared_topics(settings):
        mark = "[green]created[/]" if spec.name in created else "exists "
        console.print(f"{mark} {spec.name} ({spec.partitions} partitions)")
