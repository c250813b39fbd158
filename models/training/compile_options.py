"""One model compiled with different Concrete options: bootstraps per second per core.

The model (one spec, fitted once per option set) is compiled with each option set, saved and
evaluated in real FHE through the deployment path (``measure_fitted``, one warm-up first).
Reported per option set: the circuit's bit width and programmable bootstraps, the median
evaluation time, bootstraps per second per core (bootstraps over the median time, over the
cores: an evaluation uses every core) and the AP of FHE simulation on the test days (p_error
changes results, not only speed). An option set Concrete refuses on this build is reported
with its reason, not measured.

The option sets: Concrete's defaults (loop parallelism on); loop parallelism off (one thread);
dataflow parallelism (needs a Concrete build with its dataflow runtime); a per-bootstrap error
probability of 0.1 (fewer bits of precision in each PBS); and trees without Concrete-ML's
rounding of the comparison results (its ``TREES_USE_ROUNDING`` switch, deprecated upstream).
"""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from models.training.fitting import ModelSpec, ProtocolData, compile_model, fit_model
from models.training.measure import measure_fitted
from models.training.protocol import score_metrics
from models.training.report import simulate_in_chunks

__all__ = ["OPTION_SETS", "OptionResult", "OptionSet", "measure_compile_options"]


@dataclass(frozen=True)
class OptionSet:
    """Concrete configuration keywords, a p_error, and whether trees use rounding."""

    key: str
    name: str
    configuration: dict[str, Any] = field(default_factory=dict)
    p_error: float | None = None
    rounding: bool = True


OPTION_SETS = (
    OptionSet("defaults", "Concrete's defaults (loop parallelism)"),
    OptionSet("serial", "no loop parallelism", {"loop_parallelize": False}),
    OptionSet(
        "dataflow",
        "dataflow parallelism",
        {"dataflow_parallelize": True, "loop_parallelize": False},
    ),
    OptionSet("p-error", "p_error 0.1", p_error=0.1),
    OptionSet("no-rounding", "trees without rounding", rounding=False),
)


@dataclass(frozen=True)
class OptionResult:
    """One option set's measurement, or why it was not measured."""

    option: OptionSet
    bit_width: int = 0
    bootstraps: int = 0
    seconds: float = 0.0
    average_precision: float = 0.0
    refused: str | None = None

    def bootstraps_per_core(self, cores: int) -> float:
        """Bootstraps per second per core of one evaluation."""
        return self.bootstraps / self.seconds / cores


def markdown(spec: ModelSpec, results: list[OptionResult], cores: int) -> str:
    """The results as a Markdown table (docs/benchmarks.md's compile-options block). An option
    set whose circuit reports no bootstrap count (Concrete's dataflow mode reports 0) is shown
    with the count of the same model's other circuits, marked, for its rate per core."""
    rows = [
        f"Model `{spec.label()}` on {cores} cores; one evaluation in one process.",
        "",
        "| options | bit width | bootstraps | FHE s/tx | bootstraps/s per core | AP (sim) |",
        "|---|---|---|---|---|---|",
    ]
    counted = next((r.bootstraps for r in results if r.bootstraps and r.option.rounding), 0)
    for r in results:
        if r.refused is not None:
            rows.append(f"| {r.option.name} | - | - | not available: {r.refused} | - | - |")
            continue
        shown, count = str(r.bootstraps), r.bootstraps
        if not count and counted:
            shown, count = f"{counted} (not reported in this mode)", counted
        rate = replace(r, bootstraps=count).bootstraps_per_core(cores)
        rows.append(
            f"| {r.option.name} | {r.bit_width} | {shown} | {r.seconds:.2f} | "
            f"{rate:.0f} | {r.average_precision:.3f} |"
        )
    return "\n".join(rows)


@contextlib.contextmanager
def _tree_rounding(enabled: bool) -> Iterator[None]:
    """Concrete-ML reads ``TREES_USE_ROUNDING`` when it converts and compiles a tree model."""
    before = os.environ.get("TREES_USE_ROUNDING")
    os.environ["TREES_USE_ROUNDING"] = "1" if enabled else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TREES_USE_ROUNDING", None)
        else:
            os.environ["TREES_USE_ROUNDING"] = before


def _measure_one(
    spec: ModelSpec, option: OptionSet, data: ProtocolData, rows: npt.NDArray[np.int64]
) -> OptionResult:
    from concrete import fhe  # noqa: PLC0415  (the compiler: loaded only when compiling)

    with _tree_rounding(option.rounding):
        fitted = fit_model(replace(spec, p_error=option.p_error), data, say=lambda _: None)
        try:
            # No keywords: Concrete-ML's own choice (None), what `model train` compiles with.
            configuration = (
                fhe.Configuration(**option.configuration) if option.configuration else None
            )
            cost = compile_model(fitted, data, say=lambda _: None, configuration=configuration)
            simulated = simulate_in_chunks(fitted, data.x_test)
            card = {"spec": spec.to_json(), "compile_options": option.name}
            measured = measure_fitted(fitted, data, data.x_test[rows], card)
        except Exception as exc:  # noqa: BLE001  (what this Concrete build refuses is reported)
            return OptionResult(option, refused=f"{type(exc).__name__}: {exc}"[:160])
        metrics = score_metrics(data.split.test, simulated)
    return OptionResult(
        option,
        bit_width=cost.max_bit_width,
        bootstraps=cost.programmable_bootstraps,
        seconds=statistics.median(measured.server_seconds[1:]),
        average_precision=metrics.average_precision,
    )


def measure_compile_options(
    spec: ModelSpec,
    data: ProtocolData,
    evaluations: int,
    say: Callable[[str], None],
    options: tuple[OptionSet, ...] = OPTION_SETS,
) -> list[OptionResult]:
    """Measure ``spec`` compiled with each of ``options`` (``evaluations`` timed evaluations
    each, after one warm-up)."""
    rows = np.arange(evaluations + 1)
    results = []
    for option in options:
        say(f"{spec.label()}, {option.name}: fit, compile, simulate, {evaluations} evaluations…")
        result = _measure_one(spec, option, data, rows)
        if result.refused:
            say(f"  not available: {result.refused}")
        else:
            say(f"  {result.seconds:.2f} s per evaluation, {result.bootstraps} bootstraps")
        results.append(result)
    return results
