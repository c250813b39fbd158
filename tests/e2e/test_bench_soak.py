"""`fraudstream bench soak`, short: a minute of live scoring after a day of history, the tiny
model. The hour-long run's table and curve are docs/reliability.md's."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

_SERIES = ("scorer", "scorer (children)", "partner alpha", "partner bravo", "broker (JVM)")


def test_a_short_soak_samples_every_process_and_loses_nothing(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """A minute of live scoring after a day of history: every transaction is scored; every
    worker, the scorer's pool and the broker have RSS samples in the CSV and a row with a slope
    in the report written into the doc's block; the curve is a PNG the doc links to. With
    --json, stdout carries a JSON object per process and the summary (the table is the doc's)."""
    doc = tmp_path / "reliability.md"
    doc.write_text("# R\n\n<!-- soak:begin -->\n<!-- soak:end -->\n")
    png = tmp_path / "img" / "soak.png"
    result = fraudstream(
        "bench", "soak", "--partners", "alpha,bravo", "--minutes", "0.5", "--sample", "3",
        "--start", "2018-06-19", "--history-days", "1", "--drain", "120",
        "--png", str(png), "--doc", str(doc), "--json",
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
        timeout=840,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    text = doc.read_text()
    counts = re.search(r"^\| ([\d,]+) \| ([\d,]+) \| 0 \| \d+ \| [\d,]+ \|", text, re.MULTILINE)
    assert counts is not None, text
    assert int(counts[1].replace(",", "")) > 0
    assert counts[1] == counts[2]  # sent == scored
    for series in _SERIES:
        row = re.search(rf"^\| {re.escape(series)} \| (\d+) \| .* \| ([+-]\d+\.\d) \|$", text,
                        re.MULTILINE)  # fmt: skip
        assert row is not None, (series, text)
        assert int(row[1]) >= 5
    (samples,) = (tmp_path / ".fraudstream" / "soak").glob("*/rss.csv")
    with samples.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["series"] for r in rows} == set(_SERIES)
    assert {"history", "live", "drain"} <= {r["phase"] for r in rows}
    assert all(float(r["rss_mb"]) > 0 for r in rows)
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size[0] > 500
    assert "](img/soak.png)" in text
    *processes, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert {p["process"] for p in processes} == set(_SERIES)
    assert all(p["record"] == "process" and p["samples"] >= 5 for p in processes)
    assert summary["record"] == "summary"
    assert summary["sent"] == summary["scored"] == int(counts[1].replace(",", ""))
    assert (summary["lost"], summary["verdict"]) == (0, "pass")
