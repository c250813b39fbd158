"""The live alerts page's pure parts: the histogram, the rows, the window, the Host check and the
page's own document."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from streams.partner.alert_follower import ALERT_COLUMNS, alert_row
from streams.partner.alerts_page_html import BAR_COLOUR, CONTENT_SECURITY_POLICY, page_html
from streams.partner.alerts_window import (
    HISTOGRAM_BINS,
    AlertsWindow,
    histogram,
    host_allowed,
    page_row,
)
from tests.support.scores import a_score


def test_histogram_bins_hold_their_lower_edge_and_the_last_holds_one() -> None:
    """20 equal bins over [0, 1]: 0 in the first, 0.05 in the second, 1 in the last; scores
    outside [0, 1] count in the first or the last bin."""
    counts = histogram([0.0, 0.049, 0.05, 0.5, 0.999, 1.0, -0.1, 1.5])
    assert len(counts) == HISTOGRAM_BINS == 20
    assert counts[0] == 3  # 0, 0.049 and -0.1
    assert counts[1] == 1
    assert counts[10] == 1
    assert counts[19] == 3  # 0.999, 1 and 1.5
    assert sum(counts) == 8
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
    update = window.add("score", a_score(6, 0.95))
    assert update is not None
    assert update["type"] == "score"
    assert update["row"]["cells"][1] == "6"
    assert update["counts"] == {"scores": 7, "alerts": 0, "skipped": 0}
    assert sum(update["histogram"]["counts"]) == 3
    assert update["histogram"]["counts"][19] == 1
    assert update["histogram"]["threshold"] == 0.5


def test_the_snapshot_holds_everything_the_page_shows() -> None:
    """The snapshot names the columns, the limits, the alerts and scores newest first, the
    histogram of the scores kept and the counts, skipped records included."""
    window = AlertsWindow(max_scores=10, max_alerts=10)
    assert window.snapshot()["histogram"] == {"counts": [0] * 20, "threshold": None}
    window.add("score", a_score(1, 0.2, threshold=0.6))
    window.add("score", a_score(2, 0.7, threshold=0.6))
    window.add("alert", a_score(2, 0.7, threshold=0.6))
    assert window.skip()["counts"]["skipped"] == 1
    snapshot = window.snapshot()
    assert snapshot["type"] == "snapshot"
    assert snapshot["columns"] == [title for title, _ in ALERT_COLUMNS]
    assert snapshot["limits"] == {"score": 10, "alert": 10}
    assert [row["cells"][1] for row in snapshot["scores"]] == ["2", "1"]
    assert [row["alert"] for row in snapshot["alerts"]] == [True]
    assert snapshot["histogram"]["threshold"] == 0.6
    assert snapshot["histogram"]["counts"][4] == snapshot["histogram"]["counts"][14] == 1
    assert snapshot["counts"] == {"scores": 2, "alerts": 1, "skipped": 1}


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
