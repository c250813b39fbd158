"""The live alerts page's pure parts: the histogram, the rows, the window, the Host check and the
page's own document; and how its reader hands records to the event loop."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import random
import re
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from streams.core.outputs import Score
from streams.partner import alerts_page, alerts_window
from streams.partner.alert_follower import ALERT_COLUMNS, alert_row
from streams.partner.alerts_page import AlertsPage
from streams.partner.alerts_page_html import BAR_COLOUR, CONTENT_SECURITY_POLICY, page_html
from streams.partner.alerts_window import (
    HISTOGRAM_BINS,
    AlertsWindow,
    Kind,
    histogram,
    host_allowed,
    page_row,
)
from tests.support.scores import a_score


def test_histogram_bins_hold_their_lower_edge_and_the_last_holds_one() -> None:
    """20 equal bins over [0, 1]: 0 in the first, 0.05 in the second, 1 in the last; scores
    outside [0, 1] count in the first or the last bin, however far outside."""
    counts = histogram([0.0, 0.049, 0.05, 0.5, 0.999, 1.0, -0.1, 1.5, 1e308, -1e308])
    assert len(counts) == HISTOGRAM_BINS == 20
    assert counts[0] == 4  # 0, 0.049, -0.1 and -1e308
    assert counts[1] == 1
    assert counts[10] == 1
    assert counts[19] == 4  # 0.999, 1, 1.5 and 1e308
    assert sum(counts) == 10
    assert histogram([], bins=4) == [0, 0, 0, 0]


def test_a_row_has_the_cells_the_alerts_table_prints() -> None:
    """The page's row of a record is the `fraudstream alerts` table's, plus what it sorts by."""
    alert = a_score(1001, 0.9)
    row = page_row(alert)
    assert row["cells"] == alert_row(alert)
    assert len(row["cells"]) == len(ALERT_COLUMNS)
    assert row["cells"][1] == "1001"
    assert (row["score"], row["threshold"], row["alert"]) == (0.9, 0.5, True)
    assert row["scored_at_ms"] == alert.scored_at_ms


def test_the_window_keeps_the_newest_records_newest_first() -> None:
    """Records come partition by partition, not in time order: the window keeps the latest by
    the time they were written, shows them newest first and drops an older one when full."""
    window = AlertsWindow(max_scores=3, max_alerts=2)
    for transaction_id in (5, 1, 4, 2, 3):
        window.add("score", a_score(transaction_id, 0.1))
    shown = [row["cells"][1] for row in window.rows("score")]
    assert shown == ["5", "4", "3"]
    assert window.add("score", a_score(0, 0.1)) is None  # older than every one kept
    row = window.add("score", a_score(6, 0.95))
    assert row is not None
    assert row["cells"][1] == "6"
    snapshot = window.snapshot()
    assert snapshot["counts"] == {"scores": 7, "alerts": 0, "skipped": 0}
    assert sum(snapshot["histogram"]["counts"]) == 3
    assert snapshot["histogram"]["counts"][19] == 1
    assert snapshot["histogram"]["threshold"] == 0.5


def test_a_batch_is_one_update_of_the_rows_it_leaves_in_the_window() -> None:
    """One poll's records make one update: the rows kept, newest first (not one a later record
    of the batch pushed out), skipped records counted, the histogram and counts after it."""
    window = AlertsWindow(max_scores=2, max_alerts=2)
    update = window.add_batch(
        [
            ("score", a_score(3, 0.1)),
            ("score", a_score(1, 0.2)),  # kept, then pushed out by 4
            ("alert", a_score(3, 0.9)),
            ("score", None),  # not a score
            ("score", a_score(4, 0.3, threshold=0.7)),
            ("score", a_score(0, 0.3)),  # older than every one kept
        ]
    )
    assert update["type"] == "records"
    assert [row["cells"][1] for row in update["scores"]] == ["4", "3"]
    assert [row["cells"][1] for row in update["alerts"]] == ["3"]
    assert update["counts"] == {"scores": 4, "alerts": 1, "skipped": 1}
    assert update["histogram"]["counts"][2] == update["histogram"]["counts"][6] == 1
    assert update["histogram"]["threshold"] == 0.7  # the newest score's
    empty = window.add_batch([("alert", None)])
    assert (empty["scores"], empty["alerts"], empty["counts"]["skipped"]) == ([], [], 2)


def test_the_snapshot_holds_everything_the_page_shows() -> None:
    """The snapshot names the columns, the limits, the alerts and scores newest first, the
    histogram of the scores kept and the counts, skipped records included."""
    window = AlertsWindow(max_scores=10, max_alerts=10)
    assert window.snapshot()["histogram"] == {"counts": [0] * 20, "threshold": None}
    window.add("score", a_score(1, 0.2, threshold=0.6))
    window.add("score", a_score(2, 0.7, threshold=0.6))
    window.add("alert", a_score(2, 0.7, threshold=0.6))
    window.add_batch([("score", None)])  # not a score: skipped
    snapshot = window.snapshot()
    assert snapshot["type"] == "snapshot"
    assert snapshot["columns"] == [title for title, _ in ALERT_COLUMNS]
    assert snapshot["limits"] == {"score": 10, "alert": 10}
    assert [row["cells"][1] for row in snapshot["scores"]] == ["2", "1"]
    assert [row["alert"] for row in snapshot["alerts"]] == [True]
    assert snapshot["histogram"]["threshold"] == 0.6
    assert snapshot["histogram"]["counts"][4] == snapshot["histogram"]["counts"][14] == 1
    assert snapshot["counts"] == {"scores": 2, "alerts": 1, "skipped": 1}


@pytest.mark.parametrize("limit", [1, 7, 200])
def test_the_running_histogram_is_the_histogram_of_the_scores_kept(limit: int) -> None:
    """After thousands of adds, replacements and refusals, out of time order and with equal
    times, the bins kept as records come and go equal a histogram counted afresh, and the
    threshold shown is the newest score's."""
    rng = random.Random(limit)  # noqa: S311 - a reproducible order, not a secret
    window = AlertsWindow(max_scores=limit, max_alerts=limit)
    for n in range(3000):
        kind: Kind = "score" if rng.random() < 0.8 else "alert"
        scored_at_ms = float(rng.randrange(2000) + n // 3)
        value = rng.choice([rng.random(), 0.0, 1.0, -0.5, 3.0])
        window.add(kind, a_score(n, value, threshold=rng.random(), scored_at_ms=scored_at_ms))
        if n % 97 == 0 or n == 2999:
            kept = window.rows("score")
            assert len(kept) == min(limit, window.seen["score"])
            assert window.histogram() == histogram(row["score"] for row in kept)
            summary = window.snapshot()["histogram"]
            assert summary["counts"] == window.histogram()
            assert summary["threshold"] == kept[0]["threshold"]


def test_an_add_costs_the_same_whatever_the_window_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding to a full window of 10,000 scores places two scores in the histogram (the new
    one and the one it pushes out), never the 10,000 kept: no add recounts the window."""
    window = AlertsWindow(max_scores=10_000, max_alerts=10)
    window.add_batch([("score", a_score(n, (n % 100) / 100)) for n in range(10_000)])
    placed: list[float] = []
    counted = alerts_window.histogram_bin

    def counting(score: float, bins: int = HISTOGRAM_BINS) -> int:
        placed.append(score)
        return counted(score, bins)

    monkeypatch.setattr(alerts_window, "histogram_bin", counting)
    for n in range(10_000, 10_500):
        window.add("score", a_score(n, 0.5))
    assert len(placed) == 2 * 500
    window.add_batch([("score", a_score(20_000, 0.5)), ("alert", a_score(20_000, 0.5))])
    assert len(placed) == 2 * 501
    assert window.histogram() == histogram(row["score"] for row in window.rows("score"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("score", math.inf),
        ("score", math.nan),
        ("threshold", -math.inf),
        ("scored_at_ms", math.nan),
    ],
)
def test_a_record_the_page_cannot_place_is_skipped_and_the_page_goes_on(
    field: str, value: float
) -> None:
    """A score, threshold or time that is not a finite number (the record type takes inf and
    nan) is counted as skipped and kept out of the window: every later add, batch and snapshot
    still works."""
    bad = a_score(2, 0.9).model_copy(update={field: value})
    window = AlertsWindow(max_scores=5, max_alerts=5)
    window.add("score", a_score(1, 0.2))
    assert window.add("score", bad) is None
    assert window.add("alert", bad) is None
    update = window.add_batch([("score", bad), ("score", a_score(3, 0.4))])
    assert update["counts"] == {"scores": 2, "alerts": 0, "skipped": 3}
    assert [row["cells"][1] for row in update["scores"]] == ["3"]
    snapshot = window.snapshot()
    assert [row["cells"][1] for row in snapshot["scores"]] == ["3", "1"]
    assert sum(snapshot["histogram"]["counts"]) == 2
    assert snapshot["histogram"]["threshold"] == 0.5


def _record(value: bytes | None) -> Any:
    """A kafka-python record of the scores topic at offset 7 holding ``value``."""
    return SimpleNamespace(topic="fraud.alpha.scores.v1", partition=0, offset=7, value=value)


def test_the_reader_skips_a_record_it_cannot_show_and_logs_its_position_only() -> None:
    """Not a score, a tombstone, or a score of 1e999 or NaN (which JSON and the record type
    take): skipped (None), logged by topic, partition and offset, never by a value."""
    good = a_score(1, 0.25).to_bytes()
    assert b'"score":0.25' in good
    assert b'"threshold":0.5' in good
    bad = [
        b'{"score": 1}',
        None,
        good.replace(b'"score":0.25', b'"score":1e999'),
        good.replace(b'"threshold":0.5', b'"threshold":NaN'),
    ]
    with capture_logs() as logs:
        assert [alerts_page._score(_record(value)) for value in bad] == [None] * 4
        score = alerts_page._score(_record(good))
    assert isinstance(score, Score)
    assert score.score == 0.25
    assert [entry["event"] for entry in logs] == ["alerts_page_record_skipped"] * 4
    assert [entry["error"] for entry in logs] == ["SchemaError"] * 2 + ["NotFinite"] * 2
    assert all(entry["offset"] == 7 for entry in logs)
    assert "0.25" not in str(logs)
    assert "42" not in str(logs)  # the card


def _page(max_scores: int = 10) -> AlertsPage:
    """A page that is not started: no broker, no port."""
    return AlertsPage(
        {}, "alpha", "fraud.alpha.scores.v1", "fraud.alpha.alerts.v1",
        host="127.0.0.1", port=0, max_scores=max_scores, max_alerts=10,
    )  # fmt: skip


def test_the_reader_survives_an_unexpected_error_and_logs_its_class_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any error, not only the broker's, makes the reader wait and read again (it once ended
    the reader silently, the page heartbeating and never updated); the log names the error's
    class, never its message, which may quote a record."""
    page = _page()
    calls: list[int] = []

    def follow(positions: dict[Any, int]) -> None:
        calls.append(len(positions))
        if len(calls) == 1:
            msg = "card 4242 scored 0.97"
            raise LookupError(msg)
        page._stopped.set()

    monkeypatch.setattr(page, "_follow", follow)
    monkeypatch.setattr(alerts_page, "_RETRY_S", 0.0)
    with capture_logs() as logs:
        page._read()
    assert len(calls) == 2
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [
        ("alerts_page_reader_failed", "error")
    ]
    assert logs[0]["error"] == "LookupError"
    assert "4242" not in str(logs)


def test_the_reader_hands_over_one_batch_per_poll_and_waits_while_the_loop_is_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each batch is one callback on the event loop and one update to each browser; once
    ``_IN_FLIGHT`` batches wait for the loop, the reader waits too (it no longer queues
    callbacks without bound), and goes on when the loop has added one."""
    monkeypatch.setattr(alerts_page, "_WAIT_S", 0.01)
    page = _page(max_scores=3)
    loop = asyncio.new_event_loop()
    try:
        page._loop = loop
        browser: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        page._clients.add(browser)
        for n in range(alerts_page._IN_FLIGHT):
            batch: list[tuple[Kind, Score | None]] = [
                ("score", a_score(10 * n + i, 0.1)) for i in range(5)
            ]
            assert page._hand_over(batch)
        handed: list[bool] = []
        last: list[tuple[Kind, Score | None]] = [("alert", a_score(99, 0.9)), ("score", None)]
        reader = threading.Thread(target=lambda: handed.append(page._hand_over(last)))
        reader.start()
        reader.join(0.2)
        assert reader.is_alive()  # the loop has added nothing yet: the reader waits
        assert page.window.seen == {"score": 0, "alert": 0}
        loop.run_until_complete(asyncio.sleep(0))  # the loop adds the waiting batches
        reader.join(10)
        assert handed == [True]
        loop.run_until_complete(asyncio.sleep(0))
        updates = [browser.get_nowait() for _ in range(browser.qsize())]
        assert len(updates) == alerts_page._IN_FLIGHT + 1
        assert all(update is not None and update["type"] == "records" for update in updates)
        assert updates[-1] is not None
        assert updates[-1]["counts"] == {"scores": 10, "alerts": 1, "skipped": 1}
        assert [row["cells"][1] for row in page.window.rows("score")] == ["14", "13", "12"]
        page._stopped.set()
        for _ in range(alerts_page._IN_FLIGHT):
            assert page._hand_over(last)
        assert not page._hand_over(last)  # full, and the page stopped: given up
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:8080", True),
        ("127.0.0.1:8080", True),
        ("[::1]:8080", True),
        ("10.1.2.3", True),
        ("fraud-partner-alpha-0.fraud-partner-alpha.fraud-alpha.svc:8080", True),
        ("fraud-partner-alpha.fraud-alpha.svc.cluster.local", True),
        ("fraud-desk", True),
        ("app.localhost:8080", True),
        ("attacker.example.com:8080", False),
        ("localhost.attacker.example:8080", False),
        ("", False),
        (None, False),
    ],
)
def test_only_local_and_cluster_names_may_ask_for_the_page(host: str | None, allowed: bool) -> None:
    """A public name in Host is what a DNS-rebinding page sends: it is refused."""
    assert host_allowed(host) is allowed


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_runs_only_its_own_inline_script_and_style() -> None:
    """The policy's hashes are those of the page's one script and one style; nothing comes
    from elsewhere (no src or href), and the partner's name is escaped."""
    document = page_html("<alpha>", 500, 200)
    (script,) = re.findall(r"<script>(.*?)</script>", document, re.DOTALL)
    (style,) = re.findall(r"<style>(.*?)</style>", document, re.DOTALL)
    assert f"script-src {_sha256(script)};" in CONTENT_SECURITY_POLICY
    assert f"style-src {_sha256(style)};" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert not re.search(r"\b(src|href)=", document)
    assert "&lt;alpha&gt;" in document
    assert "<alpha>" not in document
    assert BAR_COLOUR in style
    assert "innerHTML" not in script  # record values reach the page as text only
