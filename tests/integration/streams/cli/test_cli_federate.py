"""``fraudstream federate run`` and its roles on the real broker: trainer processes answer the
coordinator, the version is saved with a federated card, and a key the members file does not pin
is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from models.fhe.artifacts import ClientArtifact
from models.training.fitting import ProtocolData
from streams.core.settings import Settings
from tests.support.commands import fraudstream

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_federate_run_saves_a_federated_version(
    make_settings: Callable[..., Settings], tmp_path: Path, protocol_data: ProtocolData
) -> None:
    """Two trainer processes on their own cards, the coordinator over the broker: a version
    whose card lists both members with their rows and frauds and every round; neither the
    coordinator's output nor anything it wrote holds a training amount."""
    settings = make_settings()
    env = {"FRAUD_PARTNERS": "alpha,bravo", "FRAUD_TOPIC_ROOT": settings.topic_root}
    out = tmp_path / "artifacts"
    run = fraudstream(
        "federate", "run", "--broker", settings.broker, "--out", str(out), "--strategy", "cyclic",
        env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    card = json.loads((out / "latest" / "model_card.json").read_text())
    federation = card["federation"]
    assert card["training"] == "federated"
    assert set(federation["participants"]) == {"alpha", "bravo"}
    rows = sum(p["rows"] for p in federation["participants"].values())
    assert rows == 67_240  # the handbook's training week, split between the two
    assert federation["trees"] == 10
    assert federation["strategy"] == "cyclic"
    assert not federation["left_out"]
    assert "(federated)" in (out / "latest" / "model_card.md").read_text()
    assert ClientArtifact.load(out / "latest").spec.name == "handbook"
    train = protocol_data.split.train
    planted = [f"{a:.2f}" for a in train["TX_AMOUNT"].to_numpy()[:300] if a >= 100 and a % 1]
    # Card ids of the bundled data are small integers, like byte counts: the Kafka test plants
    # distinctive values instead (tests/integration/streams/federation).
    assert len(planted) > 30
    # stdout: what the coordinator printed (stderr holds library warnings with line numbers).
    written = [run.stdout]
    written += [path.read_text() for path in (out / "latest").glob("model_card.*")]
    written.append((out / "latest" / "client" / "preprocessing.json").read_text())
    for value in planted:
        pattern = re.compile(rf"(?<![\w.]){re.escape(value)}(?![\w.])")
        found = [t[max(0, m.start() - 40) : m.end()] for t in written for m in pattern.finditer(t)]
        assert not found, found


def test_a_key_the_members_file_does_not_pin_is_refused(tmp_path: Path) -> None:
    """A trainer whose key is not the members file's for its name stops at once, saying what to
    add, before it reads any data."""
    members = tmp_path / "members.json"
    members.write_text(json.dumps({"alpha": "00" * 32}))
    result = fraudstream(
        "federate", "trainer", "--partner", "alpha", "--members", str(members),
        "--key", str(tmp_path / "alpha.key"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "is not the key the members file pins for 'alpha'" in result.stdout


def test_federate_assess_writes_the_table(tmp_path: Path) -> None:
    """The experiment's short form (2 partners, bagging, scored in the clear, 2 transactions in
    real FHE): every row, the real-FHE agreement and the ratio line, in the doc's block."""
    doc = tmp_path / "federation.md"
    doc.write_text("# Federation\n\n<!-- federation:begin -->\n<!-- federation:end -->\n")
    result = fraudstream(
        "federate", "assess", "--partners", "2", "--strategy", "bagging", "--clear",
        "--fhe-sample", "2", "--doc", str(doc), "--json-out", str(tmp_path / "rows.json"),
        timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    text = doc.read_text()
    for row in (
        "central, global features",
        "central, per-partner features",
        "each partner alone",
        "federated (bagging)",
        "federated (bagging) + secure terminal sums",
    ):
        assert f"| 2 | {row} |" in text
    assert "equals its quantized clear scores on 2 of 2 test transactions" in text
    ratio = re.search(r"AP ratio, federated \+ secure sums / central global: (\d\.\d\d) \(2", text)
    assert ratio is not None
    assert float(ratio.group(1)) >= 0.95
    rows = json.loads((tmp_path / "rows.json").read_text())["rows"]
    assert len(rows) == 5
