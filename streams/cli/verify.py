"""``fraudstream verify``: replay a recording through a fresh pipeline and check its verdicts
(see docs/replay.md). Exit codes: 0 same (or a report), 1 differences, 2 could not run."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from streams.cli._common import (
    Command,
    broker_option,
    console,
    json_lines,
    json_option,
    load_settings,
    model_option,
    require_model,
    say,
)
from streams.cli._verify_records import BatchFeatures, verify_records, verify_verdict
from streams.core.settings import Settings
from streams.qa.batch_scores import batch_scores
from streams.qa.replay_plan import load_recording
from streams.qa.score_comparison import Comparison, Outcome, compare_outcomes, read_outcomes
from streams.qa.score_comparison import save_scores as write_scores
from streams.qa.verify import (
    PipelineRun,
    broker_for,
    input_messages,
    run_recording,
    verify_workspace,
)

__all__ = ["verify"]


# error_exit_code: a project error means the check could not run
@click.command(cls=Command, error_exit_code=2, owns_processes=True)
@click.argument("recording", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--expected",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Golden verdicts: a recording of <root>.<partner>.scores.v1 topics.",
)
@model_option
@click.option(
    "--compare-model",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Also run this model on the recording and report alerts gained, lost and changed "
    "against --model.",
)
@click.option(
    "--batch",
    is_flag=True,
    help="Compare with the batch path: the same model's features (computed by the training "
    "code from its own spec) and clear scores of the recording's transactions.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0),
    default=1e-9,
    show_default=True,
    help="Largest score difference that still counts as the same.",
)
@click.option(
    "--save-scores",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the scores of this run (of --model) as a recording: golden verdicts.",
)
@click.option(
    "--show",
    type=click.IntRange(0),
    default=40,
    show_default=True,
    help="Differences listed in the table (--json lists every one).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Replay the live part at this speed (default: as fast as possible).",
)
@broker_option
@click.option(
    "--local-broker",
    is_flag=True,
    help="Start a throw-away local broker for the runs instead of using FRAUD_BROKER.",
)
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the run's keys and worker logs in this folder.",
)
@json_option("pipeline run and per transaction whose verdict differs")
def verify(
    recording: Path,
    expected: Path | None,
    model_dir: Path,
    compare_model: Path | None,
    batch: bool,
    tolerance: float,
    save_scores: Path | None,
    show: int,
    speed: float | None,
    broker: str | None,
    local_broker: bool,
    keep: Path | None,
    as_json: bool,
) -> None:
    """Replay RECORDING through a fresh pipeline and check its verdicts.

    \b
    Starts one scorer and one gateway per partner of the recording, with new FHE keys, on
    topics under a fresh root (verify-<random>.*) so the feature state starts empty;
    sends the warm-up (history and labels), waits until it is processed, then the live
    transactions, and collects a verdict for each.
    With --expected: compares with the golden verdicts (alerts exactly, scores within
      --tolerance), prints the differences; exit code 1 when there is any.
    With --compare-model: runs the recording through both models and reports alerts gained,
      lost and scores changed (exit code 0: a report, not a check).
    With --batch: compares with the batch path of the same model (features as training
      computes them, scores in the clear): features and scores must agree; exit code 1 when not.
    With --save-scores: writes this run's scores as a recording, to use as --expected later.
    With --json: JSON lines on stdout (the runs, the differences, then a summary with the
      counts and the verdict: pass, fail or report); progress and notes go to stderr.
    Exit codes: 0 same (or a report), 1 differences, 2 the check could not run.
    """
    if sum((expected is not None, compare_model is not None, batch)) > 1:
        msg = "give one of --expected, --compare-model and --batch"
        raise click.UsageError(msg)
    settings = load_settings(broker=broker)
    models = [require_model(model_dir), *([compare_model.resolve()] if compare_model else [])]
    golden = read_outcomes(expected) if expected is not None else None  # fail before running
    with json_lines(as_json) as emit:
        runs = _run(settings, recording, models, speed=speed, local_broker=local_broker, keep=keep)
        if save_scores is not None:
            header = write_scores(
                save_scores, runs[0].scores, runs[0].model_version, str(recording)
            )
            console.print(f"[green]saved[/] {header.messages} scores to {save_scores}")
        check, comparison, features = _compare(runs, recording, models[0], golden, batch, tolerance)
        if features is not None and not features.ok:
            console.print("[red]features differ from the batch path[/]")
        if emit is not None:
            for record in verify_records(models, runs, check, comparison, features, tolerance):
                emit(record)
        elif features is not None and not features.ok:
            sys.exit(1)  # before the differences: the features explain them
        elif comparison is not None:
            _print_differences(comparison, show)
            console.print(comparison.summary(), highlight=False)
    if verify_verdict(check, comparison, features) == "fail":
        sys.exit(1)


def _compare(
    runs: list[PipelineRun],
    recording: Path,
    model_dir: Path,
    golden: dict[tuple[str, int], Outcome] | None,
    batch: bool,
    tolerance: float,
) -> tuple[str | None, Comparison | None, BatchFeatures | None]:
    """What the options ask to check (None: nothing; two runs: --compare-model), and what it
    found: the verdicts compared, and with --batch the features too."""
    if len(runs) > 1:
        comparison = compare_outcomes(runs[0].outcomes, runs[1].outcomes, tolerance=tolerance)
        console.print(f"--compare-model against --model ({runs[0].model_version}):")
        return "compare_model", comparison, None
    if golden is not None:
        return "expected", compare_outcomes(golden, runs[0].outcomes, tolerance=tolerance), None
    if batch:
        return "batch", *_against_batch(runs[0], recording, model_dir, tolerance)
    return None, None, None


def _run(
    settings: Settings,
    recording: Path,
    models: list[Path],
    *,
    speed: float | None,
    local_broker: bool,
    keep: Path | None,
) -> list[PipelineRun]:
    """Run ``recording`` through a fresh pipeline for each of ``models``, on the broker of
    ``settings`` (or a throw-away local one)."""
    runs = []
    with verify_workspace(keep) as work, broker_for(
        settings, work, use_given=not local_broker, say=say
    ) as running, console.status("") as status:  # fmt: skip
        for index, model in enumerate(models):
            console.print(f"run {index + 1}: {recording} through model {model}", highlight=False)
            run = run_recording(
                running,
                model,
                recording,
                work / f"run-{index + 1}",
                speed=speed,
                say=say,
                progress=status.update,
            )
            runs.append(run)
            console.print(
                f"[green]✓[/] {len(run.outcomes)} verdicts, {run.dead_letters} dead-lettered, "
                f"of {run.live} live transactions (model {run.model_version})",
                highlight=False,
            )
    return runs


def _against_batch(
    run: PipelineRun, recording: Path, model_dir: Path, tolerance: float
) -> tuple[Comparison, BatchFeatures]:
    """The run's verdicts against the batch path's (``--batch``), and its features checked
    too: each must be within ``tolerance`` of the batch path's (relative, to at least one
    unit)."""
    thresholds = {outcome.threshold for outcome in run.outcomes.values()}
    with console.status("computing the batch features and clear scores…"):
        messages, _ = input_messages(load_recording(recording)[1])
        expected = batch_scores(
            messages, model_dir, threshold=thresholds.pop() if len(thresholds) == 1 else None
        )
    comparison = compare_outcomes(expected.outcomes, run.outcomes, tolerance=tolerance)
    worst = 0.0
    for key, features in run.features.items():
        want = expected.features.get(key)
        if want is None:
            continue
        for a, b in zip(want, features, strict=True):
            worst = max(worst, abs(a - b) / max(abs(a), abs(b), 1.0))
    console.print(
        f"features: {len(run.features)} transactions compared with the batch path, largest "
        f"relative difference {worst:.3g}",
        highlight=False,
    )
    return comparison, BatchFeatures(len(run.features), worst, tolerance)


def _print_differences(comparison: Comparison, show: int) -> None:
    if not comparison.differences or show == 0:
        return
    table = Table(title="differences (expected → actual)")
    for title in ("partner", "transaction", "difference", "expected", "actual"):
        table.add_column(title)
    for difference in comparison.differences[:show]:
        partner, transaction = difference.key
        table.add_row(
            partner,
            str(transaction),
            difference.kind,
            _verdict_cell(difference.expected),
            _verdict_cell(difference.actual),
        )
    console.print(table)
    hidden = len(comparison.differences) - show
    if hidden > 0:
        console.print(f"… and {hidden} more (--show)")


def _verdict_cell(verdict: Outcome | None) -> str:
    if verdict is None:
        return "-"
    return f"{verdict.score:.6f}{' ALERT' if verdict.alert else ''}"
