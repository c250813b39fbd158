"""The fault run's schedule and report (the run itself: tests/e2e/test_bench_faults.py)."""

from __future__ import annotations

import itertools

from streams.qa.fault_run import Fault, FaultReport, schedule


def test_a_schedule_is_repeatable_from_its_seed_and_spaced() -> None:
    counts = {"gateway": 2, "scorer": 1, "broker-pause": 1}
    first = schedule(7, counts, ("alpha", "bravo"), 300)
    assert first == schedule(7, counts, ("alpha", "bravo"), 300)
    assert sorted(f.kind for f in first) == ["broker-pause", "gateway", "gateway", "scorer"]
    # 20 s steps, each with up to a quarter of jitter.
    assert all(b.at_s - a.at_s >= 15 for a, b in itertools.pairwise(first))
    assert {f.target for f in first if f.kind == "gateway"} <= {"alpha", "bravo"}
    assert {f.target for f in first if f.kind != "gateway"} == {"scorer", "broker"}


def test_the_report_gives_recovery_p50_and_p99_per_kind() -> None:
    faults = [Fault(10.0 * i, "gateway", "alpha") for i in range(5)]
    faults.append(Fault(60.0, "broker-kill", "broker"))
    report = FaultReport(
        1,
        faults,
        transactions=10,
        scored=10,
        recovery_s={"gateway": [9.0, 1.0, 3.0, 2.0, 30.0]},
    )
    text = report.markdown()
    assert "| gateway | 5 | 3.0 | 30.0 | 1.0, 2.0, 3.0, 9.0, 30.0 |" in text
    assert "| broker-kill | 1 | - | - | (no score came after it) |" in text
    assert "| 10 | 10 | 0 | 0 | 0 | 0 |" in text
    assert report.ok
