"""The one Faust app of a worker process.

:func:`create_app` builds the app for one role from :class:`~streams.core.settings.Settings`; it is
the only place (with the CLI entry point) where settings are read. Agents are attached by the role's
installer, e.g. :func:`streams.partner.agents.install_partner_agents`.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.core.events import EventLimits
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.runtime import faust_fixes
from streams.runtime.codec import register_codec
from streams.runtime.connection import faust_broker_url, faust_credentials

__all__ = ["Runtime", "create_app", "runtime_of"]


@dataclass(frozen=True)
class Runtime:
    """What agents need from the settings, as plain values."""

    names: TopicNames
    limits: EventLimits
    partitions: int


def create_app(settings: Settings, *, role: str, partner: str | None = None) -> faust.App:
    """Build the Faust app for ``role`` (and ``partner``): one consumer group per role/partner."""
    register_codec()
    faust_fixes.apply()
    app_id = f"{settings.app_id}-{role}" + (f"-{partner}" if partner else "")
    return faust.App(
        app_id,
        broker=faust_broker_url(settings),
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir / app_id),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        # Our topics are declared by `fraudstream topics create` (faust never declares non-internal
        # topics); this lets faust create its own internal ones (leader, table changelogs).
        topic_allow_declare=True,
        broker_session_timeout=settings.session_timeout,
        producer_max_request_size=settings.max_message_bytes,
        consumer_max_fetch_size=settings.max_message_bytes,
        web_port=settings.web_port,
        web_host=settings.web_host,
        # Faust serves /table/<table>/<key>/ and /router/ by default: table values are a
        # partner's plaintext (card and terminal history). Only /ready, /live, /metrics are ours.
        web_enabled=True,
        web_tables_enabled=False,
        web_router_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
    )


def runtime_of(settings: Settings) -> Runtime:
    """The plain values agents take."""
    return Runtime(
        names=TopicNames(settings.topic_root),
        limits=EventLimits(
            partners=frozenset(settings.partners),
            max_event_bytes=settings.max_event_bytes,
            max_amount=settings.max_amount,
        ),
        partitions=settings.topic_partitions,
    )
