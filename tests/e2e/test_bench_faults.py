"""`fraudstream bench faults`, short: two partners, one fault of each kind, the tiny model. The
long run's table is docs/reliability.md's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]


def test_a_short_fault_run_loses_nothing_and_scores_nothing_twice(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """Every fault kind once (workers killed at their points, the broker killed and restarted
    and paused, a partner paused): all transactions scored once, none differently from the
    batch computation; the report is written into the doc's block, and with --json stdout
    carries a JSON object per fault kind and the summary."""
    doc = tmp_path / "reliability.md"
    doc.write_text("# R\n\n<!-- faults:begin -->\n<!-- faults:end -->\n")
    result = fraudstream(
        "bench", "faults", "--partners", "alpha,bravo", "--per-partner", "12",
        "--faults", "gateway=1,decryptor=1,scorer=1,broker-kill=1,broker-pause=1,slow-partner=1",
        "--seed", "3", "--span", "120", "--pause", "8", "--doc", str(doc), "--json",
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
        timeout=1400,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    written = doc.read_text()  # the table, as without --json
    assert "| 24 | 24 | 0 | 0 | 0 | 0 |" in written
    kinds = ("gateway", "decryptor", "scorer", "broker-kill", "broker-pause", "slow-partner")
    for kind in kinds:
        assert f"| {kind} | 1 | " in written, kind
    assert "Schedule: " in written
    *faults, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(f["record"], f["fault"], f["count"]) for f in faults] == [
        ("fault", kind, 1) for kind in kinds
    ]
    assert (summary["transactions"], summary["scored"], summary["lost"]) == (24, 24, 0)
    assert (summary["scored_twice"], summary["differ_from_batch"]) == (0, 0)
    assert len(summary["schedule"]) == 6
    assert summary["verdict"] == "pass"
