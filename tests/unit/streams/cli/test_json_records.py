"""What ``--json`` prints for ``bench …``, ``verify`` and ``model assess``: a record per row of
the human table with the table's numbers, then a summary; snake_case names with their units."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from models.training.assessment import Assessment
from models.training.protocol import Metrics
from models.training.report import AssessmentRow
from streams.cli._bench_records import (
    data_records,
    fault_records,
    fuzz_records,
    memory_records,
    pipeline_records,
    pool_records,
    soak_records,
)
from streams.cli._model_steps import assessment_records
from streams.cli._verify_records import BatchFeatures, verify_records, verify_verdict
from streams.qa.bench_report import BenchResult, BenchRuns
from streams.qa.data_bench import DataBenchResult
from streams.qa.fault_run import Fault, FaultReport
from streams.qa.fuzz_report import FuzzReport
from streams.qa.key_memory import KeyMemory
from streams.qa.memory_samples import SeriesSummary
from streams.qa.pool_bench import PoolPoint, PoolSweep
from streams.qa.score_comparison import Outcome, compare_outcomes
from streams.qa.soak_report import SoakPlan, SoakReport
from streams.qa.verify import PipelineRun

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def lines(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records as ``--json`` prints them, read back; each named, snake_case, summary last."""
    read = [orjson.loads(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))
            for record in records]  # fmt: skip
    assert read[-1]["record"] == "summary"
    assert [r["record"] for r in read].count("summary") == 1
    for record in read:
        assert all(_NAME.fullmatch(key) for key in record), record
    return read


def bench_result(bare_s: float, pipeline_s: float, rate: float | None = None) -> BenchResult:
    return BenchResult(
        "abc123", 40, (bare_s - 1, bare_s + 1), pipeline_s,
        {"fhe_ms": (1.5, 3.0), "end_to_end_ms": (100.0, 200.0)},
        rate, {"verdicts": 40_000.0, "scoring requests": 9_000.0},
        {"scorer (with its FHE pool)": 1.6, "broker": 0.1}, 2, 1.5,
    )  # fmt: skip


def test_pipeline_has_a_record_per_run_and_the_ratio_line_in_the_summary() -> None:
    runs = BenchRuns((bench_result(40, 41), bench_result(40, 50), bench_result(40, 40.5)))
    *rows, summary = lines(pipeline_records(runs))
    assert [row["run"] for row in rows] == [1, 2, 3]
    second = rows[1]
    assert second["record"] == "run"
    assert (second["bare_tx_per_s"], second["pipeline_tx_per_s"]) == (1.0, 0.8)
    assert (second["bare_s"], second["pipeline_s"], second["pipeline_s_per_tx"]) == (40, 50, 1.25)
    assert second["ratio"] == 0.8
    assert second["latency_ms"] == {
        "fhe": {"p50": 1.5, "p99": 3.0},
        "end_to_end": {"p50": 100.0, "p99": 200.0},
    }
    # 40 transactions in 50 s on 2 cores: 2.5 core-seconds per transaction were there.
    assert second["cpu_s_per_tx"]["all"] == pytest.approx(1.7)
    assert second["bare_cpu_s_per_tx"] == 1.5
    assert second["bare_loops_s"] == [39, 41]
    assert round(second["cpu_share_of_cores"]["scorer (with its FHE pool)"], 3) == 0.64
    assert second["verdict_bytes_per_tx"] == 40_000.0
    assert second["offered_tx_per_s"] is None
    # The summary says what `pipeline/bare ratio runs: 0.97, 0.80, 0.98` says (rounded down).
    ratios = ", ".join(f"{math.floor(r * 100) / 100:.2f}" for r in summary["ratios"])
    assert f"pipeline/bare ratio runs: {ratios}" == runs.ratio_line()
    assert summary["median_ratio_run"] == 1
    assert summary["runs"] == 3


def test_pipeline_open_loop_says_the_offered_load() -> None:
    (row, summary) = lines(pipeline_records(BenchRuns((bench_result(40, 41, rate=0.5),))))
    assert row["offered_tx_per_s"] == 0.5
    assert row["offered_share_of_bare"] == 0.5
    assert summary["ratios"] == [row["ratio"]]


def test_fuzz_has_a_record_per_family_and_the_verdict() -> None:
    report = FuzzReport(
        3, "v1", Counter(events=6, requests=4), Counter(events=6, requests=4), Counter(a=1, b=2),
        Counter(SchemaError=7, ReplayError=3), good_features_diff=0.0, good_score_diff=0.0,
        seconds=12.5,
    )  # fmt: skip
    *families, summary = lines(fuzz_records(report))
    assert families == [
        {"record": "family", "family": "events", "sent": 6, "refused": 6},
        {"record": "family", "family": "requests", "sent": 4, "refused": 4},
    ]
    assert (summary["sent"], summary["refused"], summary["kinds"]) == (10, 10, 2)
    assert summary["error_classes"] == {"SchemaError": 7, "ReplayError": 3}
    assert summary["verdict"] == "pass"
    report.crashed.append("scorer")
    assert lines(fuzz_records(report))[-1]["verdict"] == "fail"


def test_data_has_a_record_per_file_and_the_ratio() -> None:
    result = DataBenchResult(1_000, 2_000, [1.0, 3.0, 2.0], [5.0, 4.0, 6.0])
    bundled, larger, summary = lines(data_records(result))
    assert bundled == {
        "record": "file", "file": "bundled", "rows": 1_000, "median_s": 2.0,
        "runs_s": [1.0, 3.0, 2.0], "per_row_us": 2_000.0,
    }  # fmt: skip
    assert (larger["file"], larger["per_row_us"]) == ("larger", 2_500.0)
    assert summary == {"record": "summary", "repeats": 3, "ratio": 1.25}


def test_memory_has_a_record_per_number_of_key_sets() -> None:
    rows = lines(memory_records(KeyMemory("v1", 3_000_000, {2: 300.0, 0: 100.0, 1: 190.0})))
    assert [(r["key_sets"], r["above_no_keys_mb"], r["per_key_set_mb"]) for r in rows[:-1]] == [
        (0, 0.0, None),
        (1, 90.0, 90.0),
        (2, 200.0, 100.0),
    ]
    assert rows[-1] == {"record": "summary", "model_version": "v1", "key_set_bytes": 3_000_000}


def test_pool_has_a_record_per_combination() -> None:
    sweep = PoolSweep("v1", 21, 2, (PoolPoint(1, 0, 4, 2.0, (0.5, 0.7, 0.6, 0.9)),))
    point, summary = lines(pool_records(sweep))
    assert point["threads"] == 0  # every core
    assert (point["evaluations_per_s"], point["evaluations_per_s_per_core"]) == (2.0, 1.0)
    assert point["evaluation_p50_s"] == pytest.approx(0.65)
    assert point["bootstraps_per_s_per_core"] == 21.0
    assert summary == {
        "record": "summary", "model_version": "v1", "bootstraps_per_evaluation": 21, "cores": 2,
    }  # fmt: skip
    unknown = PoolSweep("v1", None, 2, sweep.points)
    assert lines(pool_records(unknown))[0]["bootstraps_per_s_per_core"] is None


def test_faults_have_a_record_per_kind_injected_and_the_schedule() -> None:
    faults = [Fault(10.0 * i, "gateway", "alpha") for i in range(5)]
    faults.append(Fault(60.0, "broker-kill", "broker"))
    report = FaultReport(
        1, faults, transactions=10, scored=9, recovery_s={"gateway": [9.0, 1.0, 3.0, 2.0, 30.0]}
    )
    gateway, broker, summary = lines(fault_records(report))
    assert gateway == {
        "record": "fault", "fault": "gateway", "count": 5, "recovery_p50_s": 3.0,
        "recovery_p99_s": 30.0, "recovery_s": [1.0, 2.0, 3.0, 9.0, 30.0],
    }  # fmt: skip
    assert (broker["fault"], broker["count"], broker["recovery_p50_s"]) == ("broker-kill", 1, None)
    assert (summary["transactions"], summary["scored"], summary["lost"]) == (10, 9, 1)
    assert summary["schedule"][-1] == {"at_s": 60.0, "fault": "broker-kill", "target": "broker"}
    assert summary["verdict"] == "fail"


def test_soak_has_a_record_per_process_and_the_counts() -> None:
    plan = SoakPlan(("alpha",), 1.0, 3.0, 16, date(2018, 7, 26), 1)
    series = [SeriesSummary("scorer", 20, 300.0, 310.0, 320.0, 1.5),
              SeriesSummary("broker (JVM)", 2, 900.0, 905.0, 905.0, None)]  # fmt: skip
    report = SoakReport(plan, "v1", sent=100, scored=100, live_s=50.0, series=series)
    scorer, broker, summary = lines(soak_records(report))
    assert scorer == {
        "record": "process", "process": "scorer", "samples": 20, "rss_after_warmup_mb": 300.0,
        "rss_end_mb": 310.0, "rss_max_mb": 320.0, "slope_mb_per_h": 1.5,
    }  # fmt: skip
    assert broker["slope_mb_per_h"] is None  # too few samples
    assert (summary["sent"], summary["lost"], summary["scored_per_s"]) == (100, 0, 2.0)
    assert summary["verdict"] == "pass"


def outcome(transaction: int, score: float, alert: bool) -> Outcome:
    return Outcome("alpha", transaction, score, alert, 0.5, "v1")


def test_verify_has_a_record_per_run_and_difference_then_the_verdict() -> None:
    golden = {o.key: o for o in (outcome(1, 0.2, False), outcome(2, 0.7, True))}
    actual = {o.key: o for o in (outcome(1, 0.6, True), outcome(3, 0.1, False))}
    comparison = compare_outcomes(golden, actual, tolerance=1e-9)
    runs = [PipelineRun("v1", [], 0, 2)]
    run, *differences, summary = lines(
        verify_records([Path("/m")], runs, "expected", comparison, None, 1e-9)
    )
    assert run == {
        "record": "run", "run": 1, "model": "/m", "model_version": "v1", "verdicts": 0,
        "dead_lettered": 0, "live_transactions": 2,
    }  # fmt: skip
    assert [(d["transaction_id"], d["difference"]) for d in differences] == [
        (1, "alert gained"),
        (2, "missing"),
        (3, "unexpected"),
    ]
    assert differences[0]["expected"] == {
        "score": 0.2, "alert": False, "threshold": 0.5, "model_version": "v1",
    }  # fmt: skip
    assert differences[1]["actual"] is None
    assert summary == {
        "record": "summary", "check": "expected", "compared": 3, "same": 0, "different": 3,
        "alert_gained": 1, "alert_lost": 0, "score_changed": 0, "missing": 1, "unexpected": 1,
        "tolerance": 1e-9, "verdict": "fail",
    }  # fmt: skip


def test_verify_verdicts() -> None:
    same = compare_outcomes({}, {}, tolerance=0.0)
    different = compare_outcomes({}, {outcome(1, 0.1, False).key: outcome(1, 0.1, False)},
                                 tolerance=0.0)  # fmt: skip
    assert verify_verdict("expected", same, None) == "pass"
    assert verify_verdict("expected", different, None) == "fail"
    assert verify_verdict("compare_model", different, None) == "report"  # a report, exit code 0
    assert verify_verdict(None, None, None) == "report"
    assert verify_verdict("batch", same, BatchFeatures(3, 1e-12, 1e-9)) == "pass"
    assert verify_verdict("batch", same, BatchFeatures(3, 1e-3, 1e-9)) == "fail"
    runs = [PipelineRun("v1", [], 0, 0)]
    records = lines(verify_records([Path("/m")], runs, "batch", same, BatchFeatures(3, 1e-3, 0), 0))
    assert records[1] == {
        "record": "features", "compared": 3, "largest_relative_difference": 1e-3,
        "tolerance": 0, "same": False,
    }  # fmt: skip
    # A run without a check (only --save-scores): the runs, and nothing compared.
    alone = lines(verify_records([Path("/m")], runs, None, None, None, 1e-9))
    assert [r["record"] for r in alone] == ["run", "summary"]
    assert (alone[-1]["check"], alone[-1]["compared"], alone[-1]["verdict"]) == (None, 0, "report")


def test_assess_has_a_record_per_row_named_as_in_assessment_json() -> None:
    metrics = Metrics(0.875, 0.5, 0.25, 1_000, 12)
    rows = [AssessmentRow("plaintext XGBoost (handbook defaults)", "test week", metrics),
            AssessmentRow("xgb: real FHE execution", "FHE sample", metrics)]  # fmt: skip
    assessment = Assessment("v1", rows, 20, 20, 1.25)
    first, _, summary = lines(assessment_records(assessment, [Path("m/assessment.json")]))
    assert first == {"record": "row", **rows[0].to_json()}
    assert (first["auc_roc"], first["n_transactions"], first["n_frauds"]) == (0.875, 1_000, 12)
    assert summary == {
        "record": "summary", "version": "v1", "fhe_sample": 20, "fhe_equals_clear": 20,
        "fhe_server_s_median": 1.25, "written": ["m/assessment.json"],
    }  # fmt: skip
