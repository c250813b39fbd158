"""How several runs of ``bench pipeline`` are reported: every ratio on one line a script reads,
a row per run, and the latencies of the run with the median ratio."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from streams.core.outputs import Score, ScoreTimings
from streams.qa.bench import OTHERS_NICE, BenchResult, BenchRuns
from streams.qa.bench_report import evaluation_seconds


def result(bare_seconds: float, pipeline_seconds: float, fhe_p50: float) -> BenchResult:
    return BenchResult(
        "abc123",
        40,
        (bare_seconds,),
        pipeline_seconds,
        {"fhe_ms": (fhe_p50, fhe_p50 * 2), "end_to_end_ms": (100.0, 200.0)},
    )


def test_every_ratio_is_on_one_line_in_run_order() -> None:
    runs = BenchRuns((result(40, 41, 1.0), result(40, 50, 2.0), result(40, 40.5, 3.0)))
    # Rounded down: 40/41 = 0.9756 and 40/40.5 = 0.9877 are not 0.98 and 0.99.
    assert runs.ratio_line() == "pipeline/bare ratio runs: 0.97, 0.80, 0.98"
    assert re.fullmatch(r"pipeline/bare ratio runs: (0\.\d\d, ){2}0\.\d\d", runs.ratio_line())


def test_a_ratio_just_under_the_target_is_not_shown_as_the_target() -> None:
    just_under, exactly = result(0.949, 1.0, 1.0), result(0.95, 1.0, 1.0)
    assert BenchRuns((just_under, exactly)).ratio_line() == "pipeline/bare ratio runs: 0.94, 0.95"


def test_runs_at_another_priority_say_so_in_the_line_s_name() -> None:
    """Only the bench's own set-up gives the line a script reads as the ratio."""
    equal = replace(result(40, 41, 1.0), others_nice=0)
    runs = BenchRuns((equal, equal))
    assert runs.ratio_line() == (
        "pipeline/bare ratio runs (broker and partner worker at nice 0): 0.97, 0.97"
    )
    assert not runs.ratio_line().startswith("pipeline/bare ratio runs:")
    with_cpu = replace(result(40, 41, 1.0), cpu_seconds={"scorer": 0.9}, cores=2)
    assert f"worker ran at nice {OTHERS_NICE}" in with_cpu.cpu_markdown()
    assert "ran at nice" not in replace(with_cpu, others_nice=0).cpu_markdown()


def test_runs_in_the_idle_class_say_so_in_the_line_s_name_and_their_cpu_table() -> None:
    idle = replace(result(40, 41, 1.0), others_idle=True, cpu_seconds={"scorer": 0.9}, cores=2)
    line = BenchRuns((idle,)).ratio_line()
    assert line == (
        f"pipeline/bare ratio runs (broker and partner worker at nice {OTHERS_NICE} in the idle "
        "scheduling class): 0.97"
    )
    assert f"ran at nice {OTHERS_NICE} in the idle scheduling class" in idle.cpu_markdown()
    assert "ran at nice 0 in the idle" in replace(idle, others_nice=0).cpu_markdown()


def test_the_table_has_a_row_per_run_and_the_median_runs_latencies() -> None:
    runs = BenchRuns((result(40, 41, 1.0), result(40, 50, 2.0), result(40, 40.5, 3.0)))
    text = runs.markdown()
    assert "| 2 | `abc123` | 1.000 | - | 0.800 | 0.800 |" in text
    assert "Run 1 (the median ratio)" in text  # ratios 0.98, 0.80, 0.99: the median is run 1
    assert "| fhe | 1.0 | 2.0 |" in text
    assert "| end to end | 100.0 | 200.0 |" in text


def test_the_cpu_of_each_process_is_shown_against_what_the_machine_had() -> None:
    """40 transactions in 40 s on 2 cores: 2 core-seconds per transaction were there."""
    measured = BenchResult(
        "abc123", 40, (30.0,), 40.0, {"fhe_ms": (1.0, 2.0)},
        cpu_seconds={"scorer (with its FHE pool)": 1.6, "broker": 0.1}, cores=2,
    )  # fmt: skip
    text = measured.markdown()
    assert "| process of (b) | CPU s per transaction | share of the 2 cores |" in text
    assert "| scorer (with its FHE pool) | 1.600 | 80% |" in text
    assert "| broker | 0.100 | 5% |" in text
    assert "| all | 1.700 | 85% |" in text
    runs = BenchRuns((measured, measured)).markdown()
    assert "| all | 1.700 | 85% |" in runs
    assert "bare loop used" not in text  # not measured: no comparison


def test_the_pipelines_cpu_is_compared_with_the_bare_loops() -> None:
    """(a): 40 evaluations in 30 s on 2 cores, 1.2 CPU s each (80 % of the 1.5 there were);
    (b) in all 1.5 CPU s per transaction, a quarter more."""
    measured = BenchResult(
        "abc123", 40, (30.0,), 40.0, {"fhe_ms": (1.0, 2.0)},
        cpu_seconds={"scorer (with its FHE pool)": 1.4, "broker": 0.1}, cores=2,
        bare_cpu_seconds=1.2,
    )  # fmt: skip
    assert (
        "(a), for comparison: the bare loop used 1.200 CPU s per transaction (80% of the 2 "
        "cores while it ran); (b) in all used 25% more."
    ) in measured.markdown()
    paced = BenchResult(
        "abc123", 40, (30.0,), 80.0, {"fhe_ms": (1.0, 2.0)}, rate=0.5,
        cpu_seconds={"scorer (with its FHE pool)": 1.4}, cores=2, bare_cpu_seconds=1.2,
    )  # fmt: skip
    assert "bare loop used" not in paced.markdown()  # open loop: idle work in (b), none in (a)


def test_one_run_is_reported_as_before() -> None:
    one = result(40, 41, 1.0)
    assert BenchRuns((one,)).markdown() == one.markdown()


def test_an_open_loop_run_reports_its_offered_load_not_a_ratio() -> None:
    paced = BenchResult("abc123", 40, (40.0,), 80.0, {"fhe_ms": (1.0, 2.0)}, rate=0.5)
    text = paced.markdown()
    assert "| offered load (open loop) | 0.500 tx/s, 50% of (a) |" in text
    assert "ratio" not in text
    assert "| stage (ms, open loop at 0.500 tx/s) | p50 | p99 |" in text


def test_open_loop_sending_spaces_the_transactions_by_the_rate() -> None:
    from streams.core.topics import TopicNames  # noqa: PLC0415
    from streams.qa.bench import _sending, _transactions  # noqa: PLC0415

    part = _transactions(4, "alpha", ("alpha", "bravo"))
    sent: dict[int, float] = {}
    began = time.time() * 1000
    records = list(_sending(TopicNames("t"), "alpha", part, sent, rate=20.0))
    assert len(records) == 4
    times = [sent[tx.transaction_id] for tx in part]
    # Open loop keeps a schedule, not gaps: the n-th send is never before n * 50 ms after the
    # schedule began (a late send, the first one too on a busy machine, is followed by a shorter
    # gap, so gaps say nothing). The 2 ms allow for the wall clock the times are stamped with
    # against the monotonic schedule.
    since_began = [t - began for t in times]
    assert all(at >= n * 50 - 2 for n, at in enumerate(since_began)), since_began
    since_first = [t - times[0] for t in times]
    at_once: dict[int, float] = {}
    list(_sending(TopicNames("t"), "alpha", part, at_once, rate=None))
    assert max(at_once.values()) - min(at_once.values()) < since_first[-1]


def test_bytes_per_topic_end_with_the_verdict_line() -> None:
    sized = BenchResult(
        "abc123", 40, (40.0,), 41.0, {},
        topic_bytes={"scoring requests": 812.4, "verdicts": 54321.6},
    )  # fmt: skip
    text = sized.markdown()
    assert "| scoring requests | 812 |" in text
    assert text.splitlines()[-1] == "verdict bytes per transaction: 54322"


def test_a_bare_loop_on_each_side_of_the_pipeline_is_shown_with_their_mean() -> None:
    """(a) took 40 s before (b) and 50 s after: 1.000 and 0.800 tx/s; the ratio uses their mean,
    45 s (0.889 tx/s), against (b)'s 45 s."""
    bracketed = BenchResult(
        "abc123", 40, (40.0, 50.0), 45.0, {"fhe_ms": (1.0, 2.0)},
    )  # fmt: skip
    assert bracketed.ratio == 1.0
    text = bracketed.markdown()
    assert (
        "| (a) bare loop of evaluations | 0.889 tx/s (1.125 s/tx; times averaged from 1.000 tx/s "
        "before (b) and 0.800 after) |"
    ) in text
    runs = BenchRuns((bracketed, bracketed)).markdown()
    assert "| 1 | `abc123` | 0.889 | 1.000 / 0.800 | 0.889 | 1.000 |" in runs


def test_a_result_without_a_bare_loop_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one bare loop"):
        BenchResult("abc123", 40, (), 41.0, {})


def test_the_pipelines_time_is_split_into_its_evaluations_and_the_rest() -> None:
    """(a): 40 evaluations in 20 s (0.5 s each); (b): 22 s, of which 20.4 s in evaluations
    (0.51 s each, 2 % slower) and 1.6 s outside them (40 ms per transaction, 7.3 % of (b))."""
    measured = BenchResult("abc123", 40, (20.0,), 22.0, {}, evaluation_seconds=20.4)
    assert (
        "one evaluation took 0.510 s (the mean of the scores' FHE time) against 0.500 s in (a) "
        "(+2.0%); outside the evaluations (fill, drain, gaps between them) (b) spent 40.0 ms "
        "per transaction (7.3% of its time)."
    ) in measured.markdown()
    # Not when it means nothing: evaluations overlapping, an open loop, or no FHE times known.
    for other in (
        replace(measured, evaluations_at_once=2),
        replace(measured, rate=1.0),
        replace(measured, evaluation_seconds=None),
    ):
        assert "Where (b)'s time went" not in other.markdown()


def test_the_evaluations_time_is_known_only_if_every_score_carries_it() -> None:
    def scored(fhe_ms: float | None) -> tuple[Score, float]:
        timings = ScoreTimings(
            features_ms=0.1, encrypt_ms=1.0, queued_ms=0.0, fhe_ms=fhe_ms, decrypt_ms=1.0,
            transport_ms=1.0, end_to_end_ms=500.0,
        )  # fmt: skip
        score = Score(
            transaction_id=1, timestamp=datetime(2018, 8, 8, tzinfo=UTC), card_id=1, amount=1.0,
            score=0.1, threshold=0.5, alert=False, model_version="m1", key_id="k",
            request_id="r", features=(0.0,) * 15, timings=timings, scored_at_ms=1.0,
        )  # fmt: skip
        return score, 0.0

    assert evaluation_seconds([scored(400.0), scored(600.0)]) == pytest.approx(1.0)
    assert evaluation_seconds([scored(400.0), scored(None)]) is None
