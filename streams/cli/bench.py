"""``fraudstream bench``: benchmarks that measure and print, never assert a speed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from streams.cli._common import (
    Group,
    console,
    load_settings,
    model_option,
    replace_block,
    require_model,
    say,
)
from streams.qa.bench import run_pipeline_bench

__all__ = ["bench"]


@click.group(cls=Group)
def bench() -> None:
    """Benchmarks that print ratios (they measure; they never assert a speed)."""


@bench.command("pipeline")
@model_option
@click.option(
    "--transactions",
    type=click.IntRange(2, 10_000),
    default=40,
    show_default=True,
    help="Timed transactions, after the warm-up.",
)
@click.option(
    "--warmup",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Untimed first ones.",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the result into this Markdown file's pipeline block (docs/benchmarks.md).",
)
def bench_pipeline(model_dir: Path, transactions: int, warmup: int, doc: Path | None) -> None:
    """Throughput of (a) a bare loop of FHE evaluations and (b) the whole pipeline through a
    local broker, over the same transactions, their ratio, and the pipeline's latencies.

    Starts its own broker on free loopback ports, one scorer and one partner gateway; about
    (warmup + transactions) x 2 FHE evaluations in all.
    """
    settings = load_settings()
    result = run_pipeline_bench(
        settings, require_model(model_dir), transactions=transactions, warmup=warmup, say=say
    )
    console.print(result.markdown(), highlight=False)
    if doc is not None:
        command = f"fraudstream bench pipeline --transactions {transactions} --warmup {warmup}"
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        replace_block(doc, "pipeline", f"Measured {stamp} with `{command}`:\n\n{result.markdown()}")
        console.print(f"[green]written[/] {doc} (pipeline block)")
