"""The README's `fraudstream bench pipeline`, run as a user would: default FRAUD_PARTNERS, the
session's tiny model, small sizes (about ten FHE evaluations in all)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from streams.qa.cpu_priority import autogroup_enabled
from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_bench_pipeline_prints_the_result_and_no_log_line(
    tiny_model: TinyModel, tmp_path: Path, guarantee: str
) -> None:
    """With the default partners (alpha, bravo) the bench runs alpha's pipeline, prints its
    progress and the result table, and writes it into the doc's block; the workers' JSON logs go
    to files under .fraudstream/bench/, whose folder the output names. With Faust's exactly_once
    (the measurement switch) every worker runs Kafka transactions, and the bench ends within its
    --wait either with the table or with an error saying how many were scored (docs/reliability.md:
    measured, it scores none)."""
    doc = tmp_path / "reliability.md"
    # Under exactly_once a short wait: measured, nothing is scored (docs/reliability.md).
    wait = "10" if guarantee == "exactly_once" else "600"
    result = fraudstream(
        "bench", "pipeline", "--transactions", "2", "--warmup", "1",
        "--guarantee", guarantee, "--wait", wait, "--doc", str(doc),
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
        timeout=840,
    )  # fmt: skip
    out = result.stdout
    (log_dir,) = (tmp_path / ".fraudstream" / "bench").iterdir()
    assert f"worker logs in {log_dir}" in out
    assert sorted(p.name for p in log_dir.iterdir()) == ["partner-alpha.log", "scorer-0.log"]
    assert '"level"' in (log_dir / "scorer-0.log").read_text()
    assert '"level"' not in out + result.stderr
    assert [line for line in out.splitlines() if line.lstrip().startswith("{")] == []
    # Faust logs its transactional producers when (and only when) it runs them.
    partner_log = (log_dir / "partner-alpha.log").read_text()
    assert (guarantee == "exactly_once") == ("transactional producer" in partner_log)
    if guarantee == "exactly_once" and result.returncode != 0:
        said = " ".join((out + result.stderr).split())
        assert re.search(r"scored \d of the \d transactions sent within 10 s", said), said
        assert not doc.exists()
        return
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert re.search(r"^\| \(a\) bare loop of evaluations \| \d+\.\d+ tx/s", out, re.MULTILINE)
    assert re.search(r"^\| \(b\) whole pipeline through the broker \| \d+\.\d+ tx/s", out, re.M)
    assert re.search(r"^\| \*\*ratio \(b\)/\(a\)\*\* \| \*\*\d+\.\d+\*\*", out, re.MULTILINE)
    assert "(b) 3 of 3 scored" in out
    # The broker and the gateway ran at the lowest priority (a deployment runs them elsewhere).
    lowered = re.search(r"\(b\) broker and gateway at nice 19 \((\d+) threads, (\d+) sessions", out)
    assert lowered, out
    assert int(lowered.group(1)) > 20  # the broker's JVM alone runs dozens of threads
    assert int(lowered.group(2)) == (2 if autogroup_enabled() else 0)
    assert "worker ran at nice 19" in out
    assert re.search(r"^pipeline/bare ratio runs: \d\.\d\d$", out, re.MULTILINE)
    # Every topic's bytes per transaction; a verdict of the tiny model is tens of KB.
    verdict = re.search(r"^verdict bytes per transaction: (\d+)$", out, re.MULTILINE)
    assert verdict, out
    assert int(verdict.group(1)) > 10_000
    assert re.search(r"^\| scoring requests \| [\d,]+ \|$", out, re.MULTILINE)
    # Where (b)'s CPU went: the scorer with its pool did the evaluations, so it used some.
    scorer_cpu = re.search(r"^\| scorer \(with its FHE pool\) \| (\d+\.\d+) \| \d+% \|$", out, re.M)
    assert scorer_cpu, out
    assert float(scorer_cpu.group(1)) > 0
    assert re.search(r"^\| all \| \d+\.\d+ \| \d+% \|$", out, re.MULTILINE)
    # ... and against the CPU of the bare evaluation, measured in (a) on all its threads.
    bare_cpu = re.search(r"^\(a\), for comparison: the bare loop used (\d+\.\d+) CPU s", out, re.M)
    assert bare_cpu, out
    assert float(bare_cpu.group(1)) > 0
    block = "pipeline" if guarantee == "at_least_once" else "pipeline-exactly-once"
    written = doc.read_text()
    assert f"<!-- {block}:begin -->" in written
    assert "**ratio (b)/(a)**" in written


def test_bench_pipeline_in_blocks_alternates_a_and_b(tiny_model: TinyModel, tmp_path: Path) -> None:
    """With --blocks 2, (a) runs in three blocks around (b)'s two (the pipeline stopped while
    (a) runs, then going on: each block of (b) is scored), and the run's record says so."""
    doc = tmp_path / "benchmarks.md"
    result = fraudstream(
        "bench", "pipeline", "--transactions", "2", "--warmup", "1", "--blocks", "2", "--json",
        "--doc", str(doc),
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
        timeout=840,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    said = result.stderr
    for n in (1, 2, 3):
        assert f"(a) block {n} of 3: 1 evaluations, (b) stopped" in said
    assert "(b) 2 of 2 scored" in said  # the warm-up's and the first block's
    assert "(b) 3 of 3 scored" in said
    run, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert (run["record"], run["blocks"], len(run["bare_loops_s"])) == ("run", 2, 3)
    assert run["pipeline_s"] > 0
    assert len(run["pipeline_blocks_s"]) == len(run["block_ratios"]) == 2
    assert sum(run["pipeline_blocks_s"]) == pytest.approx(run["pipeline_s"])
    assert summary["ratios"] == [run["ratio"]]
    written = doc.read_text()  # its own block: the design differs from that of (a) around (b)
    assert "<!-- pipeline-blocks:begin -->" in written
    assert "<!-- pipeline:begin -->" not in written
    assert "--warmup 1 --blocks 2`" in written
    assert "| 1 | `" not in written  # one run: the single table
    assert "3 blocks of 1 between" in written


def test_bench_memory_reports_the_evaluation_process_by_key_sets_held(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """`bench memory` makes the keys, measures a fresh evaluation process with 0 and each
    asked number of key sets, and writes its table into the doc's memory block; with --json,
    stdout carries one JSON object per number of key sets and a summary, progress goes to
    stderr."""
    doc = tmp_path / "benchmarks.md"
    result = fraudstream(
        "bench", "memory", "--model", str(tiny_model.directory), "--keys", "2,1", "--doc", str(doc),
        "--json", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    *held, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["record"], r["key_sets"]) for r in held] == [("key_sets", n) for n in (0, 1, 2)]
    assert all(r["rss_mb"] > 100 for r in held)  # a process with the circuit loaded
    assert held[2]["per_key_set_mb"] == held[2]["above_no_keys_mb"] / 2
    assert summary["record"] == "summary"
    assert summary["key_set_bytes"] > 1_000_000
    assert "2 key sets held: " in result.stderr
    written = doc.read_text()  # the table, as without --json
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (-?\d+) \| ([-\d.]+) \|$", written, re.M)
    assert [int(count) for count, *_ in rows] == [0, 1, 2]
    assert "<!-- memory:begin -->" in written
    assert "fraudstream bench memory --model" in written
    assert "--keys 1,2" in written


def test_bench_memory_refuses_counts_it_cannot_measure(tmp_path: Path) -> None:
    result = fraudstream("bench", "memory", "--keys", "0,4", cwd=tmp_path)
    assert result.returncode == 2
    assert "--keys takes numbers 1..64 separated by commas" in result.stderr


def test_bench_pool_measures_every_combination_of_processes_and_threads(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """`bench pool` runs the scorer's pool for each processes x threads asked and writes one
    row each, with the model's bootstraps, into the doc's pool block."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model.directory, model)
    card = json.loads((model / "model_card.json").read_text())
    card["circuit"] = {"programmable_bootstraps": 21}  # as `model train` records it
    (model / "model_card.json").write_text(json.dumps(card))
    doc = tmp_path / "benchmarks.md"
    result = fraudstream(
        "bench", "pool", "--model", str(model), "--processes", "1,2",
        "--threads", "1", "--evaluations", "3", "--doc", str(doc), cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = re.findall(
        r"^\| (\d+) x (\w+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+|-) \|$",
        result.stdout,
        re.M,
    )
    assert [(p, t) for p, t, *_ in rows] == [("1", "1"), ("2", "1")]
    assert all(float(per_second) > 0 for _, _, per_second, *_ in rows)
    assert "(21 programmable bootstraps per evaluation)" in result.stdout
    for *_, per_core, _, rate in rows:
        assert abs(int(rate) - float(per_core) * 21) <= 1  # per core is shown rounded
    assert "fraudstream bench pool --model" in doc.read_text()


def test_bench_pool_refuses_a_bad_list(tmp_path: Path) -> None:
    result = fraudstream("bench", "pool", "--threads", "one", cwd=tmp_path)
    assert result.returncode == 2
    assert "--threads takes numbers 0..256 separated by commas, not 'one'" in result.stderr


def test_bench_pipeline_refuses_several_runs_of_an_open_loop(tmp_path: Path) -> None:
    result = fraudstream("bench", "pipeline", "--runs", "3", "--rate", "0.5", cwd=tmp_path)
    assert result.returncode == 2
    assert "with --rate, run the command once per rate" in " ".join(result.stderr.split())
