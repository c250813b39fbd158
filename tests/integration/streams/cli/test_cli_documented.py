"""Documented commands no other test runs: `fraudstream --help`, `alerts --partner alpha
--follow` and `model sweep` (see tests/support/documented_commands.py)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.broker.connection import kafka_python_config
from streams.core.outputs import Alert, ScoreTimings
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.data_feed import OutgoingRecord, send_records
from tests.support.commands import fraudstream
from tests.support.paths import ROOT

pytestmark = [pytest.mark.integration]


def test_help_lists_every_command() -> None:
    """`fraudstream --help` exits 0 and names every command."""
    from streams.cli import full_cli  # noqa: PLC0415

    result = fraudstream("--help")
    assert result.returncode == 0, result.stderr
    assert "Privacy-preserving fraud scoring on Kafka." in result.stdout
    for name in full_cli().commands:
        assert f"  {name} " in result.stdout, name


def _alert(names: TopicNames, transaction_id: int) -> OutgoingRecord:
    timings = ScoreTimings(
        features_ms=0.2, encrypt_ms=3.0, queued_ms=10.0, fhe_ms=1000.0, decrypt_ms=1.0,
        transport_ms=5.0, end_to_end_ms=1500.0,
    )  # fmt: skip
    alert = Alert(
        transaction_id=transaction_id, timestamp=datetime(2018, 8, 8, 10, tzinfo=UTC),
        card_id=42, fields={"terminal_id": 7}, amount=12.5, score=0.9, threshold=0.5, alert=True,
        model_version="m1", key_id="k1", request_id=f"r{transaction_id}",
        features=(0.0,) * 15, timings=timings, scored_at_ms=1.0,
    )  # fmt: skip
    return OutgoingRecord(names.alerts("alpha"), b"42", alert.to_bytes())


@pytest.mark.slow
def test_alerts_follow_shows_new_alerts_until_ctrl_c(
    make_settings: Callable[..., Settings], topics_for: Callable[[Settings], TopicNames]
) -> None:
    """`fraudstream alerts --partner alpha --follow` shows the alerts already there, then waits
    and shows one that arrives later; Ctrl-C ends it with a count and exit code 0."""
    settings = make_settings()
    names = topics_for(settings)
    client = kafka_python_config(settings)
    send_records(client, [_alert(names, 1001)])
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env = {**base, "FRAUD_BROKER": settings.broker, "FRAUD_TOPIC_ROOT": names.root}
    env |= {"COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streams", "alerts", "--partner", "alpha", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in seen):
            assert process.poll() is None, f"alerts exited early: {''.join(seen)}"
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"no {text!r} after {timeout:.0f} s: {''.join(seen)}")

    try:
        wait_for(" 1001 ")
        time.sleep(1.0)  # it is past the topic's end now, and still running
        assert process.poll() is None
        # A record that is not an alert is skipped with where it was, and following goes on.
        send_records(client, [OutgoingRecord(names.alerts("alpha"), b"42", b'{"score": 1}')])
        wait_for("skipped")
        send_records(client, [_alert(names, 1002)])
        wait_for(" 1002 ")
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    out = "".join(seen)
    err = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, out + err
    assert "transaction time" in out
    assert "2 alerts from" in out
    assert "Traceback" not in out + err


@pytest.mark.slow
def test_model_sweep_from_json_redraws_the_frontier(tmp_path: Path) -> None:
    """`fraudstream model sweep --from-json` in a copy of docs/: the table from the results the
    last sweep streamed is the one docs/model.md holds, and the plot is drawn."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("model.md", "model_sweep.json", "model_reference.json"):
        shutil.copy(ROOT / "docs" / name, docs / name)
    result = fraudstream("model", "sweep", "--from-json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "written docs/model.md (sweep block), docs/model_frontier.png" in result.stdout
    assert (docs / "model.md").read_text() == (ROOT / "docs" / "model.md").read_text()
    assert (docs / "model_frontier.png").stat().st_size > 10_000
