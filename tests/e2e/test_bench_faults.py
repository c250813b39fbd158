"""`fraudstream bench faults`, short: two partners, one fault of each kind, the tiny model. The
long run's table is docs/reliability.md's."""

from __future__ import annotations

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
    batch computation; the report is written into the doc's block."""
    doc = tmp_path / "reliability.md"
    doc.write_text("# R\n\n<!-- faults:begin -->\n<!-- faults:end -->\n")
    result = fraudstream(
        "bench", "faults", "--partners", "alpha,bravo", "--per-partner", "12",
        "--faults", "gateway=1,decryptor=1,scorer=1,broker-kill=1,broker-pause=1,slow-partner=1",
        "--seed", "3", "--span", "120", "--pause", "8", "--doc", str(doc),
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
        timeout=1400,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out[-6000:] + result.stderr[-3000:]
    assert "| 24 | 24 | 0 | 0 | 0 | 0 |" in out
    for kind in ("gateway", "decryptor", "scorer", "broker-kill", "broker-pause", "slow-partner"):
        assert f"| {kind} | 1 | " in out, kind
    assert "Schedule: " in doc.read_text()
