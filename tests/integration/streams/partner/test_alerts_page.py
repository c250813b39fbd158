"""The live alerts page on the real broker, in a real headless browser (Debian's chromium):
`fraudstream alerts --partner alpha --serve` shows the alerts and scores already on the
partner's topics, then a new alert without a reload; its screenshot shows the histogram."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image
from playwright.sync_api import expect

from streams.broker.connection import kafka_python_config
from streams.broker.ports import free_port
from streams.core.outputs import Score
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.partner.alerts_page_html import BAR_COLOUR
from streams.qa.data_feed import OutgoingRecord, send_records
from tests.support.browser import browser_page
from tests.support.scores import a_score

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Scores of transactions 2001.., the ones at or over 0.5 alerted (as the decryptor does).
SCORES = [0.05, 0.12, 0.31, 0.33, 0.45, 0.55, 0.72, 0.93]
#: What the page has read once it read the topics: the scores, the alerts, and two records
#: skipped (one that is not a score, one whose score is 1e999, which JSON reads as infinity).
COUNTS = {"scores": len(SCORES), "alerts": sum(s >= 0.5 for s in SCORES), "skipped": 2}


def records(names: TopicNames, score: Score) -> list[OutgoingRecord]:
    """What the decryptor writes for ``score``: the score, and the same record as an alert."""
    value = score.to_bytes()
    key = str(score.card_id).encode()
    sent = [OutgoingRecord(names.scores("alpha"), key, value)]
    if score.alert:
        sent.append(OutgoingRecord(names.alerts("alpha"), key, value))
    return sent


def get(url: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (``host``: another Host header)."""
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_for_window(url: str, alive: Callable[[], bool], counts: dict[str, int]) -> dict[str, Any]:
    """The page's window once it has read ``counts`` records of each kind, skipped ones too
    (they come from both topics, in polls of their own: 60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert alive(), "the page's process ended"
        try:
            _, _, body = get(url + "recent.json")
        except OSError:
            time.sleep(0.3)
            continue
        window: dict[str, Any] = orjson.loads(body)
        if window["counts"] == counts:
            return window
        time.sleep(0.3)
    pytest.fail(f"the page did not read {counts} in 60 s")


@pytest.fixture
def served_page(
    make_settings: Callable[..., Settings],
    topics_for: Callable[[Settings], TopicNames],
    tmp_path: Path,
) -> Iterator[tuple[str, TopicNames, dict[str, Any], subprocess.Popen[str]]]:
    """`fraudstream alerts --partner alpha --serve 127.0.0.1:<port>` on topics that already
    hold scores, alerts, one record that is not a score and one whose score is 1e999."""
    settings = make_settings()
    names = topics_for(settings)
    client = kafka_python_config(settings)
    sent = [r for i, s in enumerate(SCORES) for r in records(names, a_score(2001 + i, s))]
    sent.append(OutgoingRecord(names.alerts("alpha"), b"42", b'{"score": 1}'))
    huge = a_score(2999, 0.25).to_bytes().replace(b'"score":0.25', b'"score":1e999')
    sent.append(OutgoingRecord(names.scores("alpha"), b"42", huge))
    send_records(client, sent)
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env = {**base, "FRAUD_BROKER": settings.broker, "FRAUD_TOPIC_ROOT": names.root}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streams", "alerts", "--partner", "alpha",
         "--serve", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, text=True, env={**env, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        window = wait_for_window(url, lambda: process.poll() is None, COUNTS)
        yield url, names, window, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert process.returncode == 0, output
    assert f"Live alerts page of alpha: {url}" in output
    assert "Traceback" not in output


def test_the_page_shows_alerts_and_scores_and_refuses_a_public_host(
    served_page: tuple[str, TopicNames, dict[str, Any], subprocess.Popen[str]],
) -> None:
    """/recent.json holds the alerts and scores newest first, the histogram and the skipped
    records' count; the page has its policy headers; a public Host name is refused."""
    url, _, window, _ = served_page
    alerted = [2001 + i for i, s in enumerate(SCORES) if s >= 0.5]
    assert [int(row["cells"][1]) for row in window["alerts"]] == alerted[::-1]
    assert int(window["scores"][0]["cells"][1]) == 2000 + len(SCORES)
    assert sum(window["histogram"]["counts"]) == len(SCORES)
    assert window["histogram"]["threshold"] == 0.5
    assert window["counts"] == {"scores": len(SCORES), "alerts": len(alerted), "skipped": 2}
    status, headers, body = get(url)
    assert status == 200
    assert b"Alerts of partner alpha" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    status, _, _ = get(url + "recent.json", host="fraud.attacker.example:8080")
    assert status == 403


def test_a_browser_shows_the_page_and_a_new_alert_without_a_reload(
    served_page: tuple[str, TopicNames, dict[str, Any], subprocess.Popen[str]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    """In headless chromium: the alerts table lists the alerts newest first, the histogram has
    a bar per non-empty bin and the threshold line; a new alert appears while the page stays
    loaded; the screenshot is a drawn page whose histogram area holds the bars' colour."""
    url, names, _, _ = served_page
    alerted = [str(2001 + i) for i, s in enumerate(SCORES) if s >= 0.5]
    with browser_page() as page:
        page.goto(url)
        page.wait_for_selector("body[data-state=live]", timeout=30_000)
        # expect() polls from Playwright's own script: the page's policy forbids evaluating
        # strings (wait_for_function), and the test keeps that policy on.
        expect(page.locator("#alerts tbody tr")).to_have_count(len(alerted))
        first_cells = page.locator("#alerts tbody tr td:nth-child(2)").all_inner_texts()
        assert first_cells == alerted[::-1]
        assert page.locator("#alerts thead th").first.inner_text() == "transaction time"
        assert page.locator("#scores tbody tr").count() == len(SCORES)
        assert page.inner_text("#n-skipped") == "2"
        heights = [float(h) for h in page.eval_on_selector_all(
            "#histogram rect.bar", "bars => bars.map(b => b.getAttribute('height'))"
        )]  # fmt: skip
        assert len(heights) == 20
        assert sum(h > 0 for h in heights) == len({int(s * 20) for s in SCORES})
        assert page.locator("#histogram line.threshold").count() == 1

        page.evaluate("window.loadedOnce = true")  # gone if the page were reloaded
        client = kafka_python_config(make_settings(topic_root=names.root))
        send_records(client, records(names, a_score(3001, 0.99)))
        newest = page.locator("#alerts tbody tr td:nth-child(2)").first
        expect(newest).to_have_text("3001", timeout=30_000)
        assert page.evaluate("window.loadedOnce") is True
        assert page.locator("#alerts tbody tr").count() == len(alerted) + 1
        # The score is on the other topic: it may come in a later poll than the alert.
        expect(page.locator("#n-scores")).to_have_text(str(len(SCORES) + 1), timeout=30_000)
        expect(page.locator("#scores tbody td:nth-child(2)").first).to_have_text("3001")

        shot = tmp_path / "alerts-page.png"
        page.screenshot(path=str(shot), full_page=True)
        box = page.locator("#histogram").bounding_box()
    assert box is not None
    image = Image.open(shot).convert("RGB")
    assert image.width == 1280
    assert image.height >= 900
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 20, "a blank screenshot"
    bar = tuple(int(BAR_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    area = image.crop(
        (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
    )
    bar_pixels = sum(n for n, colour in area.getcolors(maxcolors=1 << 20) or [] if colour == bar)
    assert bar_pixels > 500, f"the histogram area has {bar_pixels} pixels of the bars' colour"
