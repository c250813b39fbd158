"""``fraudstream worker``: run one partner or scorer worker.

This module starts the scorer's process too, so it must never import the partner's code
(``streams.partner``, ``models.fhe.client``), not even indirectly: the module that runs a worker
is imported by name in :func:`run`, the one place to change when the runner moves.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

import click

from streams.cli._common import Command, load_settings
from streams.core.errors import ConfigError
from streams.core.settings import PartnerSettings, ScorerSettings, WorkerSettings

__all__ = ["run", "worker"]


@click.command(cls=Command)
@click.option(
    "--role", type=click.Choice(["partner", "scorer"]), required=True, help="What to run."
)
@click.option("--partner", help="The partner id (partner role only).")
def worker(role: str, partner: str | None) -> None:
    """Run one worker in the foreground until SIGTERM/SIGINT.

    \b
    partner (inside a partner; needs FRAUD_MODEL_DIR and FRAUD_KEY_DIR):
      publishes its evaluation keys once to <root>.<partner>.keys.v1; validates transactions
      and labels (malformed ones go to <root>.<partner>.deadletter.v1 with the reason),
      computes features in tables recovered from changelogs, encrypts them and sends
      requests to <root>.scoring.requests.v1; decrypts its verdicts into
      <root>.<partner>.scores.v1 and, over the threshold, <root>.<partner>.alerts.v1.
    scorer (the shared service; needs FRAUD_MODEL_DIR, never a key):
      evaluates requests in FHE with the partners' evaluation keys and routes each encrypted
      verdict to <root>.<partner>.verdicts.v1; bad requests go to
      <root>.scoring.deadletter.v1. Run any number in one consumer group.
    """
    run(role, partner)


def run(role: str, partner: str | None) -> None:
    """Run the worker of ``role`` until it is stopped, with that role's settings (a scorer's
    have no key folder).

    The role's module is imported by name, not by an import statement: an import statement
    would be an import edge (checked by import-linter) from this module to every role's code,
    the partner's included, and this module starts the scorer too.
    """
    if role == "scorer":
        if partner is not None:
            msg = "the scorer serves every partner: do not give --partner"
            raise ConfigError(msg)
        scorer = importlib.import_module("streams.scorer.worker")
        scorer.run_scorer_worker(_patient(load_settings(ScorerSettings)))
        return
    if partner is None:
        msg = "--partner is required for the partner role"
        raise ConfigError(msg)
    gateway = importlib.import_module("streams.partner.worker")
    gateway.run_partner_worker(_patient(load_settings(PartnerSettings)), partner)


#: Seconds a worker's Kafka clients wait at least to reach the broker (kafka-python's default).
WORKER_CONNECT_TIMEOUT_S = 30.0

_W = TypeVar("_W", bound=WorkerSettings)


def _patient(settings: _W) -> _W:
    """``settings`` with a connect timeout of at least :data:`WORKER_CONNECT_TIMEOUT_S`: a worker
    may start beside a broker that is still starting, or read back after a broker restart."""
    timeout = max(settings.connect_timeout_s, WORKER_CONNECT_TIMEOUT_S)
    return settings.model_copy(update={"connect_timeout_s": timeout})
