"""A short fuzz run through the real agents (the full count is `fraudstream bench fuzz`, its
output in docs/threat-model.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.qa.fuzz import run_fuzz
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_short_fuzz_refuses_every_bad_input_and_keeps_scoring(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """Hundreds of generated bad inputs of every family (events, labels, requests, verdicts, key
    records, recordings) are each refused with a reason of this project; no worker crashes, no
    consumer group is left behind, and a good transaction on the same card afterwards gets
    exactly the batch features and the bare FHE score."""
    report = run_fuzz(
        Settings(), tiny_model.directory, count=400, seed=7, say=lambda _: None,
        log_root=tmp_path / "logs",
    )  # fmt: skip
    assert report.ok, report.markdown() + "\n" + "\n".join(report.unexpected[:20])
    assert set(report.sent) == {"transactions", "labels", "requests", "verdicts", "keys",
                                "recordings"}  # fmt: skip
    assert len(report.kinds) >= 40
