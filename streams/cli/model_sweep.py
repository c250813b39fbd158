"""``fraudstream model sweep``: the cost/quality frontier of a grid of models."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from models.training.fitting import ModelSpec, ProtocolChoice, ProtocolData
from models.training.protocol import score_metrics
from models.training.report import BASELINES, baseline_scores
from models.training.sweep import (
    STANDARD_GRID,
    SweepResult,
    frontier_plot,
    load_results,
    run_sweep,
    sweep_markdown,
)
from streams.cli._common import Command, console, replace_block, say
from streams.cli._data import DataChoice, data_options, protocol_options
from streams.cli._model_steps import load_data, step

__all__ = ["sweep"]


@click.command(cls=Command)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("docs/model.md"),
    show_default=True,
    help="Markdown file whose sweep block is rewritten.",
)
@click.option(
    "--fhe-transactions",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Timed real-FHE transactions per model (after one warm-up).",
)
@click.option(
    "--from-json",
    is_flag=True,
    help="Do not measure: redraw the table and plot from the results a sweep streamed.",
)
@click.option(
    "--only",
    multiple=True,
    metavar="LABEL",
    help="Only measure the grid points with these labels (e.g. xgb-10x3-3bit); the other "
    "points keep the results of the previous sweep, when there is one.",
)
@data_options
@protocol_options
def sweep(
    doc: Path,
    fhe_transactions: int,
    from_json: bool,
    only: tuple[str, ...],
    source: DataChoice,
    protocol: ProtocolChoice,
) -> None:
    """Train, compile and measure a grid of models: the cost/quality frontier.

    For each grid point (XGBoost with n_bits 2-5, depth 2-5, trees 5-50, p_error and trees
    summed in FHE; random forests, decision trees, logistic regression): bit width,
    programmable bootstraps, real FHE seconds per transaction on this machine, verdict bytes,
    and AP, CP@100 and AUC of FHE simulation on the test week. Results stream to
    <doc without .md>_sweep.json as they come; at the end the table goes into DOC and the plot
    next to it. Takes about an hour and a half on 2 cores (--only re-measures some points).
    """
    stream = doc.with_name(doc.stem + "_sweep.json")
    reference_file = doc.with_name(doc.stem + "_reference.json")
    failed: list[ModelSpec] = []
    if from_json:
        try:
            results = load_results(stream)
            reference = float(json.loads(reference_file.read_text())["ap"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = f"cannot read the results of a previous sweep ({stream}, {reference_file}): {exc}"
            raise click.UsageError(msg) from exc
    else:
        grid = [s for s in STANDARD_GRID if not only or s.label() in only]
        if not grid:
            msg = f"no grid point is labelled {', '.join(only)}"
            raise click.BadParameter(msg)
        previous = _previous(stream)
        kept = [r for r in previous if only and r.spec.label() not in only]
        data = load_data(source, protocol, source.spec())
        results, reference, failed = _measure_grid(
            data, grid, fhe_transactions, stream, reference_file, kept
        )
        # A point that failed keeps its previous result, as the points --only leaves out do,
        # in the table and in the results file (a later --from-json or --only reads it).
        kept_failed = [r for r in previous if r.spec in failed]
        results += kept_failed
        with stream.open("a") as handle:
            handle.writelines(json.dumps(r.to_json()) + "\n" for r in kept_failed)
    plot = doc.with_name(doc.stem + "_frontier.png")
    frontier_plot(results, reference, plot)
    replace_block(doc, "sweep", sweep_markdown(results, reference))
    console.print(sweep_markdown(results, reference), highlight=False)
    console.print(f"[green]written[/] {doc} (sweep block), {plot}")
    if failed:
        had = {r.spec for r in results}
        labels = ", ".join(
            spec.label() + ("" if spec in had else " (no previous result)") for spec in failed
        )
        msg = f"{len(failed)} grid point(s) failed (a previous result is kept): {labels}"
        raise click.ClickException(msg)


def _previous(stream: Path) -> list[SweepResult]:
    """The results a previous sweep streamed (none when there is no readable file)."""
    try:
        return load_results(stream)
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _measure_grid(
    data: ProtocolData,
    grid: list[ModelSpec],
    fhe_transactions: int,
    stream: Path,
    reference_file: Path,
    kept: list[SweepResult],
) -> tuple[list[SweepResult], float, list[ModelSpec]]:
    """Measure each grid point, streaming each result to ``stream`` as it comes, after the
    ``kept`` results of earlier runs (and the plaintext reference AP to ``reference_file``);
    every result, that reference and the points that failed (the sweep goes on past them)."""
    (reference_scores,) = baseline_scores(data, BASELINES[:1]).values()
    reference = score_metrics(data.split.test, reference_scores).average_precision
    say(f"plaintext XGBoost reference AP {reference:.3f}; {len(grid)} models to measure")
    reference_file.write_text(json.dumps({"ap": reference}) + "\n")
    stream.write_text("".join(json.dumps(r.to_json()) + "\n" for r in kept))

    def record(result: SweepResult) -> None:
        with stream.open("a") as handle:
            handle.write(json.dumps(result.to_json()) + "\n")
        say(
            f"{result.spec.label():<16} p_error {result.spec.p_error or 'default':<7} "
            f"{result.max_bit_width}-bit {result.programmable_bootstraps:>5} PBS "
            f"{result.fhe_seconds:7.2f} s/tx  AP {result.average_precision:.3f}  "
            f"CP@100 {result.card_precision_100:.3f}"
        )

    failed: list[ModelSpec] = []

    def fail(spec: ModelSpec, exc: Exception) -> None:
        failed.append(spec)
        say(f"[red]{spec.label()} failed[/]: {escape(f'{type(exc).__name__}: {exc}')}")

    with step("models measured") as tick:
        results = run_sweep(
            data,
            grid,
            fhe_transactions=fhe_transactions,
            on_result=record,
            on_failure=fail,
            tick=tick,
        )
    return kept + results, reference, failed
