"""docs/data.md's worked example, run as documented: a second schema (other column names, a
merchant category, a device score, no terminal, labels apart) from file to verdicts, through the
real pipeline on a real broker with real FHE, and ``verify --batch`` finds no difference between
the stream's features and scores and the batch path's.

Every ``$ fraudstream …`` line of the document runs in order in a fresh folder. Sizes are
shrunk through documented options: ``data example`` gets ``--sample 0.05`` (a twentieth of the
cards), ``model train`` the tiny model's knobs, ``model assess`` a small FHE sample. ``model
assess`` and ``verify`` also get ``--json``: what they found is read from their JSON lines
(their tables: tests/e2e/test_replay_doc.py, tests/unit/streams/cli/test_json_output.py).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.qa.recording_file import RecordedMessage, read_recording
from tests.support.commands import fraudstream
from tests.support.paths import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

DOC = ROOT / "docs" / "data.md"
#: Documented options that shrink a command for the test (appended; click takes the last).
SHRINK = {
    ("data", "example"): ["--sample", "0.05"],
    ("model", "train"): [
        "--n-bits", "2", "--depth", "2", "--trees", "3", "--fhe-sample", "0", "--no-simulate",
    ],
    ("model", "assess"): ["--fhe-sample", "2", "--json"],
    ("verify", "example/input.rec.gz"): ["--json"],
}  # fmt: skip


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """A ``--json`` run's stdout: JSON objects only, one a line, the summary last."""
    records = [orjson.loads(line) for line in stdout.splitlines()]
    assert records, stdout
    assert records[-1]["record"] == "summary"
    return records


def doc_commands() -> list[list[str]]:
    """The ``$ fraudstream …`` lines of docs/data.md, split as a shell would."""
    lines = re.findall(r"^\$ fraudstream (.+)$", DOC.read_text(), re.MULTILINE)
    return [shlex.split(line) for line in lines]


def test_the_worked_example_runs_as_documented(tmp_path: Path) -> None:
    commands = doc_commands()
    assert [c[:2] for c in commands] == [
        ["data", "example"],
        ["data", "check"],
        ["model", "train"],
        ["model", "assess"],
        ["replay", "--data"],
        ["verify", "example/input.rec.gz"],
    ]
    outputs, stdouts = [], []
    for command in commands:
        args = [*command, *SHRINK.get((command[0], command[1]), [])]
        run = fraudstream(*args, cwd=tmp_path, timeout=1200)
        assert run.returncode == 0, f"{shlex.join(args)}:\n{run.stdout}\n{run.stderr}"
        assert "Traceback" not in run.stderr, run.stderr
        outputs.append(" ".join(run.stdout.split()))
        stdouts.append(run.stdout)
    example, check, train, _, replay, _ = outputs

    assert "labels.csv" in example
    assert "ok:" in check
    assert "merchant_category: 8 values" in check  # two the spec does not know: "other"
    assert "16 features" in check
    # Its own split (never used by the project), next to plaintext XGBoost on the same days.
    assert "train 2018-07-04..2018-07-10" in train
    assert "test 2018-07-18..2018-07-24" in train
    assert "plaintext XGBoost" in train
    assert "feature spec: merchants" in train
    *rows, assessed = json_lines(stdouts[3])
    assert rows[0]["name"].startswith("plaintext XGBoost")
    assert {"auc_roc", "average_precision", "card_precision_100", "n_frauds"} <= set(rows[0])
    assert any("real FHE execution" in row["name"] for row in rows)
    assert assessed["fhe_sample"] >= 2
    assert 0 <= assessed["fhe_equals_clear"] <= assessed["fhe_sample"]
    assert "saved" in replay

    # What the gateway was sent: the bank's events in the spec's schema, no terminal.
    events = [
        orjson.loads(m.value)
        for m in read_recording(tmp_path / "example" / "input.rec.gz")
        if isinstance(m, RecordedMessage) and m.value and ".transactions." in m.topic
    ]
    assert events
    assert set(events[0]) == {
        "transaction_id", "timestamp", "card_id", "amount", "merchant_category", "device_risk",
        "partner_id",
    }  # fmt: skip

    pipeline_run, features, verified = json_lines(stdouts[5])
    assert (pipeline_run["record"], features["record"]) == ("run", "features")
    assert verified["check"] == "batch"
    assert verified["compared"] > 0
    assert (verified["same"], verified["different"]) == (verified["compared"], 0), verified
    assert verified["verdict"] == "pass"
    assert pipeline_run["dead_lettered"] == 0
    assert pipeline_run["verdicts"] == verified["compared"]
    assert features["largest_relative_difference"] <= 1e-9
    assert features["same"] is True
