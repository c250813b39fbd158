"""``fraudstream demo``: the whole system on this machine, from nothing to alerts."""

from __future__ import annotations

import sys

import click

from streams.cli._common import Command, console, load_settings
from streams.qa.demo import run_demo

__all__ = ["demo"]


@click.command(cls=Command, owns_processes=True)
@click.option(
    "--fraud-cards",
    type=click.IntRange(0, 20),
    default=2,
    show_default=True,
    help="Cards per partner with frauds on the replayed day.",
)
@click.option(
    "--legit-cards",
    type=click.IntRange(0, 50),
    default=4,
    show_default=True,
    help="Cards per partner without frauds that day.",
)
def demo(fraud_cards: int, legit_cards: int) -> None:
    """The main job on this machine, from nothing to alerts.

    Starts a local broker on free loopback ports, takes the model in FRAUD_MODEL_DIR (or trains
    the default one into artifacts/, federated across the partners: docs/federation.md), makes
    FHE keys for each partner, starts one scorer and one gateway per partner, warms the gateways'
    feature state with history, replays a day of real transactions of a few cards per partner
    (and three malformed events), prints every score and alert as it arrives and a summary.
    Everything is stopped at the end.
    """
    sys.exit(run_demo(load_settings(), console, fraud_cards=fraud_cards, legit_cards=legit_cards))
