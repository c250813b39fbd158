"""The README's `fraudstream bench pipeline`, run as a user would: default FRAUD_PARTNERS, the
session's tiny model, small sizes (about ten FHE evaluations in all)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_bench_pipeline_prints_the_result_and_no_log_line(
    tiny_model: TinyModel, tmp_path: Path, guarantee: str
) -> None:
    """With the default partners (alpha, bravo) the bench runs alpha's pipeline, prints its
    progress and the result table, and writes it into the doc's block of its guarantee; the
    workers' JSON logs go to files under .fraudstream/bench/, whose folder the output names.
    With Faust's exactly_once every worker runs Kafka transactions (the measurement switch)."""
    doc = tmp_path / "reliability.md"
    result = fraudstream(
        "bench", "pipeline", "--transactions", "2", "--warmup", "1",
        "--guarantee", guarantee, "--doc", str(doc),
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
        timeout=840,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert re.search(r"^\| \(a\) bare loop of evaluations \| \d+\.\d+ tx/s", out, re.MULTILINE)
    assert re.search(r"^\| \(b\) whole pipeline through the broker \| \d+\.\d+ tx/s", out, re.M)
    assert re.search(r"^\| \*\*ratio \(b\)/\(a\)\*\* \| \*\*\d+\.\d+\*\*", out, re.MULTILINE)
    assert "(b) 3 of 3 scored" in out
    json_lines = [line for line in out.splitlines() if line.lstrip().startswith("{")]
    assert json_lines == []
    assert '"level"' not in out + result.stderr
    (log_dir,) = (tmp_path / ".fraudstream" / "bench").iterdir()
    assert f"worker logs in {log_dir}" in out
    assert sorted(p.name for p in log_dir.iterdir()) == ["partner-alpha.log", "scorer-0.log"]
    assert '"level"' in (log_dir / "scorer-0.log").read_text()
    block = "pipeline" if guarantee == "at_least_once" else "pipeline-exactly-once"
    written = doc.read_text()
    assert f"<!-- {block}:begin -->" in written
    assert "**ratio (b)/(a)**" in written
    assert (guarantee == "exactly_once") == ("--guarantee exactly_once" in written)
    # Faust logs its transactional producers when (and only when) it runs them.
    partner_log = (log_dir / "partner-alpha.log").read_text()
    assert (guarantee == "exactly_once") == ("transactional producer" in partner_log)
