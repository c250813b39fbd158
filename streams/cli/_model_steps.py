"""What the ``model`` commands share: progress bars for long steps, reading the data they
train, assess or sweep on, and ``model assess --json``'s records."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from models.features.spec import FeatureSpec
from models.training.assessment import Assessment
from models.training.fitting import ProtocolChoice, ProtocolData, load_protocol_data
from streams.cli._common import console, say
from streams.cli._data import DataChoice

__all__ = ["Tick", "assessment_records", "load_data", "point_latest", "step", "steps"]

#: Reports progress: (done, total).
Tick = Callable[[int, int], None]


@contextmanager
def steps() -> Iterator[Callable[[str], Tick]]:
    """Progress bars for long steps: call the yielded function to add one, tick it as you go."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:

        def add(description: str) -> Tick:
            task = progress.add_task(description, total=None)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return tick

        yield add


@contextmanager
def step(description: str) -> Iterator[Tick]:
    """One progress bar for one long step."""
    with steps() as add:
        yield add(description)


def load_data(
    choice: DataChoice,
    protocol: ProtocolChoice,
    spec: FeatureSpec,
    partners: tuple[str, ...] = (),
) -> ProtocolData:
    """Read the chosen transactions, compute their features and split them by the protocol,
    saying what it does and what the data holds."""
    what = choice.description
    with console.status(f"reading {what}…"):
        transactions = choice.read(spec)
    scope = f"per partner ({', '.join(partners)})" if partners else "global"
    with console.status(
        f"computing the {len(spec.feature_names)} features of spec {spec.name} for "
        f"{len(transactions.frame):,} transactions ({scope})…"
    ):
        data = load_protocol_data(transactions, spec, protocol, partners)
    for note in data.notes:
        say(f"[yellow]note:[/] {note}")
    split, dates = data.split, data.protocol
    say(
        f"protocol: train {dates.train_start}..{dates.train_end} ({len(split.train):,} "
        f"transactions, {int(split.train['label'].sum())} frauds), label delay "
        f"{dates.delay_days} days, test {dates.test_start}..{dates.test_end} "
        f"({len(split.test):,} transactions, {int(split.test['label'].sum())} frauds)"
    )
    return data


def point_latest(out: Path, version_dir: Path) -> Path:
    """Point ``<out>/latest`` at ``version_dir``, atomically: readers see the old or the new
    version, never none."""
    latest = out / "latest"
    staged = out / f".latest-{version_dir.name}"
    staged.unlink(missing_ok=True)
    staged.symlink_to(version_dir.name)
    staged.replace(latest)
    return latest


def assessment_records(assessment: Assessment, written: Sequence[Path]) -> Iterator[dict[str, Any]]:
    """``model assess --json``: one ``row`` record per row of the table (a plaintext baseline,
    the model's float twin, quantized in the clear, FHE simulation, real FHE; its metrics named
    as in assessment.json), then the ``summary``: the version, the FHE sample, how many of its
    real FHE scores equal the quantized clear model's, the median server-side FHE time, and
    the files ``written``."""
    for row in assessment.rows:
        yield {"record": "row", **row.to_json()}
    yield {
        "record": "summary",
        "version": assessment.version,
        "fhe_sample": assessment.sample_size,
        "fhe_equals_clear": assessment.agreeing,
        "fhe_server_s_median": assessment.fhe_seconds_median,
        "written": [str(path) for path in written],
    }
