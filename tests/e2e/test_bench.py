"""The README's `fraudstream bench pipeline`, run as a user would: default FRAUD_PARTNERS, the
session's tiny model, small sizes (about ten FHE evaluations in all)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


def test_bench_pipeline_prints_the_result_and_no_log_line(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """With the default partners (alpha, bravo) the bench runs alpha's pipeline, prints its
    progress and the result table; the workers' JSON logs go to files under
    .fraudstream/bench/, whose folder the output names."""
    result = fraudstream(
        "bench",
        "pipeline",
        "--transactions",
        "2",
        "--warmup",
        "1",
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
        timeout=840,
    )
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
