"""``fraudstream model``: train, assess and sweep FHE fraud models.

These commands are synchronous tools around ``models/``; they show progress on every long step.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from models.fhe.artifacts import ClientArtifact, save_artifacts
from models.training.assessment import ASSESSMENT_FILES, assess_version
from models.training.fitting import ModelSpec, ProtocolChoice, compile_model, fit_model
from models.training.measure import measure_fhe
from models.training.report import (
    BASELINES,
    baseline_scores,
    card_markdown,
    fhe_sample_rows,
    model_card,
    model_scores,
    rows_of,
    write_card,
)
from streams.cli._common import (
    Command,
    Group,
    console,
    json_lines,
    json_option,
    model_option,
    replace_block,
    require_model,
    say,
    show_result,
)
from streams.cli._data import DataChoice, data_options, protocol_options
from streams.cli._model_steps import assessment_records, load_data, point_latest, step, steps
from streams.cli.model_options import compile_options
from streams.cli.model_sweep import sweep

__all__ = ["model"]

_KNOBS = [
    click.option(
        "--kind",
        type=click.Choice(["xgb", "rf", "dt", "lr"]),
        default="xgb",
        show_default=True,
        help="XGBoost, random forest, a single decision tree, or logistic regression (lr: "
        "--depth and --trees do not apply).",
    ),
    click.option(
        "--n-bits",
        type=click.IntRange(2, 8),
        default=3,
        show_default=True,
        help="Bits per quantized input and leaf: the circuit's precision.",
    ),
    click.option(
        "--depth",
        type=click.IntRange(1, 10),
        default=2,
        show_default=True,
        help="Depth of each tree: each level adds bootstraps to every evaluation.",
    ),
    click.option(
        "--trees",
        type=click.IntRange(1, 500),
        default=10,
        show_default=True,
        help="Trees of the ensemble (rf, xgb): bootstraps and verdict size grow with them.",
    ),
    click.option(
        "--p-error",
        type=float,
        default=None,
        help="Error probability per bootstrap (default: Concrete-ML's).",
    ),
    click.option(
        "--partners",
        default="",
        metavar="IDS",
        help="Comma-separated partner ids: compute each partner's features from its own cards "
        "only, as its gateway does in the stream (default: global, as in the handbook).",
    ),
    click.option(
        "--binning/--no-binning",
        default=True,
        show_default=True,
        help="Bin each feature on its most informative cut points before quantization.",
    ),
    click.option(
        "--fhe-sum/--no-fhe-sum",
        default=False,
        show_default=True,
        help="Sum the trees inside FHE: one output ciphertext (a smaller verdict) instead of "
        "one per tree, for wider accumulators (xgb and rf; docs/benchmarks.md).",
    ),
]


def _knobs(func: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_KNOBS):
        func = option(func)
    return func


@click.group(cls=Group)
def model() -> None:
    """Train, assess and compare FHE fraud models: on the bundled handbook data or your own
    (--data, --spec; see docs/data.md)."""


@model.command()
@_knobs
@data_options
@protocol_options
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("artifacts"),
    show_default=True,
    help="Where versions are written: <out>/<version>/.",
)
@click.option(
    "--fhe-sample",
    type=click.IntRange(0, 10_000),
    default=10,
    show_default=True,
    help="Test transactions to run in real FHE for the card's timing.",
)
@click.option(
    "--simulate/--no-simulate",
    default=True,
    show_default=True,
    help="Score the whole test week in FHE simulation.",
)
def train(
    *,
    partners: str,
    source: DataChoice,
    protocol: ProtocolChoice,
    out: Path,
    fhe_sample: int,
    simulate: bool,
    **knobs: Any,
) -> None:
    """Fit, compile, measure and save a model with its model card.

    Without --data: the bundled handbook data, trained on 2018-07-25..31 and tested on
    2018-08-08..14 (the handbook's protocol, which is what the defaults resolve to). With
    --data: your transactions, features from --spec, and by default the last complete week for
    the test. Writes <out>/<version>/ with client/, server/, model_card.json and model_card.md,
    and points <out>/latest at it.
    """
    spec = _model_spec(knobs)
    data = load_data(
        source, protocol, source.spec(), tuple(p.strip() for p in partners.split(",") if p.strip())
    )
    with console.status(f"fitting {spec.label()}…"):
        fitted = fit_model(spec, data, say=say)
    with console.status("compiling the FHE circuit…"):
        cost = compile_model(fitted, data, say=say)
    with step("scoring the test days (clear; simulation in chunks)") as tick:
        # The plaintext XGBoost of the same protocol first: what the FHE model is measured by.
        scores = baseline_scores(data, BASELINES[:1])
        scores |= model_scores(fitted, data, simulate=simulate, tick=tick)
        rows = rows_of(data.split.test, scores)
    card = model_card(fitted, data, cost, rows, None)
    version_dir = save_artifacts(
        fitted.model, fitted.binning, fitted.threshold, card, out, spec=data.spec
    )
    fhe: dict[str, float | int] | None = None
    if fhe_sample:
        sample = fhe_sample_rows(data, fhe_sample)[:fhe_sample]
        with step(f"real FHE execution of {len(sample)} test transactions") as tick:
            fhe = measure_fhe(version_dir, data.x_test[sample], tick).summary()
    write_card(version_dir, model_card(fitted, data, cost, rows, fhe))
    latest = point_latest(out, version_dir)
    card_json = json.loads((version_dir / "model_card.json").read_text())
    console.print(card_markdown(card_json), highlight=False)
    console.print(f"[green]saved[/] {version_dir} (also {latest})")


def _model_spec(knobs: dict[str, Any]) -> ModelSpec:
    """The model's knobs (the ``_KNOBS`` options: kind, n_bits, depth, trees, p_error,
    binning, fhe_sum), or a usage error naming the one that cannot make a model."""
    try:
        return ModelSpec(**knobs)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@model.command()
@model_option
@data_options
@protocol_options
@click.option(
    "--fhe-sample",
    type=click.IntRange(1, 10_000),
    default=200,
    show_default=True,
    help="Random test transactions for real FHE (every fraud of the first test day is added).",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the card and assessment blocks of this Markdown file (e.g. docs/model.md) "
    "and copy the plot beside it.",
)
@json_option("row of the table (a baseline or the model: float, clear, simulated, real FHE)")
def assess(
    model_dir: Path,
    source: DataChoice,
    protocol: ProtocolChoice,
    fhe_sample: int,
    doc: Path | None,
    as_json: bool,
) -> None:
    """Compare a saved model with plaintext baselines on a protocol.

    Prints AUC ROC, average precision and card precision@100 for the plaintext XGBoost, random
    forest and depth-2 tree (trained on the same training days), the model's float twin, the
    quantized model in the clear, FHE simulation, and real FHE execution on a sample. Features
    come from the model's own spec. Writes assessment.json, assessment.md and pr_curve.png into
    the model folder.
    """
    version_dir = require_model(model_dir)
    spec = ClientArtifact.load(version_dir).spec
    with json_lines(as_json) as emit:
        data = load_data(source, protocol, source.spec(default=spec))
        with steps() as add:
            assessment = assess_version(
                version_dir,
                data,
                fhe_sample,
                simulate_tick=add("FHE simulation of the test week (chunks)"),
                fhe_tick=add(f"real FHE execution of {fhe_sample}+ test transactions"),
                say=say,
            )
        written = [model_dir / name for name in ASSESSMENT_FILES]
        show_result(emit, assessment.markdown(), assessment_records(assessment, written))
        console.print(f"[green]written[/] {model_dir}/{', '.join(ASSESSMENT_FILES)}")
        if doc is not None:
            card = (model_dir / "model_card.md").read_text().split("\n", 1)[1]
            replace_block(doc, "card", f"Version `{assessment.version}`:\n{card}")
            replace_block(doc, "assessment", assessment.markdown())
            shutil.copyfile(model_dir / "pr_curve.png", doc.with_name(doc.stem + "_pr_curve.png"))
            console.print(f"[green]written[/] {doc} (card and assessment blocks)")


# The command's name until issue 12: "evaluate" now means FHE evaluation only.
model.add_command(
    Command(
        "evaluate",
        callback=assess.callback,
        params=assess.params,
        help="Old name of `model assess` (same options).",
        hidden=True,
    )
)


model.add_command(sweep)
model.add_command(compile_options)
