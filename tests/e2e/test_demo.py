"""The README's run command (after set-up): `fraudstream demo` on a fresh local broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_shows_transactions_flowing_and_dead_letters() -> None:
    """The demo starts its broker and workers, every valid event is validated, each malformed one
    is dead-lettered with its reason, nothing is missing, and it exits 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    result = subprocess.run(
        [sys.executable, "-m", "streams", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "COLUMNS": "200"},
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "broker ready" in out
    assert "10 validated, 3 dead-lettered, 0 missing" in out
    assert len(re.findall(r"^validated", out, re.MULTILINE)) == 10
    assert "MalformedEventError: not a JSON object" in out
    assert "not the partner of this topic" in out
    assert "greater than or equal to 0" in out
