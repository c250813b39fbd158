"""``fraudstream worker``: run one partner or scorer worker.

This module starts the scorer's process too, so it must never import the partner's code
(``streams.partner``, ``models.fhe.client``), not even indirectly: the module that runs a worker
is imported by name in :func:`run`, the one place to change when the runner moves.
"""

from __future__ import annotations

import importlib

import click

from streams.broker.connection import patient
from streams.cli._common import Command, load_settings
from streams.core.errors import ConfigError
from streams.core.settings import PartnerSettings, ScorerSettings

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
        scorer.run_scorer_worker(patient(load_settings(ScorerSettings)))
        return
    if partner is None:
        msg = "--partner is required for the partner role"
        raise ConfigError(msg)
    gateway = importlib.import_module("streams.partner.worker")
    gateway.run_partner_worker(patient(load_settings(PartnerSettings)), partner)
