"""The shared scorer's worker process: the key follower, the FHE pool and the agent.

``fraudstream worker --role scorer`` runs :func:`run_scorer_worker`. It takes
:class:`~streams.core.settings.ScorerSettings`, which has no key folder: the scorer holds
evaluation keys (from the partners' keys topics) and the server part of the model, never a
secret key. Any number of scorers run in one consumer group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faust

from models.fhe.artifacts import ServerArtifact
from streams.broker.connection import kafka_python_config
from streams.core.errors import ConfigError
from streams.core.settings import ScorerSettings
from streams.core.topics import TopicNames
from streams.runtime.agents import AgentSet
from streams.runtime.app import create_app, run_app, start_logging
from streams.runtime.web import add_web_pages
from streams.scorer.admission import RequestGuard
from streams.scorer.agent import ScorerAgent, ScorerSteps
from streams.scorer.fhe_pool import FhePool
from streams.scorer.key_follower import KeyFollower
from streams.scorer.metrics import ScorerMetrics
from streams.scorer.signing_key import ScorerKey

__all__ = ["build_scorer_app", "run_scorer_worker"]


def build_scorer_app(settings: ScorerSettings) -> faust.App:
    """The Faust app of a scorer, its agent attached."""
    if settings.scorer_key_file is None:
        msg = (
            "FRAUD_SCORER_KEY_FILE is not set: the scorer signs every verdict with its own key "
            "(make one with `fraudstream keys scorer <file>`; partners pin its public key)"
        )
        raise ConfigError(msg)
    signer = ScorerKey.load(settings.scorer_key_file)
    model_dirs = _model_dirs(settings)
    app = create_app(settings, role="scorer")
    names = TopicNames(settings.topic_root)
    keys = KeyFollower(
        kafka_python_config(settings),
        {partner: names.evaluation_keys(partner) for partner in settings.partners},
        Path(settings.data_dir) / app.conf.id / f"evaluation-keys-{os.getpid()}",
    )
    pool = FhePool(
        list(model_dirs.values()),
        keys.directory,
        settings.scorer_processes,
        timeout=settings.fhe_timeout,
        threads=settings.scorer_threads,
    )
    steps = ScorerSteps(
        model_dirs,
        settings.partners,
        keys,
        pool,
        settings.key_wait,
        signer=signer,
        guard=RequestGuard(settings.request_max_age),
        metrics=ScorerMetrics(),
    )
    agents = AgentSet(steps.metrics)
    ScorerAgent(app, names, steps).install(app, agents)
    add_web_pages(
        app,
        lambda: agents.readiness(steps.readiness(), settings.stuck_after),
        agents=agents,
    )

    @app.on_before_shutdown.connect
    async def _stop(_sender: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        keys.stop()
        pool.shutdown()

    return app


def _model_dirs(settings: ScorerSettings) -> dict[str, Path]:
    """Every model the scorer serves, by version: ``FRAUD_MODEL_DIR`` and
    ``FRAUD_OTHER_MODEL_DIRS`` (each checked: its server part loads on this machine)."""
    served: dict[str, Path] = {}
    for directory in (settings.model_dir, *settings.other_model_dirs):
        server = ServerArtifact.load(directory.resolve())
        if server.version in served:
            msg = f"{directory} holds model {server.version} again (also {served[server.version]})"
            raise ConfigError(msg)
        served[server.version] = directory.resolve()
    return served


def run_scorer_worker(settings: ScorerSettings) -> None:
    """Run a scorer in the foreground until SIGTERM or SIGINT."""
    start_logging(settings)
    run_app(build_scorer_app(settings), settings, role="scorer")
