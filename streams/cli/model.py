"""``fraudstream model`` and ``fraudstream keys``: train, assess and sweep models; partner keys.

These commands are synchronous tools around ``models/``; they show progress on every long step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["keys", "model"]

_console = Console()
Tick = Callable[[int, int], None]


@contextmanager
def _steps() -> Iterator[Callable[[str], Tick]]:
    """Progress bars for long steps: call the yielded function to add one, tick it as you go."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_console,
        transient=False,
    ) as progress:

        def add(description: str) -> Tick:
            task = progress.add_task(description, total=None)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return tick

        yield add


@contextmanager
def _step(description: str) -> Iterator[Tick]:
    """One progress bar for one long step."""
    with _steps() as add:
        yield add(description)


def _say(message: str) -> None:
    _console.print(f"  {message}", highlight=False)


def _load_data(partners: tuple[str, ...] = ()) -> Any:
    from models.training.fitting import load_protocol_data  # noqa: PLC0415

    scope = f"per partner ({', '.join(partners)})" if partners else "global"
    with _console.status(f"computing the 15 features of 555,712 transactions ({scope})…"):
        data = load_protocol_data(partners=partners)
    _say(
        f"protocol split: {len(data.split.train):,} training and {len(data.split.test):,} "
        f"test transactions ({int(data.split.test['TX_FRAUD'].sum())} test frauds)"
    )
    return data


_KNOBS = [
    click.option(
        "--kind",
        type=click.Choice(["xgb", "rf", "dt"]),
        default="xgb",
        show_default=True,
        help="XGBoost, random forest or a single decision tree.",
    ),
    click.option(
        "--n-bits",
        type=click.IntRange(2, 8),
        default=3,
        show_default=True,
        help="Bits per quantized input and leaf: the circuit's precision.",
    ),
    click.option("--depth", type=click.IntRange(1, 10), default=2, show_default=True),
    click.option("--trees", type=click.IntRange(1, 500), default=10, show_default=True),
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
]


_MODEL_DIR = click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=Path("artifacts/latest"),
    show_default=True,
    help="Model version folder.",
)


def _knobs(func: Any) -> Any:
    for option in reversed(_KNOBS):
        func = option(func)
    return func


@click.group()
def model() -> None:
    """Train, assess and compare FHE fraud models on the handbook's protocol."""


@model.command()
@_knobs
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
    kind: str,
    n_bits: int,
    depth: int,
    trees: int,
    p_error: float | None,
    binning: bool,
    partners: str,
    out: Path,
    fhe_sample: int,
    simulate: bool,
) -> None:
    """Fit, compile, measure and save a model with its model card.

    Trains on 2018-07-25..31 of the bundled data and tests on 2018-08-08..14 (the handbook's
    protocol). Writes <out>/<version>/ with client/, server/, model_card.json and model_card.md,
    and points <out>/latest at it.
    """
    from models.fhe.artifacts import save_artifacts  # noqa: PLC0415
    from models.training.fitting import ModelSpec, compile_model, fit_model  # noqa: PLC0415
    from models.training.measure import measure_fhe  # noqa: PLC0415
    from models.training.report import (  # noqa: PLC0415
        card_markdown,
        fhe_sample_rows,
        model_card,
        model_scores,
        rows_of,
        write_card,
    )

    try:
        spec = ModelSpec(
            kind=kind,  # type: ignore[arg-type]  # click.Choice guarantees the literal
            n_bits=n_bits,
            depth=depth,
            trees=trees,
            p_error=p_error,
            binning=binning,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    data = _load_data(tuple(p.strip() for p in partners.split(",") if p.strip()))
    with _console.status(f"fitting {spec.label()}…"):
        fitted = fit_model(spec, data, say=_say)
    with _console.status("compiling the FHE circuit…"):
        cost = compile_model(fitted, data, say=_say)
    with _step("scoring the test week (clear; simulation in chunks)") as tick:
        rows = rows_of(data.split.test, model_scores(fitted, data, simulate=simulate, tick=tick))
    card = model_card(fitted, data, cost, rows, None)
    version_dir = save_artifacts(fitted.model, fitted.binning, fitted.threshold, card, out)
    fhe = None
    if fhe_sample:
        sample = fhe_sample_rows(data, fhe_sample)[:fhe_sample]
        with _step(f"real FHE execution of {len(sample)} test transactions") as tick:
            measured = measure_fhe(version_dir, data.x_test[sample], tick)
        fhe = measured.summary()
    write_card(version_dir, model_card(fitted, data, cost, rows, fhe))
    latest = out / "latest"
    staged = out / f".latest-{version_dir.name}"
    staged.unlink(missing_ok=True)
    staged.symlink_to(version_dir.name)
    staged.replace(latest)  # atomic: readers see the old or the new version, never none
    card_json = json.loads((version_dir / "model_card.json").read_text())
    _console.print(card_markdown(card_json), highlight=False)
    _console.print(f"[green]saved[/] {version_dir} (also {latest})")


@click.group()
def keys() -> None:
    """A partner's FHE keys: generate them (secret, stays inside the partner) and export the
    evaluation keys the scorers need."""


@keys.command("seed")
@_MODEL_DIR
@click.option("--partner", required=True, help="The partner id the key belongs to.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="New file for the seed (written 0600; an existing file is never overwritten).",
)
def keys_seed(model_dir: Path, partner: str, out: Path) -> None:
    """Make a new key seed: the partner's secret key for one model version in ~200 bytes.

    Store it where secrets live (a Kubernetes Secret: the Helm chart's partners derive their key
    folder from it at start); `keys generate --seed` makes the key folder from it.
    """
    from models.fhe.artifacts import ClientArtifact  # noqa: PLC0415
    from models.fhe.client.seed import KeySeed  # noqa: PLC0415

    seed = KeySeed.new(ClientArtifact.load(model_dir.resolve()), partner)
    seed.write(out)
    _console.print(
        f"key seed {seed.key_id} for partner {partner}, model {seed.model_version} → {out} "
        "(secret: keep it inside the partner)"
    )


@keys.command("generate")
@_MODEL_DIR
@click.option("--partner", help="The partner id the keys belong to (taken from --seed when given).")
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Derive the secret key from this seed file (`keys seed`) instead of a random one.",
)
@click.option(
    "--key-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Empty folder for the secret key (created 0700, files 0600).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Replace what --key-dir holds (with --seed: a folder derived again at each start, as "
    "the chart's init containers do). Without a seed this would lose a key: refused.",
)
def keys_generate(
    model_dir: Path, partner: str | None, seed_file: Path | None, key_dir: Path, replace: bool
) -> None:
    """Generate a partner's secret and evaluation keys for one model version."""
    from models.fhe.artifacts import ClientArtifact  # noqa: PLC0415
    from models.fhe.client.keys import PartnerKeys  # noqa: PLC0415
    from models.fhe.client.seed import KeySeed  # noqa: PLC0415

    client = ClientArtifact.load(model_dir.resolve())
    if replace and seed_file is None:
        msg = "--replace needs --seed (it would replace a random key that nothing can remake)"
        raise click.UsageError(msg)
    if seed_file is None:
        if partner is None:
            msg = "give --partner (or --seed)"
            raise click.UsageError(msg)
        seed = KeySeed.new(client, partner)
    else:
        seed = KeySeed.read(seed_file)
        if partner is not None and partner != seed.partner:
            msg = f"{seed_file} is partner {seed.partner}'s seed, not {partner}'s"
            raise click.UsageError(msg)
    with _console.status("generating keys…"):
        made = PartnerKeys.derive(client, seed, key_dir, replace=replace)
    _console.print(
        f"key id {made.key_id} for partner {made.partner}, model {made.client.version}, "
        f"in {key_dir} (secret: keep it inside the partner)"
    )


@keys.command("export")
@_MODEL_DIR
@click.option(
    "--key-dir", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="File for the serialized evaluation keys.",
)
def keys_export(model_dir: Path, key_dir: Path, out: Path) -> None:
    """Write the evaluation keys (public: they let a scorer evaluate, never decrypt)."""
    from models.fhe.artifacts import ClientArtifact  # noqa: PLC0415
    from models.fhe.client.keys import PartnerKeys  # noqa: PLC0415

    loaded = PartnerKeys.load(ClientArtifact.load(model_dir.resolve()), key_dir)
    data = loaded.evaluation_keys()
    out.write_bytes(data)
    _console.print(f"{len(data) / 1e6:.1f} MB of evaluation keys, key id {loaded.key_id} → {out}")


@model.command()
@_MODEL_DIR
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
def assess(model_dir: Path, fhe_sample: int, doc: Path | None) -> None:
    """Compare a saved model with plaintext baselines on the handbook's protocol.

    Prints AUC ROC, average precision and card precision@100 for the plaintext XGBoost, random
    forest and depth-2 tree, the model's float twin, the quantized model in the clear, FHE
    simulation, and real FHE execution on a sample. Writes assessment.json, assessment.md and
    pr_curve.png into the model folder.
    """
    from models.training.assessment import ASSESSMENT_FILES, assess_version  # noqa: PLC0415

    data = _load_data()
    with _steps() as add:
        assessment = assess_version(
            model_dir.resolve(),
            data,
            fhe_sample,
            simulate_tick=add("FHE simulation of the test week (chunks)"),
            fhe_tick=add(f"real FHE execution of {fhe_sample}+ test transactions"),
            say=_say,
        )
    _console.print(assessment.markdown(), highlight=False)
    _console.print(f"[green]written[/] {model_dir}/{', '.join(ASSESSMENT_FILES)}")
    if doc is not None:
        import shutil  # noqa: PLC0415

        card = (model_dir / "model_card.md").read_text().split("\n", 1)[1]
        replace_block(doc, "card", f"Version `{assessment.version}`:\n{card}")
        replace_block(doc, "assessment", assessment.markdown())
        shutil.copyfile(model_dir / "pr_curve.png", doc.with_name(doc.stem + "_pr_curve.png"))
        _console.print(f"[green]written[/] {doc} (card and assessment blocks)")


# The command's name until issue 12: "evaluate" now means FHE evaluation only.
model.add_command(
    click.Command(
        "evaluate",
        callback=assess.callback,
        params=assess.params,
        help="Old name of `model assess` (same options).",
        hidden=True,
    )
)


def replace_block(document: Path, name: str, content: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` markers."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = document.read_text() if document.exists() else ""
    block = f"{begin}\n{content.strip()}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n{block}\n"
    document.write_text(text)


@model.command()
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
    help="Only the grid points with these labels (e.g. xgb-10x3-3bit).",
)
def sweep(doc: Path, fhe_transactions: int, from_json: bool, only: tuple[str, ...]) -> None:
    """Train, compile and measure a grid of models: the cost/quality frontier.

    For each grid point (n_bits 2-5, depth 2-5, trees 5-50, p_error): bit width, programmable
    bootstraps, real FHE seconds per transaction on this machine, and AP, CP@100 and AUC of FHE
    simulation on the test week. Results stream to <doc without .md>_sweep.json as they come;
    at the end the table goes into DOC and the plot next to it. Takes about an hour on 2 cores.
    """
    from models.training.protocol import score_metrics  # noqa: PLC0415
    from models.training.report import BASELINES, baseline_scores  # noqa: PLC0415
    from models.training.sweep import (  # noqa: PLC0415
        STANDARD_GRID,
        SweepResult,
        load_results,
        run_sweep,
    )

    stream = doc.with_name(doc.stem + "_sweep.json")
    reference_file = doc.with_name(doc.stem + "_reference.json")
    if from_json:
        try:
            results = load_results(stream)
            reference = float(json.loads(reference_file.read_text())["ap"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = f"cannot read the results of a previous sweep ({stream}, {reference_file}): {exc}"
            raise click.UsageError(msg) from exc
        _finish_sweep(doc, results, reference)
        return
    grid = [s for s in STANDARD_GRID if not only or s.label() in only]
    if not grid:
        msg = f"no grid point is labelled {', '.join(only)}"
        raise click.BadParameter(msg)
    data = _load_data()
    (reference_scores,) = baseline_scores(data, BASELINES[:1]).values()
    reference = score_metrics(data.split.test, reference_scores).average_precision
    _say(f"plaintext XGBoost reference AP {reference:.3f}; {len(grid)} models to measure")
    reference_file.write_text(json.dumps({"ap": reference}) + "\n")
    stream.write_text("")

    def record(result: SweepResult) -> None:
        with stream.open("a") as handle:
            handle.write(json.dumps(result.to_json()) + "\n")
        _say(
            f"{result.spec.label():<16} p_error {result.spec.p_error or 'default':<7} "
            f"{result.max_bit_width}-bit {result.programmable_bootstraps:>5} PBS "
            f"{result.fhe_seconds:7.2f} s/tx  AP {result.average_precision:.3f}  "
            f"CP@100 {result.card_precision_100:.3f}"
        )

    with _step("models measured") as tick:
        results = run_sweep(
            data, grid, fhe_transactions=fhe_transactions, on_result=record, tick=tick
        )
    _finish_sweep(doc, results, reference)


def _finish_sweep(doc: Path, results: Any, reference: float) -> None:
    """Draw the frontier plot next to DOC and rewrite DOC's sweep block."""
    from models.training.sweep import frontier_plot, sweep_markdown  # noqa: PLC0415

    plot = doc.with_name(doc.stem + "_frontier.png")
    frontier_plot(results, reference, plot)
    replace_block(doc, "sweep", sweep_markdown(results, reference))
    _console.print(sweep_markdown(results, reference), highlight=False)
    _console.print(f"[green]written[/] {doc} (sweep block), {plot}")
