"""The one Faust app of a worker process, and running it.

:func:`create_app` builds the app for one role from the role's settings; the role's worker
module (:mod:`streams.partner.worker`, :mod:`streams.scorer.worker`) attaches its agents and
:func:`run_app` runs it in the foreground until SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import os

import faust

from streams.core.settings import GUARANTEE_SWITCH, GUARANTEES, WorkerSettings
from streams.core.topics import faust_app_id
from streams.runtime import faust_fixes
from streams.runtime.codec import register_codec
from streams.runtime.connection import faust_broker_url, faust_credentials
from streams.runtime.logs import configure_logging, get_logger, stdlib_logging_config

__all__ = ["create_app", "run_app", "start_logging"]

_log = get_logger(__name__)


def _processing_guarantee() -> str:
    """Faust's processing guarantee: at least once, unless a benchmark measures the other."""
    chosen = os.environ.get(GUARANTEE_SWITCH, "at_least_once")
    if chosen not in GUARANTEES:
        msg = f"{GUARANTEE_SWITCH}={chosen!r}: expected one of {GUARANTEES}"
        raise ValueError(msg)
    return chosen


def create_app(settings: WorkerSettings, *, role: str, partner: str | None = None) -> faust.App:
    """Build the Faust app for ``role`` (and ``partner``): one consumer group per role/partner."""
    register_codec()
    faust_fixes.apply()
    app_id = faust_app_id(settings.app_id, role, partner)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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
        web_bind=settings.web_host,  # Faust would bind every interface (0.0.0.0) otherwise
        # Faust serves /table/<table>/<key>/ and /router/ by default: table values are a
        # partner's plaintext (card and terminal history). Only /ready, /live, /metrics are ours.
        web_enabled=True,
        web_tables_enabled=False,
        web_router_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
        processing_guarantee=_processing_guarantee(),
    )


def run_app(app: faust.App, settings: WorkerSettings, **context: object) -> None:
    """Run ``app`` in the foreground until SIGTERM or SIGINT (logs as JSON lines)."""
    _log.info("worker_starting", app_id=app.conf.id, broker=settings.broker, **context)
    worker = faust.Worker(
        app,
        loglevel=logging.getLevelName(settings.log_level),
        logging_config=stdlib_logging_config(settings.log_level),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()


def start_logging(settings: WorkerSettings) -> None:
    """Configure the process's logging before anything logs."""
    configure_logging(settings.log_level)
