"""``fraudstream worker``: run one partner or scorer worker.

This module starts the scorer's process too, so it must never import the partner's code
(``streams.partner``, ``models.fhe.client``), not even indirectly: the module that runs a worker
is imported by name in :func:`run`, the one place to change when the runner moves.
"""

from __future__ import annotations

import importlib

import click

from streams.cli._common import Command, load_settings
from streams.core.settings import Settings

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
    run(load_settings(), role, partner)


def run(settings: Settings, role: str, partner: str | None) -> None:
    """Run the worker of ``role`` until it is stopped.

    The runner is imported by name, not by an import statement: an import statement would be
    an import edge (checked by import-linter) from this module to every role's code, the
    partner's included. (Today ``streams.runtime.worker`` runs both roles; once it is split,
    import the role's own module here, e.g. ``f"streams.{role}.worker"``.)
    """
    runner = importlib.import_module("streams.runtime.worker")
    runner.run_worker(settings, role, partner)
