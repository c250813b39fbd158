"""``fraudstream model compile-options``: one model compiled with Concrete's options side by
side, for bootstraps per second per core (docs/benchmarks.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from models.training.compile_options import OPTION_SETS, markdown, measure_compile_options
from models.training.fitting import ModelSpec, ProtocolChoice
from streams.cli._common import Command, console, say, write_measured
from streams.cli._data import DataChoice, data_options, protocol_options
from streams.cli._model_steps import load_data

__all__ = ["compile_options"]


@click.command("compile-options", cls=Command)
@click.option(
    "--evaluations",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Timed real-FHE evaluations per option set (after one warm-up).",
)
@click.option(
    "--only",
    "keys",
    default=",".join(o.key for o in OPTION_SETS),
    show_default=True,
    metavar="KEY,KEY,…",
    help="The option sets to measure.",
)
@click.option(
    "--trees",
    type=click.IntRange(1, 200),
    default=10,
    show_default=True,
    help="Trees of the XGBoost model measured.",
)
@click.option(
    "--depth", type=click.IntRange(1, 10), default=2, show_default=True, help="Depth of its trees."
)
@click.option(
    "--n-bits",
    type=click.IntRange(2, 8),
    default=3,
    show_default=True,
    help="Bits of its quantized inputs and trees.",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the table into this Markdown file's compile-options block "
    "(docs/benchmarks.md).",
)
@data_options
@protocol_options
def compile_options(
    evaluations: int,
    keys: str,
    trees: int,
    depth: int,
    n_bits: int,
    doc: Path | None,
    source: DataChoice,
    protocol: ProtocolChoice,
) -> None:
    """An XGBoost model (by default the default model, xgb-10x2-3bit) compiled with each of
    Concrete's options tried: its defaults (loop parallelism), no loop parallelism (serial),
    dataflow parallelism, p_error 0.1, and trees without rounding. For each: bit width,
    bootstraps, the median FHE seconds of one evaluation, bootstraps per second per core, and
    the AP of FHE simulation (an option that changes precision changes results). About 45
    minutes on 2 cores for the default model (9 per option set, most of it simulating the test
    week; --only picks some)."""
    by_key = {o.key: o for o in OPTION_SETS}
    wanted = [k.strip() for k in keys.split(",") if k.strip()]
    unknown = [k for k in wanted if k not in by_key]
    if unknown or not wanted:
        msg = f"--only takes some of {', '.join(by_key)}, not {keys!r}"
        raise click.BadParameter(msg)
    spec = ModelSpec(kind="xgb", n_bits=n_bits, depth=depth, trees=trees)
    data = load_data(source, protocol, source.spec())
    chosen = tuple(by_key[k] for k in wanted)
    results = measure_compile_options(spec, data, evaluations, say, chosen)
    table = markdown(spec, results, len(os.sched_getaffinity(0)))
    console.print(table, highlight=False)
    if doc is not None:
        command = (
            f"fraudstream model compile-options --trees {trees} --depth {depth} "
            f"--n-bits {n_bits} --only {','.join(wanted)} --evaluations {evaluations}"
        )
        write_measured(doc, "compile-options", command, table)
