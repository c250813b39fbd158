"""The worker's web pages (Faust serves them on FRAUD_WEB_HOST:FRAUD_WEB_PORT, 6066 by default):

- ``GET /ready``: 200 when the worker can do its work, 503 before, with a JSON body saying what it
  waits for (the readiness probe);
- ``GET /live``: 200 while the worker's event loop answers (the liveness probe);
- ``GET /metrics``: Prometheus metrics from Faust's sensor (messages received and sent per
  topic, event latency, commit latency, table operations, rebalances). Counts and timings only:
  no payload, key or score is ever a label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CollectorRegistry

__all__ = ["add_web_pages"]


def add_web_pages(app: faust.App, readiness: Callable[[], dict[str, Any]]) -> None:
    """Serve ``readiness()`` at ``/ready`` (its ``ready`` item decides the status code),
    ``/live`` and ``/metrics``."""

    async def ready(web: Any, request: Any) -> Any:
        state = readiness()
        return web.json(state, status=200 if state.get("ready") else 503)

    async def live(web: Any, request: Any) -> Any:
        return web.json({"alive": True})

    app.page("/ready")(ready)
    app.page("/live")(live)
    # One registry per app: several apps may live in one process (tests) and the default
    # registry refuses a metric registered twice.
    setup_prometheus_sensors(app, registry=CollectorRegistry(), name_prefix="fraudstream")
