"""Times as people read them: milliseconds since the epoch as a UTC date and time."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_ms"]


def format_ms(ms: int) -> str:
    """Milliseconds since the epoch as a UTC date and time, to the second."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
