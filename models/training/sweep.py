"""The cost/quality frontier: train and compile a grid of models, measure each.

For every spec: circuit bit width and programmable bootstraps, real FHE seconds per transaction
on this machine (server side, median of a few test transactions after one warm-up), and average
precision and card precision@100 of FHE simulation on the test week.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.training.fitting import ModelSpec, ProtocolData, compile_model, fit_model
from models.training.measure import measure_fitted
from models.training.protocol import score_metrics
from models.training.report import simulate_in_chunks

__all__ = [
    "STANDARD_GRID",
    "SweepResult",
    "frontier_plot",
    "load_results",
    "run_sweep",
    "sweep_markdown",
]

Tick = Callable[[int, int], None]


def _grid() -> list[ModelSpec]:
    specs = {ModelSpec(n_bits=b, depth=3, trees=10) for b in (2, 3, 4, 5)}
    specs |= {ModelSpec(n_bits=3, depth=d, trees=10) for d in (2, 3, 4, 5)}
    specs |= {ModelSpec(n_bits=3, depth=3, trees=t) for t in (5, 10, 20, 50)}
    specs |= {
        ModelSpec(n_bits=2, depth=3, trees=20),
        ModelSpec(n_bits=2, depth=2, trees=50),
        ModelSpec(n_bits=3, depth=4, trees=20),
        ModelSpec(n_bits=4, depth=3, trees=20),
        ModelSpec(n_bits=3, depth=2, trees=50),
        ModelSpec(n_bits=3, depth=3, trees=10, p_error=0.1),
        ModelSpec(n_bits=4, depth=3, trees=10, p_error=0.1),
    }
    # The trees summed inside FHE (one output ciphertext), next to the same shapes summed after.
    specs |= {ModelSpec(n_bits=3, depth=d, trees=10, fhe_sum=True) for d in (2, 3)}
    specs |= {ModelSpec(n_bits=2, depth=3, trees=20, fhe_sum=True)}
    # Every other kind a fraud team might pick.
    specs |= {ModelSpec(kind="rf", n_bits=3, depth=d, trees=10) for d in (3, 5)}
    specs |= {ModelSpec(kind="rf", n_bits=3, depth=3, trees=10, fhe_sum=True)}
    specs |= {ModelSpec(kind="dt", n_bits=3, depth=d) for d in (3, 5, 7)}
    specs |= {ModelSpec(kind="lr", n_bits=b) for b in (3, 4, 6, 8)}
    return sorted(
        specs, key=lambda s: (s.kind, s.n_bits, s.depth, s.trees, s.p_error or 0, s.fhe_sum)
    )


#: XGBoost with n_bits 2-5, depth 2-5, trees 5-50 and p_error, along each axis and at their
#: crossings; trees summed in FHE; random forests, decision trees and logistic regression.
STANDARD_GRID = _grid()


@dataclass(frozen=True)
class SweepResult:
    """One grid point, measured."""

    spec: ModelSpec
    max_bit_width: int
    programmable_bootstraps: int
    fhe_seconds: float
    average_precision: float
    card_precision_100: float
    auc_roc: float
    #: One verdict's bytes as the scorer sends it (0 in results from before it was measured).
    verdict_bytes: int = 0

    def to_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {**asdict(self), "spec": self.spec.to_json(), "label": self.spec.label()}


def run_sweep(
    data: ProtocolData,
    specs: Iterable[ModelSpec] = STANDARD_GRID,
    *,
    fhe_transactions: int = 3,
    on_result: Callable[[SweepResult], None] = lambda _: None,
    on_failure: Callable[[ModelSpec, Exception], None] | None = None,
    tick: Tick | None = None,
) -> list[SweepResult]:
    """Measure every spec; ``on_result`` sees each result as soon as it exists.

    A point that fails (a circuit too wide to compile, a model that cannot fit the data) is
    handed to ``on_failure`` and the sweep goes on; without ``on_failure`` the error stops it."""
    grid = list(specs)
    results = []
    frauds = np.flatnonzero(data.split.test["label"].to_numpy() == 1)
    rows = np.concatenate([frauds[:1], np.arange(fhe_transactions)])  # warm-up + timed rows
    for done, spec in enumerate(grid, start=1):
        try:
            result = measure_point(spec, data, rows)
        except Exception as exc:
            if on_failure is None:
                raise
            on_failure(spec, exc)
        else:
            results.append(result)
            on_result(result)
        if tick:
            tick(done, len(grid))
    return results


def measure_point(spec: ModelSpec, data: ProtocolData, rows: npt.NDArray[np.int64]) -> SweepResult:
    """Fit, compile, simulate and time one grid point (``rows[0]`` is the warm-up)."""
    fitted = fit_model(spec, data, say=lambda _: None)
    cost = compile_model(fitted, data, say=lambda _: None)
    simulated = simulate_in_chunks(fitted, data.x_test)
    metrics = score_metrics(data.split.test, simulated)
    measured = measure_fitted(fitted, data, data.x_test[rows], {"spec": spec.to_json()})
    return SweepResult(
        spec=spec,
        max_bit_width=cost.max_bit_width,
        programmable_bootstraps=cost.programmable_bootstraps,
        fhe_seconds=statistics.median(measured.server_seconds[1:]),
        average_precision=metrics.average_precision,
        card_precision_100=metrics.card_precision_100,
        auc_roc=metrics.auc_roc,
        verdict_bytes=measured.verdict_bytes,
    )


def sweep_markdown(results: list[SweepResult], reference_ap: float) -> str:
    """The frontier table, cheapest first, with AP relative to the plaintext reference."""
    lines = [
        "| model | p_error | bit width | bootstraps | FHE s/tx | verdict KB | AP (sim) | "
        "AP / plaintext | CP@100 (sim) | AUC (sim) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: r.fhe_seconds):
        verdict = f"{r.verdict_bytes / 1000:.1f}" if r.verdict_bytes else "-"
        lines.append(
            f"| {r.spec.label()} | {r.spec.p_error or 'default'} | {r.max_bit_width} | "
            f"{r.programmable_bootstraps} | {r.fhe_seconds:.2f} | {verdict} | "
            f"{r.average_precision:.3f} | {r.average_precision / reference_ap:.2f} | "
            f"{r.card_precision_100:.3f} | {r.auc_roc:.3f} |"
        )
    return "\n".join(lines)


#: Plot markers by model kind: XGBoost, random forest, decision tree, logistic regression.
_MARKERS = {"xgb": "o", "rf": "s", "dt": "^", "lr": "D"}


def frontier_plot(results: list[SweepResult], reference_ap: float, path: Path) -> None:
    """Average precision (simulation) against FHE seconds per transaction, to a PNG."""
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    floor = 0.5  # points below are drawn on the floor, marked and labelled with their AP
    for r in results:
        shown = max(r.average_precision, floor + 0.003)
        marker = "v" if r.average_precision < floor else _MARKERS.get(r.spec.kind, "o")
        size = 30 if r.spec.kind in {"dt", "lr"} else 18 + 2 * r.spec.trees
        axes.scatter(r.fhe_seconds, shown, s=size, alpha=0.7, marker=marker)
        label = r.spec.label() + (f" p={r.spec.p_error}" if r.spec.p_error else "")
        if r.average_precision < floor:
            label += f" (AP {r.average_precision:.2f})"
        axes.annotate(
            label, (r.fhe_seconds, shown), fontsize=6, xytext=(3, 3), textcoords="offset points"
        )
    axes.set_ylim(floor, reference_ap + 0.02)
    axes.axhline(
        reference_ap,
        color="grey",
        linestyle="--",
        linewidth=1,
        label=f"plaintext XGBoost AP {reference_ap:.3f}",
    )
    axes.axhline(
        0.95 * reference_ap, color="red", linestyle=":", linewidth=1, label="95 % of plaintext AP"
    )
    axes.axvline(2.0, color="orange", linestyle=":", linewidth=1, label="2 s per transaction")
    axes.set_xscale("log")
    axes.set_xlabel("real FHE seconds per transaction (server side, 2 cores)")
    axes.set_ylabel("average precision (FHE simulation, test week)")
    axes.set_title("Cost and quality of FHE models (o xgb, s rf, ^ dt, D lr)")
    axes.legend(fontsize=7, loc="upper left")
    axes.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def load_results(path: Path) -> list[SweepResult]:
    """Read the JSON lines a sweep streamed (to redraw the table and plot without rerunning)."""
    results = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            row.pop("label", None)
            results.append(SweepResult(**{**row, "spec": ModelSpec(**row["spec"])}))
    return results
