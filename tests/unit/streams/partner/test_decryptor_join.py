"""The decryptor's join table across an upgrade: entries written before the typed records are
read as they were meant, and an unreadable entry never blocks its request for good."""

from __future__ import annotations

from typing import Any, cast

from structlog.testing import capture_logs

from streams.core.headers import FHE_MS_HEADER, PARTNER_HEADER, QUEUED_MS_HEADER
from streams.partner.context import PartnerContext
from streams.partner.decryptor import DecryptorSteps


def steps(joins: dict[str, Any]) -> DecryptorSteps:
    # Reading the table needs no keys: no context is given.
    return DecryptorSteps(cast(PartnerContext, None), "p.pending", joins)


def test_an_entry_of_the_old_format_keeps_the_scorers_timings() -> None:
    """A verdict that waited in the table before the upgrade (headers under "scorer") is read
    with its queue and FHE times."""
    old = {
        "verdict": "Y2lwaGVydGV4dA==",
        "scorer": {PARTNER_HEADER: "alpha", QUEUED_MS_HEADER: "12.5", FHE_MS_HEADER: "900.0"},
        "arrived_ms": 1.0,
    }
    entry = steps({"r1": old})._stored("r1")
    assert (entry.verdict, entry.queued_ms, entry.fhe_ms, entry.arrived_ms) == (
        "Y2lwaGVydGV4dA==",
        12.5,
        900.0,
        1.0,
    )
    assert entry.details is None


def test_an_unreadable_entry_is_dropped_with_a_warning() -> None:
    """An entry that is not a join entry is removed (so the request can still complete) and
    the drop is logged with the request id only."""
    joins: dict[str, Any] = {"r1": {"details": "not details"}}
    with capture_logs() as logs:
        entry = steps(joins)._stored("r1")
    assert entry.details is None
    assert entry.verdict is None
    assert "r1" not in joins
    assert [(e["event"], e["request_id"], e["log_level"]) for e in logs] == [
        ("join_entry_unreadable", "r1", "warning")
    ]
