"""Running one worker process: build the app for a role, attach its agents, run until stopped."""

from __future__ import annotations

import logging

import faust

from streams.agents import install_partner_agents
from streams.app import create_app, runtime_of
from streams.errors import ConfigError
from streams.logs import configure_logging, get_logger, stdlib_logging_config
from streams.settings import Settings

__all__ = ["ROLES", "build_worker_app", "run_worker"]

#: Roles a worker can take; ``scorer`` arrives with the FHE model.
ROLES = ("partner",)


def build_worker_app(settings: Settings, role: str, partner: str | None) -> faust.App:
    """The Faust app of ``role`` with its agents attached."""
    if role not in ROLES:
        msg = f"unknown role {role!r}; choose one of {', '.join(ROLES)}"
        raise ConfigError(msg)
    if partner is None:
        msg = "--partner is required for the partner role"
        raise ConfigError(msg)
    if partner not in settings.partners:
        msg = f"partner {partner!r} is not in FRAUD_PARTNERS ({', '.join(settings.partners)})"
        raise ConfigError(msg)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, role=role, partner=partner)
    install_partner_agents(app, runtime_of(settings), partner)
    return app


def run_worker(settings: Settings, role: str, partner: str | None) -> None:
    """Run the worker in the foreground until SIGTERM or SIGINT."""
    configure_logging(settings.log_level)
    app = build_worker_app(settings, role, partner)
    get_logger(__name__).info(
        "worker_starting", role=role, partner=partner, app_id=app.conf.id, broker=settings.broker
    )
    worker = faust.Worker(
        app,
        loglevel=logging.getLevelName(settings.log_level),
        logging_config=stdlib_logging_config(settings.log_level),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
