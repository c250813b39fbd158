"""``fraudstream federate``: training without pooling the data, and what it costs and buys.

``assess`` runs the experiment of docs/federation.md on the bundled data: for each partner count,
central training (global and per-partner features), each partner alone, federated training, and
federated training with the terminal windows read from secure sums, all in FHE simulation on the
whole test week, then a real-FHE sample of the federated model.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from models.federation.report import assess_federation, federation_markdown
from models.training.fitting import ModelSpec
from streams.cli._common import (
    Command,
    Group,
    broker_option,
    console,
    load_settings,
    replace_block,
    say,
)
from streams.cli.federate_roles import shape_options, strategy_option, train, trainer
from streams.cli.federate_sums import aggregate, contribute
from streams.qa.federation_run import federate_locally

__all__ = ["federate"]


@click.group(cls=Group)
def federate() -> None:
    """Federated training and secure sums: each partner trains on its own rows, only trees and
    masked counts leave it (docs/federation.md)."""


def _counts(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        counts = tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    except ValueError as exc:
        msg = f"{value!r} is not a comma-separated list of partner counts"
        raise click.BadParameter(msg) from exc
    if not counts or min(counts) < 2 or max(counts) > 8:
        msg = "partner counts go from 2 to 8 (a secure sum needs two members)"
        raise click.BadParameter(msg)
    return counts


@federate.command(cls=Command)
@click.option(
    "--partners",
    default="2,4",
    show_default=True,
    callback=_counts,
    help="Partner counts to assess, comma-separated (cards split between them by hash).",
)
@click.option(
    "--strategy",
    "strategies",
    type=click.Choice(["bagging", "cyclic"]),
    multiple=True,
    default=("bagging", "cyclic"),
    show_default=True,
    help="How trees are grown: every partner each round (bagging), or one in turn (cyclic).",
)
@shape_options
@click.option(
    "--simulate/--clear",
    default=True,
    show_default=True,
    help="Score the test week in FHE simulation, or with the quantized model in the clear (the "
    "same scores for tree circuits, minutes faster).",
)
@click.option(
    "--fhe-sample",
    type=click.IntRange(0, 1000),
    default=20,
    show_default=True,
    help="Test transactions run in real FHE through each count's last federated model.",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also rewrite the federation block of this Markdown file (docs/federation.md).",
)
@click.option(
    "--json-out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write every row as JSON here.",
)
def assess(
    *,
    partners: tuple[int, ...],
    strategies: tuple[str, ...],
    depth: int,
    trees: int,
    n_bits: int,
    simulate: bool,
    fhe_sample: int,
    doc: Path | None,
    json_out: Path | None,
) -> None:
    """Central, alone, federated and federated + secure sums, side by side, on the bundled data.

    Every model has the same shape and is scored in FHE simulation on the whole test week
    (2018-08-08..14); takes about half an hour per partner count on 2 cores.
    """
    model = ModelSpec(depth=depth, trees=trees, n_bits=n_bits)
    assessment = assess_federation(
        partners,
        model,
        strategies=strategies,
        fhe="simulate" if simulate else "disable",
        fhe_sample=fhe_sample,
        say=say,
    )
    table = federation_markdown(assessment)
    console.print(table, highlight=False)
    if json_out is not None:
        json_out.write_text(json.dumps(assessment.to_json(), indent=2) + "\n")
        console.print(f"[green]written[/] {json_out}")
    if doc is not None:
        replace_block(doc, "federation", f"Model {model.label()}, test week:\n\n{table}")
        console.print(f"[green]written[/] {doc} (federation block)")


federate.add_command(train)
federate.add_command(trainer)
federate.add_command(aggregate)
federate.add_command(contribute)


@federate.command(cls=Command, owns_processes=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("artifacts"),
    show_default=True,
    help="Where the version is written: <out>/<version>/ (member keys in <out>/.federation/).",
)
@strategy_option
@broker_option
def run(out: Path, strategy: str, broker: str | None) -> None:
    """Federated training with every role on this machine: a trainer process per partner of
    FRAUD_PARTNERS (each on its own cards of the bundled data) and the coordinator, over the
    broker; saves the model version.
    """
    settings = load_settings(broker=broker)
    version = federate_locally(settings, out, options=("--strategy", strategy), say=say)
    console.print(f"[green]federated model[/] {version}")
