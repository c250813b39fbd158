"""How several runs of ``bench pipeline`` are reported: every ratio on one line a script reads,
a row per run, and the latencies of the run with the median ratio."""

from __future__ import annotations

import re

from streams.qa.bench import BenchResult, BenchRuns


def result(bare_seconds: float, pipeline_seconds: float, fhe_p50: float) -> BenchResult:
    return BenchResult(
        "abc123",
        40,
        bare_seconds,
        pipeline_seconds,
        {"fhe_ms": (fhe_p50, fhe_p50 * 2), "end_to_end_ms": (100.0, 200.0)},
    )


def test_every_ratio_is_on_one_line_in_run_order() -> None:
    runs = BenchRuns((result(40, 41, 1.0), result(40, 50, 2.0), result(40, 40.5, 3.0)))
    assert runs.ratio_line() == "pipeline/bare ratio runs: 0.98, 0.80, 0.99"
    assert re.fullmatch(r"pipeline/bare ratio runs: (0\.\d\d, ){2}0\.\d\d", runs.ratio_line())


def test_the_table_has_a_row_per_run_and_the_median_runs_latencies() -> None:
    runs = BenchRuns((result(40, 41, 1.0), result(40, 50, 2.0), result(40, 40.5, 3.0)))
    text = runs.markdown()
    assert "| 2 | `abc123` | 1.000 | 0.800 | 0.800 |" in text
    assert "Run 1 (the median ratio)" in text  # ratios 0.98, 0.80, 0.99: the median is run 1
    assert "| fhe | 1.0 | 2.0 |" in text
    assert "| end to end | 100.0 | 200.0 |" in text


def test_one_run_is_reported_as_before() -> None:
    one = result(40, 41, 1.0)
    assert BenchRuns((one,)).markdown() == one.markdown()
