"""The shared scorer's agent: encrypted requests in, encrypted verdicts out, per partner.

The scorer holds evaluation keys (public) and the compiled server circuit, nothing else: it never
imports :mod:`models.fhe.client.keys` (an import-linter contract; the privacy test checks the
running process). A request is the input envelope (model version and key id inside) with the partner
id and the request id in headers; its key is the request id. The verdict goes to
``<root>.<partner>.verdicts.v1`` under the same key. A request that cannot be scored (unknown
partner or key, a key of another partner, another model, a bad ciphertext) is dead-lettered on
``<root>.scoring.deadletter.v1`` with the reason, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from models.errors import KeyMaterialError
from models.fhe.envelope import open_envelope
from streams.core.errors import FraudStreamError, SchemaError
from streams.core.headers import (
    FHE_MS_HEADER,
    PARTNER_HEADER,
    QUEUED_MS_HEADER,
    REQUEST_HEADER,
    header_map,
)
from streams.runtime.app import Runtime
from streams.runtime.dead_letters import dead_letter
from streams.runtime.delivery import deliver
from streams.runtime.logs import get_logger
from streams.runtime.web import add_web_pages
from streams.scorer.fhe_pool import evaluate, start_pool, warm_up
from streams.scorer.registry import RegistryFollower

__all__ = ["ScorerContext", "install_scorer_agents"]

_log = get_logger(__name__)


@dataclass
class ScorerContext:
    """What the scorer's agent holds: the model version, the key registry and the FHE pool."""

    model_dir: Path
    model_version: str
    registry: RegistryFollower
    processes: int
    key_wait: float
    pool: ProcessPoolExecutor | None = None
    evaluators_ready: bool = False

    def readiness(self) -> dict[str, Any]:
        """What the ``/ready`` page shows: ready once the evaluation processes are up and the
        key registry was read to its end."""
        caught_up = self.registry.wait_caught_up(0)
        return {
            "ready": self.evaluators_ready and caught_up and self.registry.error is None,
            "registry_error": None if self.registry.error is None else str(self.registry.error),
            "evaluators_ready": self.evaluators_ready,
            "registry_caught_up": caught_up,
            "model": self.model_version,
            "key_ids": sorted(self.registry.known_key_ids()),
        }

    def ensure_pool(self) -> ProcessPoolExecutor:
        """The evaluation pool, (re)started when needed."""
        if self.pool is None:
            self.pool = start_pool(self.model_dir, self.registry.directory, self.processes)
        return self.pool

    def restart_pool(self) -> None:
        """Drop a broken pool (a process died); the next request starts a new one."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None

    async def wait_for_key(self, key_id: str, partner: str) -> None:
        """Return once ``key_id``'s evaluation keys are stored; raise if they never come.

        Until the registry has been read to its end, the request waits (its keys may be there):
        only then does the ``key_wait`` for a key id nobody published start.
        """
        while not self.registry.wait_caught_up(0):
            if self.registry.error is not None:
                msg = f"the key registry cannot be read: {self.registry.error}"
                raise RegistryUnavailableError(msg)
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + self.key_wait
        known = self.registry.get(key_id)
        while known is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            known = self.registry.get(key_id)
        if known is None:
            msg = f"no evaluation keys for key id {key_id} (waited {self.key_wait:g} s)"
            raise KeyMaterialError(msg)
        if known.partner != partner:
            msg = f"key id {key_id} belongs to another partner, not to {partner}"
            raise KeyMaterialError(msg)


def _addressing(message: Any, partners: Iterable[str]) -> tuple[str, str]:
    """The partner and request id of a request, checked."""
    headers = header_map(message.headers)
    partner = headers.get(PARTNER_HEADER, "")
    request_id = headers.get(REQUEST_HEADER, "")
    if partner not in partners:
        msg = "the request names no partner of this service"
        raise SchemaError(msg)
    if not request_id or message.key != request_id.encode():
        msg = "the request id header is missing or differs from the record key"
        raise SchemaError(msg)
    return partner, request_id


class RegistryUnavailableError(FraudStreamError):
    """The scorer cannot read the key registry (its follower thread failed)."""


async def _evaluate(
    context: ScorerContext, loop: asyncio.AbstractEventLoop, request: bytes, key_id: str
) -> tuple[bytes, float]:
    """Evaluate in the pool; a pool whose process died is replaced and the request tried once
    more (a crash of the process, not of the request, must not cost a verdict)."""
    for attempt in (1, 2):
        try:
            result: tuple[bytes, float] = await loop.run_in_executor(
                context.ensure_pool(), evaluate, request, key_id
            )
        except BrokenProcessPool:
            context.restart_pool()
            _log.warning("evaluation_pool_restarted", attempt=attempt)
            if attempt == 2:
                raise
        else:
            return result
    raise AssertionError  # pragma: no cover  (the loop returns or raises)


def install_scorer_agents(
    app: faust.App, runtime: Runtime, context: ScorerContext
) -> faust.types.AgentT[Any]:
    """Attach the scorer's agent to ``app``; return it."""
    names = runtime.names
    partners = sorted(runtime.limits.partners)
    requests = app.topic(
        names.scoring_requests(), key_serializer="raw", value_serializer="raw", allow_empty=True
    )
    verdicts = {
        p: app.topic(names.verdicts(p), key_serializer="raw", value_serializer="raw")
        for p in partners
    }
    dead = app.topic(names.deadletter("scoring"), key_serializer="raw", value_serializer="raw")

    async def start_evaluators() -> None:
        """Follow the key registry; start the FHE processes before the first request comes."""
        context.registry.start()
        pool = context.ensure_pool()
        loop = asyncio.get_running_loop()
        versions = await asyncio.gather(
            *(loop.run_in_executor(pool, warm_up) for _ in range(context.processes))
        )
        context.evaluators_ready = True
        _log.info("evaluators_ready", processes=context.processes, model=versions[0])

    app.task(start_evaluators)
    add_web_pages(app, context.readiness)

    async def score_requests(stream: faust.StreamT[Any]) -> None:
        """Evaluate each encrypted request and route its encrypted verdict to its partner."""
        loop = asyncio.get_running_loop()
        async for event in stream.events():
            message = event.message
            picked_ms = time.time() * 1000
            try:
                partner, request_id = _addressing(message, verdicts.keys())
                envelope = open_envelope(
                    message.value, "input", model_version=context.model_version
                )
                await context.wait_for_key(envelope.key_id, partner)
                verdict, fhe_seconds = await _evaluate(
                    context, loop, bytes(message.value), envelope.key_id
                )
            except Exception as exc:  # noqa: BLE001  (a bad request must never stop the partition)
                await dead_letter(dead, event, exc)
                continue
            queued_ms = picked_ms - message.timestamp * 1000 if message.timestamp else 0.0
            await deliver(
                verdicts[partner],
                key=message.key,
                value=verdict,
                headers=[
                    (PARTNER_HEADER, partner.encode()),
                    (REQUEST_HEADER, request_id.encode()),
                    (QUEUED_MS_HEADER, f"{queued_ms:.1f}".encode()),
                    (FHE_MS_HEADER, f"{fhe_seconds * 1000:.1f}".encode()),
                ],
            )
            _log.info(
                "request_scored",
                partner=partner,
                request_id=request_id,
                key_id=envelope.key_id,
                fhe_ms=round(fhe_seconds * 1000, 1),
                queued_ms=round(queued_ms, 1),
                partition=message.partition,
                offset=message.offset,
            )

    agent: faust.types.AgentT[Any] = app.agent(requests, name="score_requests", concurrency=1)(
        score_requests
    )
    return agent
