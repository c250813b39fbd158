"""The README's run command (after set-up): `fraudstream demo`, the whole pipeline on one machine.

It runs with the session's tiny model (FRAUD_MODEL_DIR) so that it does not train the default
model first; everything else is what `make run` does.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_scores_every_replayed_transaction_and_dead_letters_the_bad(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """The demo starts its broker, scorer and gateways, warms the state, scores every replayed
    transaction in FHE, dead-letters each malformed event with its reason, prints a summary and
    exits 0; the workers' logs stay in the folder it names (JSON lines, not on the screen)."""
    result = fraudstream(
        "demo",
        "--fraud-cards",
        "1",
        "--legit-cards",
        "1",
        env={"FRAUD_MODEL_DIR": str(tiny_model.directory)},
        timeout=600,
        cwd=tmp_path,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "broker ready" in out
    replayed = int(re.search(r"replay: (\d+) transactions", out).group(1))  # type: ignore[union-attr]
    assert replayed >= 2
    assert re.search(rf"transactions scored\s+│?\s*{replayed} of {replayed}", out), out[-3000:]
    assert re.search(r"malformed events dead-lettered\s+│?\s*3 of 3", out)
    rows = re.findall(r"^(?:ALERT|  ok ) (?:alpha|bravo)\s+tx \d+", out, re.MULTILINE)
    assert len(rows) == replayed
    assert "MalformedEventError: not a JSON object" in out
    assert "not the partner of this topic" in out
    assert "greater than or equal to 0" in out
    assert "true frauds caught" in out
    logs = Path(re.search(r"logs in (\S+)", out).group(1))  # type: ignore[union-attr]
    assert logs.is_relative_to(tmp_path / ".fraudstream" / "demo")
    assert '"verdict_decrypted"' in (logs / "partner-alpha.log").read_text()
    assert not [line for line in out.splitlines() if line.startswith("{")]


def test_sigterm_to_the_demo_stops_its_broker_and_workers(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """The demo's broker and workers run in sessions of their own, which a signal to the demo
    does not reach: on SIGTERM it stops them and exits 143, leaving no process behind."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "streams", "demo", "--fraud-cards", "1", "--legit-cards", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**base, "FRAUD_MODEL_DIR": str(tiny_model.directory)},
        cwd=tmp_path,
    )
    try:
        assert demo.stdout is not None
        seen = []
        for line in demo.stdout:  # until its broker, scorer and gateways run
            seen.append(line)
            if "scorer and gateways ready" in line:
                break
        else:
            pytest.fail("".join(seen[-40:]))
        started = psutil.Process(demo.pid).children(recursive=True)
        assert len(started) >= 4, started  # a broker, a scorer, two gateways
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=120) == 143, demo.stdout.read()[-3000:]
        _, alive = psutil.wait_procs(started, timeout=10)
        assert not alive, alive
    finally:
        demo.kill()
        demo.wait()
