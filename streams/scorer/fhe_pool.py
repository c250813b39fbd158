"""The scorer's FHE evaluation processes, each evaluation with a time limit.

A pool of spawned processes (nothing of the worker's event loop is inherited), so the CPU-bound
circuit never blocks the event loop. Each process holds one
:class:`~models.fhe.server.ScoringServer` and loads a partner's evaluation keys from the key
follower's local store (``<key id>.keys``) the first time a request needs them. Only
:mod:`models.fhe.server` runs here: never the client side (secret keys).

Pebble's process pool runs them: an evaluation past its time limit has its process killed
(SIGTERM, SIGKILL 3 s later) and replaced, which ``concurrent.futures`` cannot do (a hung
process would hold the pool, and the scorer's partition, for ever). A request whose evaluation
timed out or whose process died is tried once more; a second failure raises
:class:`~streams.core.errors.EvaluationError` and the agent dead-letters the request with the
reason. :meth:`FhePool.health` is what ``/ready`` and ``/metrics`` say about the pool.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path
from typing import Any

from pebble import ProcessExpired, ProcessPool

from models.fhe.artifacts import ServerArtifact
from models.fhe.server import ScoringServer
from streams.core.errors import EvaluationError
from streams.runtime.faults import fault_point
from streams.runtime.logs import get_logger

__all__ = ["FhePool"]

_log = get_logger(__name__)

# --- inside each pool process ---------------------------------------------------------------
_server: ScoringServer | None = None
_keys_dir: Path | None = None


def _init(model_dir: str, keys_dir: str, max_keys: int) -> None:
    global _server, _keys_dir  # noqa: PLW0603  (one server per pool process)
    _server = ScoringServer(ServerArtifact.load(Path(model_dir)), max_keys=max_keys)
    _keys_dir = Path(keys_dir)


def _loaded() -> tuple[ScoringServer, Path]:
    if _server is None or _keys_dir is None:
        msg = "pool process was not initialised"
        raise RuntimeError(msg)
    return _server, _keys_dir


def _warm_up() -> str:
    """Called once per process at start so the circuit is loaded before the first request."""
    return _loaded()[0].model_version


def _evaluate(envelope: bytes, key_id: str) -> tuple[bytes, float]:
    """Evaluate one encrypted request; return the verdict envelope and the FHE seconds."""
    server, keys_dir = _loaded()
    if key_id not in server.known_keys():
        server.add_evaluation_keys(key_id, (keys_dir / f"{key_id}.keys").read_bytes())
    verdict = server.evaluate(envelope)
    return verdict.envelope, verdict.seconds


# --- in the worker --------------------------------------------------------------------------
class FhePool:
    """``processes`` evaluation processes for the model in ``model_dir``, loading keys from
    ``keys_dir``; each evaluation has ``timeout`` seconds (a fresh process's loading of the
    circuit and keys included)."""

    def __init__(
        self,
        model_dir: Path,
        keys_dir: Path,
        processes: int,
        max_keys: int = 16,
        timeout: float = 120.0,
    ) -> None:
        """Nothing starts until :meth:`warm_up` or the first :meth:`evaluate`."""
        self.model_dir = model_dir
        self.keys_dir = keys_dir
        self.processes = processes
        self.max_keys = max_keys
        self.timeout = timeout
        self.ready = False
        self._executor: ProcessPool | None = None
        self._in_flight: dict[int, float] = {}
        self._ids = itertools.count()
        self.timeouts = 0
        self.expired = 0

    def _pool(self) -> ProcessPool:
        if self._executor is None or not self._executor.active:
            self._executor = ProcessPool(
                max_workers=self.processes,
                initializer=_init,
                initargs=(str(self.model_dir), str(self.keys_dir), self.max_keys),
                context=multiprocessing.get_context("spawn"),
            )
        return self._executor

    async def _run(self, function: Any, *args: Any) -> Any:
        """``function(*args)`` in a pool process, within the time limit."""
        token = next(self._ids)
        self._in_flight[token] = time.monotonic()
        try:
            future = self._pool().schedule(function, args=args, timeout=self.timeout)
            if function is _evaluate:
                fault_point("scorer.during_evaluation")
            return await asyncio.wrap_future(future)
        finally:
            del self._in_flight[token]

    async def warm_up(self) -> str:
        """Start every process and load the circuit; return the model version they hold."""
        versions = await asyncio.gather(*(self._run(_warm_up) for _ in range(self.processes)))
        self.ready = True
        return str(versions[0])

    async def evaluate(self, envelope: bytes, key_id: str) -> tuple[bytes, float]:
        """The verdict envelope of one request and the FHE seconds. An evaluation that hangs
        past the time limit, or whose process dies, is tried once more in a fresh process (a
        fault of the process, not of the request, must not cost a verdict); twice is the
        request's: :class:`EvaluationError`."""
        problems = []
        for attempt in (1, 2):
            try:
                verdict, seconds = await self._run(_evaluate, envelope, key_id)
            except FutureTimeoutError:
                self.timeouts += 1
                problems.append(f"no verdict within {self.timeout:g} s (process replaced)")
            except ProcessExpired as exc:
                self.expired += 1
                problems.append(f"the evaluation process died (exit code {exc.exitcode})")
            else:
                return verdict, seconds
            _log.warning("evaluation_failed", attempt=attempt, key_id=key_id, reason=problems[-1])
        msg = f"FHE evaluation failed twice: {'; '.join(problems)}"
        raise EvaluationError(msg)

    def health(self) -> dict[str, Any]:
        """The pool's state: whether an evaluation runs past its time limit (the process
        should have been replaced: the pool is hung), evaluations in flight and their oldest
        age, time-outs and dead processes so far."""
        now = time.monotonic()
        oldest = max((now - started for started in self._in_flight.values()), default=0.0)
        return {
            "hung": oldest > self.timeout + 10.0,  # the kill takes 3 s at most, then a restart
            "in_flight": len(self._in_flight),
            "oldest_in_flight_s": round(oldest, 1),
            "timeouts": self.timeouts,
            "processes_died": self.expired,
        }

    def shutdown(self) -> None:
        """Stop the processes (an evaluation running is abandoned: its request was not
        committed and is evaluated again after the restart)."""
        if self._executor is not None:
            self._executor.stop()  # type: ignore[no-untyped-call]
            self._executor.join(timeout=10)
            self._executor = None
