"""The fraud team's live alerts page: the partner's latest alerts and scores, a histogram of the
scores, updated as records arrive.

It shows decrypted results, so it lives inside the partner and on a port of its own
(``FRAUD_ALERTS_PAGE_PORT``), never on the worker's web port, which the monitoring namespace
reaches for ``/metrics``. The partner's worker serves it with its Faust app (:func:`attach`);
``fraudstream alerts --serve`` serves the same page from the fraud team's own machine
(:func:`serve_page`). Routes:

- ``GET /`` (or ``/alerts``): the page (no external asset; docs/alerts.md);
- ``GET /events``: Server-Sent Events, the window first, then one update per batch of records
  read (one poll of the topics);
- ``GET /recent.json``: the window now.

A kafka-python consumer without a group (nobody's offsets move) reads the partner's scores and
alerts topics in a thread, from the last records of each partition (the window's size), and
hands what each poll read to the event loop as one batch. The handoff is bounded: at most
:data:`_IN_FLIGHT` batches wait for the loop, and the reader waits beyond (the loop is the
partner worker's, which also serves its agents, its Kafka heartbeats and ``/live``). A record
that is not a score, or whose score, threshold or time is not a finite number, is counted and
skipped, never shown or logged. Reading from the topics, not from the decryptor, makes the page
the same whichever replica decrypted what, and gives it its history after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

import faust
import orjson
from aiohttp import web
from kafka import TopicPartition
from kafka.errors import KafkaError
from mode import Service

from streams.broker.admin import assigned_consumer
from streams.core.errors import BrokerError, SchemaError
from streams.core.outputs import Score
from streams.partner.alerts_page_html import CONTENT_SECURITY_POLICY, page_html
from streams.partner.alerts_window import AlertsWindow, Kind, host_allowed, shown
from streams.runtime.logs import get_logger

__all__ = ["AlertsPage", "attach", "serve_page"]

_log = get_logger(__name__)
#: Seconds between two comments on an idle event stream (a closed browser is noticed).
_HEARTBEAT_S = 15.0
#: Seconds before the reader tries again after the broker, a topic or anything else failed it.
_RETRY_S = 5.0
#: Records one poll reads at most: one batch, one update to the browsers.
_BATCH = 500
#: Batches handed to the event loop and not yet added, at most: beyond, the reader waits.
_IN_FLIGHT = 2
#: Seconds between two looks at whether the page stopped, while the reader waits for the loop.
_WAIT_S = 0.5
#: Updates one browser may lag behind before its stream is ended (it reconnects afresh).
_BACKLOG = 1000
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class AlertsPage:
    """The page of ``partner``'s ``scores_topic`` and ``alerts_topic`` on ``host``:``port``."""

    def __init__(
        self,
        client_config: dict[str, Any],
        partner: str,
        scores_topic: str,
        alerts_topic: str,
        *,
        host: str,
        port: int,
        max_scores: int,
        max_alerts: int,
    ) -> None:
        self.client_config, self.partner, self.host, self.port = client_config, partner, host, port
        self.kinds: dict[str, Kind] = {scores_topic: "score", alerts_topic: "alert"}
        self.window = AlertsWindow(max_scores, max_alerts)
        self._html = page_html(partner, max_scores, max_alerts).encode()
        self._clients: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._stopped = threading.Event()
        self._handoff = threading.BoundedSemaphore(_IN_FLIGHT)
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """Where the page is (the bound port, once started)."""
        port = self.port
        if self._runner is not None and self._runner.addresses:
            port = self._runner.addresses[0][1]
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{host}:{port}/"

    async def start(self) -> None:
        """Listen on ``host``:``port`` and start reading the topics."""
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/alerts", self._page)
        app.router.add_get("/events", self._events)
        app.router.add_get("/recent.json", self._recent)
        app.middlewares.append(_only_known_hosts)
        app.on_response_prepare.append(_secure)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self._thread = threading.Thread(target=self._read, name="alerts-page-reader", daemon=True)
        self._thread.start()
        _log.info("alerts_page_started", partner=self.partner, host=self.host, port=self.port)

    async def stop(self) -> None:
        """End every event stream, stop listening, stop the reader."""
        self._stopped.set()
        for queue in list(self._clients):
            _end(queue)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)
        _log.info("alerts_page_stopped", partner=self.partner)

    # --- the web side (the event loop) ---------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._html, content_type="text/html", charset="utf-8")

    async def _recent(self, request: web.Request) -> web.Response:
        body = orjson.dumps(self.window.snapshot())
        return web.Response(body=body, content_type="application/json")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=_BACKLOG)
        self._clients.add(queue)
        try:
            await response.write(_event(self.window.snapshot()))
            while not self._stopped.is_set():
                try:
                    update = await asyncio.wait_for(queue.get(), timeout=_HEARTBEAT_S)
                except TimeoutError:
                    await response.write(b": idle\n\n")
                    continue
                if update is None:
                    break
                await response.write(_event(update))
        except ConnectionResetError:
            pass  # the browser went away
        finally:
            self._clients.discard(queue)
        return response

    def _publish(self, update: dict[str, Any]) -> None:
        for queue in list(self._clients):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:  # too slow a browser: it reconnects and starts afresh
                self._clients.discard(queue)
                _end(queue)

    def _add(self, batch: list[tuple[Kind, Score | None]]) -> None:
        """Add one poll's records to the window and send the browsers one update (on the loop)."""
        try:
            self._publish(self.window.add_batch(batch))
        except Exception as exc:  # noqa: BLE001 - the page goes on; never a record's content
            _log.error("alerts_page_batch_failed", error=type(exc).__name__, records=len(batch))
        finally:
            self._handoff.release()

    # --- the Kafka side (the reader thread) -----------------------------------------------------

    def _read(self) -> None:
        positions: dict[TopicPartition, int] = {}
        while not self._stopped.is_set():
            try:
                self._follow(positions)
            except (BrokerError, KafkaError, OSError) as exc:
                _log.warning("alerts_page_reader_failed", reason=str(exc), retry_s=_RETRY_S)
                self._stopped.wait(_RETRY_S)
            except Exception as exc:  # noqa: BLE001 - a dead reader would freeze the page
                # The class only: an unexpected error's message may quote a record.
                _log.error("alerts_page_reader_failed", error=type(exc).__name__, retry_s=_RETRY_S)
                self._stopped.wait(_RETRY_S)

    def _follow(self, positions: dict[TopicPartition, int]) -> None:
        """Read the topics from the window's start (or where a failed read left off)."""
        consumer = assigned_consumer(
            self.client_config, list(self.kinds), hint=" (the partner's scores and alerts topics)"
        )
        try:
            partitions = list(consumer.assignment())
            starts = consumer.beginning_offsets(partitions)
            ends = consumer.end_offsets(partitions)
            for tp in partitions:
                back = ends[tp] - self.window.limits[self.kinds[tp.topic]]
                consumer.seek(tp, positions.get(tp, max(starts[tp], back)))
            while not self._stopped.is_set():
                polled = consumer.poll(timeout_ms=500, max_records=_BATCH)
                batch = [
                    (self.kinds[tp.topic], _score(record))
                    for tp, records in polled.items()
                    for record in records
                ]
                if batch and not self._hand_over(batch):
                    return  # the page is stopping
                for tp, records in polled.items():
                    if records:
                        positions[tp] = records[-1].offset + 1
        finally:
            consumer.close()

    def _hand_over(self, batch: list[tuple[Kind, Score | None]]) -> bool:
        """Have the event loop add ``batch``, once fewer than ``_IN_FLIGHT`` batches wait for it
        (the reader waits meanwhile); False if the page stopped first, or its loop closed."""
        while not self._handoff.acquire(timeout=_WAIT_S):
            if self._stopped.is_set():
                return False
        with contextlib.suppress(RuntimeError):  # the loop closed: the page is stopping
            if self._loop is not None:  # known before the reader starts
                self._loop.call_soon_threadsafe(self._add, batch)
                return True
        self._handoff.release()
        self._stopped.set()
        return False


def _score(record: Any) -> Score | None:
    """The score ``record`` holds; None (logged by its position only) if it holds none the
    page can show: not a score (a tombstone neither), or a score, threshold or time that is
    not a finite number."""
    try:
        score = Score.from_bytes(record.value or b"")
    except SchemaError as exc:
        error = type(exc).__name__
    else:
        if shown(score):
            return score
        error = "NotFinite"
    where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    _log.warning("alerts_page_record_skipped", error=error, **where)
    return None


def _event(update: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(update) + b"\n\n"


def _end(queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Make the event stream reading ``queue`` end (after dropping what it has not sent)."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)


@web.middleware
async def _only_known_hosts(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse a request whose Host is a public name (DNS rebinding: see ``host_allowed``)."""
    if not host_allowed(request.headers.get("Host")):
        return web.Response(
            status=403,
            text="this page answers to localhost, an IP address or a cluster name only\n",
        )
    response: web.StreamResponse = await handler(request)
    return response


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_HEADERS)


class _PageService(Service):
    """The page as a child service of a Faust app: started and stopped with it."""

    def __init__(self, page: AlertsPage) -> None:
        self.page = page
        super().__init__()

    async def on_start(self) -> None:
        await self.page.start()

    async def on_stop(self) -> None:
        await self.page.stop()


def attach(app: faust.App, page: AlertsPage) -> None:
    """Serve ``page`` while ``app`` runs (the partner's worker)."""
    app.add_dependency(_PageService(page))


def serve_page(page: AlertsPage, on_ready: Callable[[str], None]) -> None:
    """Serve ``page`` in the foreground until SIGINT or SIGTERM; ``on_ready(url)`` once it
    listens (``fraudstream alerts --serve``)."""

    async def run() -> None:
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stopped.set)
        await page.start()
        try:
            on_ready(page.url)
            await stopped.wait()
        finally:
            await page.stop()

    asyncio.run(run())
