"""Running one worker process: build the app for a role, attach its agents, run until stopped.

Each role imports only what it needs: the scorer's process never imports the partner's key module
(:mod:`models.fhe.client.keys`), so it cannot hold a secret key even by mistake.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

import faust

from streams.core.errors import ConfigError
from streams.core.settings import Settings
from streams.runtime.app import create_app, runtime_of
from streams.runtime.connection import kafka_python_config
from streams.runtime.logs import configure_logging, get_logger, stdlib_logging_config

__all__ = ["ROLES", "build_worker_app", "run_worker"]

#: Roles a worker can take.
ROLES = ("partner", "scorer")
_SECRET_BYTES = 32
_log = get_logger(__name__)


def build_worker_app(settings: Settings, role: str, partner: str | None) -> faust.App:
    """The Faust app of ``role`` with its agents attached."""
    if role not in ROLES:
        msg = f"unknown role {role!r}; choose one of {', '.join(ROLES)}"
        raise ConfigError(msg)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if role == "scorer":
        if partner is not None:
            msg = "the scorer serves every partner: do not give --partner"
            raise ConfigError(msg)
        return _scorer_app(settings)
    if partner is None:
        msg = "--partner is required for the partner role"
        raise ConfigError(msg)
    if partner not in settings.partners:
        msg = f"partner {partner!r} is not in FRAUD_PARTNERS ({', '.join(settings.partners)})"
        raise ConfigError(msg)
    return _partner_app(settings, partner)


def _partner_app(settings: Settings, partner: str) -> faust.App:
    from models.fhe.artifacts import ClientArtifact  # noqa: PLC0415  (partner side only)
    from models.fhe.client.keys import KeyRing  # noqa: PLC0415
    from streams.partner.agents import PartnerContext, install_partner_agents  # noqa: PLC0415
    from streams.scorer.registry import publish_evaluation_keys  # noqa: PLC0415

    if settings.key_dir is None:
        msg = "FRAUD_KEY_DIR is required for the partner role (`fraudstream keys generate`)"
        raise ConfigError(msg)
    client = ClientArtifact.load(settings.model_dir.resolve())
    ring = KeyRing.load(client, settings.key_dir, settings.previous_key_dirs)
    if ring.partner != partner:
        msg = f"the keys in {settings.key_dir} belong to partner {ring.partner}, not {partner}"
        raise ConfigError(msg)
    app = create_app(settings, role="partner", partner=partner)
    runtime = runtime_of(settings)
    published = publish_evaluation_keys(
        kafka_python_config(settings),
        runtime.names.evaluation_keys(partner),
        partner=partner,
        key_id=ring.current.key_id,
        model_version=client.version,
        keys=ring.current.evaluation_keys(),
        signer=ring.current.signer(),
        max_message_bytes=settings.max_message_bytes,
    )
    _log.info("evaluation_keys_ready", key_id=ring.current.key_id, newly_published=published)
    threshold = client.threshold if settings.threshold is None else settings.threshold
    context = PartnerContext(partner, ring, threshold, _request_secret(settings, app.conf.id))
    install_partner_agents(app, runtime, context)
    return app


def _request_secret(settings: Settings, app_id: str) -> bytes:
    """The partner's request-id secret, made once and kept in its data folder (0600)."""
    path = Path(settings.data_dir) / app_id / "request-id.secret"
    if path.exists():
        secret = path.read_bytes()
        if len(secret) != _SECRET_BYTES:
            msg = (
                f"{path} holds {len(secret)} bytes, not {_SECRET_BYTES}: it is damaged; delete it "
                "(in-flight requests then get new ids) and restart"
            )
            raise ConfigError(msg)
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    secret = secrets.token_bytes(_SECRET_BYTES)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secret)
    return secret


def _scorer_app(settings: Settings) -> faust.App:
    from models.fhe.artifacts import ServerArtifact  # noqa: PLC0415
    from streams.scorer.agent import ScorerContext, install_scorer_agents  # noqa: PLC0415
    from streams.scorer.registry import RegistryFollower  # noqa: PLC0415

    server = ServerArtifact.load(settings.model_dir.resolve())
    app = create_app(settings, role="scorer")
    runtime = runtime_of(settings)
    registry = RegistryFollower(
        kafka_python_config(settings),
        {partner: runtime.names.evaluation_keys(partner) for partner in settings.partners},
        Path(settings.data_dir) / app.conf.id / f"evaluation-keys-{os.getpid()}",
    )
    context = ScorerContext(
        model_dir=settings.model_dir.resolve(),
        model_version=server.version,
        registry=registry,
        processes=settings.scorer_processes,
        key_wait=settings.key_wait,
    )
    install_scorer_agents(app, runtime, context)

    @app.on_before_shutdown.connect
    async def _stop(_sender: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        registry.stop()
        if context.pool is not None:
            context.pool.shutdown(wait=True, cancel_futures=True)

    return app


def run_worker(settings: Settings, role: str, partner: str | None) -> None:
    """Run the worker in the foreground until SIGTERM or SIGINT."""
    configure_logging(settings.log_level)
    app = build_worker_app(settings, role, partner)
    _log.info(
        "worker_starting", role=role, partner=partner, app_id=app.conf.id, broker=settings.broker
    )
    worker = faust.Worker(
        app,
        loglevel=logging.getLevelName(settings.log_level),
        logging_config=stdlib_logging_config(settings.log_level),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
