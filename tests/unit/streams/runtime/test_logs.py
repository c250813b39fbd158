"""Logging: JSON lines with UTC timestamps (dead-letter log lines: test_deadletter_logging.py)."""

from __future__ import annotations

import orjson
import pytest
import structlog

from streams.runtime.logs import configure_logging, get_logger


def test_events_are_json_lines_with_utc_time(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    """A log event is one JSON object per line with level, event name and a UTC timestamp."""
    configure_logging("INFO")
    try:
        get_logger("test").info("thing_happened", partner="alpha", n_bytes=12)
        get_logger("test").debug("not_shown")
    finally:
        # The configuration writes to this test's captured stdout, closed after it: later tests
        # must not log there.
        structlog.reset_defaults()
    lines = capfdbinary.readouterr().out.splitlines()
    event = orjson.loads(lines[-1])
    assert event["event"] == "thing_happened"
    assert event["level"] == "info"
    assert event["timestamp"].endswith("Z")
    assert event["module"] == "test"
    assert all(b"not_shown" not in line for line in lines)
