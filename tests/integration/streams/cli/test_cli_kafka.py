"""`fraudstream kafka up|status|down` and `fraudstream topics create` on a real broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.settings import Settings
from streams.qa.supervisor import settings_env
from tests.support.commands import fraudstream

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kafka_up_status_down(tmp_path: Path) -> None:
    """up starts a broker that answers, status reports it, down stops it, status says so."""
    ports = ["--port", str(free_port()), "--controller-port", str(free_port())]
    state = ["--state-dir", str(tmp_path / "broker")]
    try:
        up = fraudstream("kafka", "up", *state, *ports)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "broker ready" in up.stdout
        status = fraudstream("kafka", "status", *state, *ports)
        assert status.returncode == 0
        assert "running and ready" in status.stdout
        again = fraudstream("kafka", "up", *state, *ports)
        assert "already running" in again.stdout
    finally:
        down = fraudstream("kafka", "down", *state, *ports)
    assert "broker stopped" in down.stdout
    status = fraudstream("kafka", "status", *state, *ports)
    assert status.returncode == 1
    assert "not running" in status.stdout


def test_kafka_up_on_a_busy_port_says_so(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    """Starting a second broker on a port in use fails with a clear message, no traceback."""
    result = fraudstream(
        "kafka",
        "up",
        "--state-dir",
        str(tmp_path),
        "--port",
        str(kafka_broker.port),
        "--controller-port",
        str(free_port()),
    )
    assert result.returncode == 1
    assert "already in use" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_topics_create_is_idempotent(make_settings: Callable[..., Settings]) -> None:
    """topics create makes every topic once (the partners' table changelogs included); a second
    run finds them all existing."""
    settings = make_settings()
    env = settings_env(settings)
    # per partner (keys and shadow scores included), shared, table changelogs, federation (each
    # partner's tasks, the answers, masking keys, contributions and sums)
    expected = 2 * 10 + 2 + 2 * 2 + 2 + 4
    first = fraudstream("topics", "create", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("created") == expected
    assert f"{settings.app_id}-partner-alpha-entity_state-changelog" in first.stdout
    second = fraudstream("topics", "create", env=env)
    assert second.stdout.count("created") == 0
    assert second.stdout.count("exists") == expected


def test_unreachable_broker_gives_a_clear_error() -> None:
    """With no broker at FRAUD_BROKER, topics create says how to start one."""
    result = fraudstream("topics", "create", env={"FRAUD_BROKER": f"127.0.0.1:{free_port()}"})
    assert result.returncode == 1
    assert "cannot reach Kafka" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_invalid_configuration_is_reported() -> None:
    """A bad FRAUD_* value is named in a usage error."""
    result = fraudstream("topics", "create", env={"FRAUD_PARTNERS": "scoring"})
    assert result.returncode == 2
    assert "FRAUD_PARTNERS" in result.stderr
