"""The local broker's configuration (no broker started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.errors import BrokerError


def test_broker_binds_loopback_only_and_allows_large_messages(tmp_path: Path) -> None:
    """Every listener is on 127.0.0.1 and messages of hundreds of KB are allowed."""
    props = dict(
        line.split("=", 1)
        for line in LocalKafka(tmp_path, port=1234, controller_port=1235)._properties().splitlines()
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:1235"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1234"
    assert int(props["message.max.bytes"]) >= 4 * 1024 * 1024
    assert props["auto.create.topics.enable"] == "false"


def test_status_of_a_broker_that_never_ran(tmp_path: Path) -> None:
    """With no pid file, status says not running and stop says nothing was stopped."""
    broker = LocalKafka(tmp_path, port=1, controller_port=2)
    assert not broker.status().running
    assert broker.stop() is False


def test_without_java_it_says_so_before_fetching_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the local broker cannot run (the container image has no Java), `kafka up` and
    `--local-broker` stop at once with what to do instead, having fetched and written nothing."""
    import shutil  # noqa: PLC0415

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "java" else real_which(name))
    broker = LocalKafka(tmp_path / "state", port=free_port(), controller_port=free_port())
    with pytest.raises(BrokerError, match="Java 17 or newer") as refused:
        broker.start(say=lambda _: None)
    assert "set FRAUD_BROKER" in str(refused.value)
    assert not (tmp_path / "state").exists()
