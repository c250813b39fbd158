"""``--json`` of ``bench``, ``verify`` and ``model assess``, wired: stdout carries the JSON lines
only, progress, notes and errors go to stderr, and without ``--json`` the output is the table
as before. The measurements are replaced by canned results (the real runs:
tests/e2e/test_bench.py, tests/e2e/test_data_example.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner, Result

from models.training.assessment import Assessment
from models.training.protocol import Metrics
from models.training.report import AssessmentRow
from streams.cli import full_cli
from streams.cli._common import json_lines, say
from streams.core.errors import ConfigError
from streams.qa.key_memory import KeyMemory
from streams.qa.score_comparison import Outcome
from streams.qa.verify import PipelineRun


def invoke(*args: str) -> Result:
    return CliRunner().invoke(full_cli(), list(args), catch_exceptions=False)


def json_records(result: Result) -> list[dict[str, Any]]:
    """Every stdout line is one JSON object, the summary last."""
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert records, result.stderr
    assert records[-1]["record"] == "summary"
    return records


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "model_card.json").write_text("{}")
    return tmp_path


def measured_memory(model_dir: Path, counts: list[int], say: Any) -> KeyMemory:
    say(f"keys made for {counts[-1]} of {counts[-1]} partners")
    return KeyMemory("v1", 3_000_000, {0: 100.0, **{n: 100.0 + 90 * n for n in counts}})


def test_bench_json_is_alone_on_stdout(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streams.cli.bench.measure_key_memory", measured_memory)
    doc = tmp_path / "benchmarks.md"
    result = invoke("bench", "memory", "--model", str(model_dir), "--keys", "1,2", "--json",
                    "--doc", str(doc))  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json_records(result)
    assert [r.get("key_sets") for r in records] == [0, 1, 2, None]
    assert "keys made for 2 of 2 partners" in result.stderr
    assert f"written {doc} (memory block)" in " ".join(result.stderr.split())
    assert "| 2 | 280 | 180 | 90.0 |" in doc.read_text()  # the doc gets the table still

    table = invoke("bench", "memory", "--model", str(model_dir), "--keys", "1,2")
    assert table.exit_code == 0, table.output
    assert "keys made for 2 of 2 partners" in table.stdout
    assert "| 2 | 280 | 180 | 90.0 |" in table.stdout
    assert table.stderr == ""


def test_an_error_under_json_goes_to_stderr(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*_: Any) -> KeyMemory:
        say("starting")
        msg = "no evaluation process could start"
        raise ConfigError(msg)

    monkeypatch.setattr("streams.cli.bench.measure_key_memory", fails)
    result = invoke("bench", "memory", "--model", str(model_dir), "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "starting" in result.stderr
    assert "error: no evaluation process could start" in result.stderr


def test_verify_json_lists_the_differences_and_keeps_the_exit_code(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = {("alpha", n): Outcome("alpha", n, 0.1, False, 0.5, "v1") for n in (1, 2)}

    def run(*_: Any, **__: Any) -> list[PipelineRun]:
        say("run 1: through the model")
        return [PipelineRun("v1", [], 0, 2)]  # no verdict came

    monkeypatch.setattr("streams.cli.verify.read_outcomes", lambda _: golden)
    monkeypatch.setattr("streams.cli.verify._run", run)
    (tmp_path / "in.rec.gz").write_bytes(b"")
    (tmp_path / "golden.rec.gz").write_bytes(b"")
    args = ["verify", str(tmp_path / "in.rec.gz"), "--expected", str(tmp_path / "golden.rec.gz"),
            "--model", str(model_dir), "--show", "1"]  # fmt: skip
    result = invoke(*args, "--json")
    assert result.exit_code == 1  # differences, as without --json
    records = json_records(result)
    assert [r["record"] for r in records] == ["run", "difference", "difference", "summary"]
    assert records[-1]["missing"] == 2
    assert records[-1]["verdict"] == "fail"
    assert "run 1: through the model" in result.stderr

    table = invoke(*args)
    assert table.exit_code == 1
    assert "2 verdicts compared: 0 same, 2 different" in table.stdout
    assert "… and 1 more (--show)" in table.stdout


def test_model_assess_json_has_a_row_per_model(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = Metrics(0.875, 0.5, 0.25, 1_000, 12)
    rows = [AssessmentRow("plaintext XGBoost (handbook defaults)", "test week", metrics)]

    def assessed(*_: Any, say: Any, **__: Any) -> Assessment:
        say("refitting the plaintext baselines and the float twin…")
        return Assessment("v1", rows, 2, 2, 1.5)

    loaded = SimpleNamespace(load=lambda _: SimpleNamespace(spec=None))
    monkeypatch.setattr("streams.cli.model.ClientArtifact", loaded)
    monkeypatch.setattr("streams.cli.model.load_data", lambda *_: None)
    monkeypatch.setattr("streams.cli.model.assess_version", assessed)
    result = invoke("model", "assess", "--model", str(model_dir), "--json")
    assert result.exit_code == 0, result.output
    records = json_records(result)
    assert records[0]["name"] == "plaintext XGBoost (handbook defaults)"
    assert records[0]["auc_roc"] == 0.875
    assert records[-1]["fhe_equals_clear"] == 2
    assert "refitting the plaintext baselines" in result.stderr

    table = invoke("model", "assess", "--model", str(model_dir))
    assert "| plaintext XGBoost (handbook defaults) | test week | 0.875 |" in table.stdout


def test_json_lines_send_everything_else_to_stderr() -> None:
    """What a library prints meanwhile goes to stderr too; without --json, nothing moves."""

    @click.command()
    @click.option("--json", "as_json", is_flag=True, help="JSON.")
    def tool(as_json: bool) -> None:
        with json_lines(as_json) as emit:
            click.echo("a note")
            if emit is not None:
                emit({"record": "summary", "n": 1})

    result = CliRunner().invoke(tool, ["--json"])
    assert (result.stdout, result.stderr) == ('{"record":"summary","n":1}\n', "a note\n")
    result = CliRunner().invoke(tool, [])
    assert (result.stdout, result.stderr) == ("a note\n", "")
