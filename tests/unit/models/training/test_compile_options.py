"""The compile-options table."""

from __future__ import annotations

from models.training.compile_options import OPTION_SETS, OptionResult, markdown
from models.training.fitting import ModelSpec


def test_a_mode_that_reports_no_bootstraps_borrows_the_same_models_count() -> None:
    """Concrete's dataflow mode reports 0 bootstraps for the same circuit: the table shows the
    count of the model's other circuits, marked, and the rate per core from it; a refused option
    set is named with its reason."""
    by_key = {o.key: o for o in OPTION_SETS}
    table = markdown(
        ModelSpec(n_bits=3, depth=2, trees=10),
        [
            OptionResult(by_key["defaults"], 3, 70, 1.0, 0.578),
            OptionResult(by_key["dataflow"], 3, 0, 2.0, 0.578),
            OptionResult(by_key["serial"], refused="RuntimeError: no"),
        ],
        cores=2,
    )
    lines = table.splitlines()
    assert "| Concrete's defaults (loop parallelism) | 3 | 70 | 1.00 | 35 | 0.578 |" in lines
    assert (
        "| dataflow parallelism | 3 | 70 (not reported in this mode) | 2.00 | 18 | 0.578 |" in lines
    )
    assert "| no loop parallelism | - | - | not available: RuntimeError: no | - | - |" in lines
