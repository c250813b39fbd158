"""docs/replay.md, run as written: record → replay → verify on the real broker with real FHE.

Every ``$ fraudstream …`` line of the document is run in order, in a fresh folder, with
FRAUD_BROKER at the session broker, FRAUD_TOPIC_ROOT at topics of a pipeline this test starts
(one scorer, alpha's gateway, the tiny model) and FRAUD_MODEL_DIR at the tiny model. What each
command must show is asserted after it ran.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from models.fhe.artifacts import ClientArtifact, save_artifacts
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import admin_client, ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.broker.local_kafka import LocalKafka
from streams.core.settings import Settings
from streams.qa.recording_file import RecordedMessage, read_recording
from streams.qa.score_comparison import read_outcomes
from streams.qa.supervisor import running_pipeline
from tests.support.commands import fraudstream
from tests.support.models import TinyModel
from tests.support.paths import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]

DOC = ROOT / "docs" / "replay.md"
FIXTURE = ROOT / "tests" / "fixtures" / "alpha-2018-08-08.rec.gz"


def doc_commands() -> list[list[str]]:
    """The ``$ fraudstream …`` lines of docs/replay.md, split as a shell would."""
    lines = re.findall(r"^\$ fraudstream (.+)$", DOC.read_text(), re.MULTILINE)
    return [shlex.split(line) for line in lines]


def content(path: Path) -> list[tuple[str, bytes | None, bytes | None, tuple[Any, ...]]]:
    """What a recording says, whatever its topic root, partitions, offsets or write times."""
    return sorted(
        (m.topic.split(".", 1)[1], m.key, m.value, m.headers)
        for m in read_recording(path)
        if isinstance(m, RecordedMessage)
    )


def candidate_model(tiny_model: TinyModel, golden: Path, out: Path) -> tuple[Path, set[int]]:
    """The tiny model's trees released with a lower threshold, so that some verdicts of
    ``golden`` become alerts; returns its folder and the transactions that gain an alert."""
    verdicts = read_outcomes(golden)
    old = next(iter(verdicts.values())).threshold
    below = sorted({v.score for v in verdicts.values() if v.score < old})
    assert below, "every golden score is an alert: the fixture cannot show a lowered threshold"
    new = below[-1]  # the highest score under the old threshold now alerts
    fitted = tiny_model.fitted
    directory = save_artifacts(
        fitted.model,
        fitted.binning,
        new,
        {"spec": "tiny, lower threshold"},
        out,
        spec=ClientArtifact.load(tiny_model.directory).spec,
    )
    gained = {tx for (_, tx), v in verdicts.items() if old > v.score >= new}
    return directory, gained


def test_the_replay_workflow_runs_as_documented(
    kafka_broker: LocalKafka,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
    tmp_path: Path,
) -> None:
    commands = doc_commands()
    assert len(commands) == 7, "update this test with the document"
    root = f"t{uuid.uuid4().hex[:10]}"
    settings = Settings(
        broker=kafka_broker.bootstrap,
        topic_root=root,
        app_id=root,
        data_dir=tmp_path / "data",
        model_dir=tiny_model.directory,
        topic_partitions=2,
    )
    ensure_declared_topics(settings)
    work = tmp_path / "qa"
    (work / "tests" / "fixtures").mkdir(parents=True)
    shutil.copy(FIXTURE, work / "tests" / "fixtures" / FIXTURE.name)
    env = {
        "FRAUD_BROKER": kafka_broker.bootstrap,
        "FRAUD_TOPIC_ROOT": root,
        "FRAUD_APP_ID": root,
        "FRAUD_TOPIC_PARTITIONS": "2",
        "FRAUD_MODEL_DIR": str(tiny_model.directory),
        "FRAUD_DATA_DIR": str(tmp_path / "verify-data"),
    }
    gained: set[int] = set()

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        if "artifacts/candidate" in args and not (work / "artifacts" / "candidate").exists():
            directory, found = candidate_model(tiny_model, work / "golden.rec.gz", tmp_path / "m")
            (work / "artifacts").mkdir(exist_ok=True)
            (work / "artifacts" / "candidate").symlink_to(directory)
            gained.update(found)
        started = time.monotonic()
        result = fraudstream(*args, env=env, cwd=work, timeout=900)
        took = time.monotonic() - started
        print(f"$ fraudstream {shlex.join(args)}  ({took:.0f} s)")
        print(f"{result.stdout}\n{result.stderr[-3000:]}")
        return result

    key_dirs = {"alpha": partner_keys["alpha"].key_dir}
    with running_pipeline(settings, key_dirs, tmp_path / "logs") as pipeline:
        # 1. Replay a day of alpha's transactions into the running pipeline, sped up.
        result = run(commands[0])
        assert result.returncode == 0, pipeline.logs()
        assert "38 transactions (4 frauds) of alpha" in result.stdout
        assert "1609 warm-up messages, then 40 at 3600x real time" in result.stdout
        assert "warm-up processed by the gateways" in result.stdout
        assert re.search(r"sent 1649 messages \(1609 warm-up, 40 live\)", result.stdout)
        # Record the input, then the scores as they arrive.
        result = run(commands[1])
        assert result.returncode == 0, result.stderr
        assert "recorded 1649 messages into input.rec.gz" in result.stdout
        result = run(commands[2])
        assert result.returncode == 0, result.stderr
        assert "recorded 38 messages into golden.rec.gz" in result.stdout
    golden = read_outcomes(work / "golden.rec.gz")
    assert len(golden) == 38
    assert {p for p, _ in golden} == {"alpha"}
    # The shipped fixture is what the commands of step 1 record.
    assert content(work / "input.rec.gz") == content(FIXTURE)

    # 2. The shipped fixture replayed through a fresh pipeline: zero differences.
    result = run(commands[3])
    assert result.returncode == 0, result.stderr
    assert "38 verdicts compared: 38 same, 0 different" in result.stdout
    assert "saved 38 scores to replayed.rec.gz" in result.stdout
    replayed = read_outcomes(work / "replayed.rec.gz")
    assert replayed == golden  # scores, alerts, thresholds and model version, to the bit

    # 3. A candidate model with a lower threshold: the expected alerts gained, exit code 1.
    result = run(commands[4])
    assert gained, "the candidate's threshold changes no verdict"
    assert result.returncode == 1, result.stderr
    summary = f"38 verdicts compared: {38 - len(gained)} same, {len(gained)} different"
    assert summary in result.stdout
    assert f"({len(gained)} alert gained, 0 alert lost, 0 score changed, 0 missing" in result.stdout
    listed = {int(tx) for tx in re.findall(r"alpha\s*│\s*(\d+)\s*│\s*alert gained", result.stdout)}
    assert listed == gained
    # Both models on the input: the same report, exit code 0; and the input replayed once more
    # gives the verdicts of step 2 again (determinism).
    result = run(commands[5])
    assert result.returncode == 0, result.stderr
    assert "run 2:" in result.stdout
    assert summary in result.stdout
    assert read_outcomes(work / "again.rec.gz") == replayed
    # Each run deleted its topics: no plaintext left behind on the broker.
    admin = admin_client(kafka_python_config(settings))
    try:
        assert [t for t in admin.list_topics() if t.startswith("verify-")] == []
    finally:
        admin.close()

    # Replay speed and a dry run of the fixture: checked, counted, nothing sent.
    result = run(commands[6])
    assert result.returncode == 0, result.stderr
    assert "1609 warm-up messages, then 40 at 60x real time" in result.stdout
    assert "dry run: nothing sent" in result.stdout
