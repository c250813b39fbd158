"""The worker's web page for probes: ``GET /ready`` answers 200 when the worker can do its work,
503 before, with a JSON body saying what it waits for. (Faust serves it on FRAUD_WEB_PORT.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust

__all__ = ["add_ready_page"]


def add_ready_page(app: faust.App, readiness: Callable[[], dict[str, Any]]) -> None:
    """Serve ``readiness()`` at ``/ready``; its ``ready`` item decides the status code."""

    async def ready(web: Any, request: Any) -> Any:
        state = readiness()
        return web.json(state, status=200 if state.get("ready") else 503)

    app.page("/ready")(ready)
