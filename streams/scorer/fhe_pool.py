"""The scorer's FHE evaluation processes, each evaluation with a time limit.

A pool of spawned processes (nothing of the worker's event loop is inherited), so the CPU-bound
circuit never blocks the event loop. Each process holds one
:class:`~models.fhe.server.ScoringServer` per model version served (``FRAUD_MODEL_DIR`` and
``FRAUD_OTHER_MODEL_DIRS``: during a model change partners send under either) and loads a
partner's evaluation keys into the server of their model from the key follower's local store
(``<key id>.keys``) the first time a request needs them. Only :mod:`models.fhe.server` runs
here: never the client side (secret keys).

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
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path
from typing import Any

from pebble import ProcessExpired, ProcessPool
from threadpoolctl import threadpool_info, threadpool_limits

from models.fhe.artifacts import ServerArtifact
from models.fhe.server import ScoringServer
from streams.core.errors import EvaluationError
from streams.runtime.faults import fault_point
from streams.runtime.logs import get_logger

__all__ = ["FhePool"]

_log = get_logger(__name__)

# --- inside each pool process ---------------------------------------------------------------
_servers: dict[str, ScoringServer] = {}
_keys_dir: Path | None = None
_thread_limit: list[threadpool_limits] = []  # kept: the limit holds while its object lives


def _init(model_dirs: Sequence[str], keys_dir: str, max_keys: int, threads: int) -> None:
    global _keys_dir  # noqa: PLW0603  (one set of servers per pool process)
    for model_dir in model_dirs:
        server = ScoringServer(ServerArtifact.load(Path(model_dir)), max_keys=max_keys)
        _servers[server.model_version] = server
    _keys_dir = Path(keys_dir)
    if threads:
        # Concrete's runtime parallelises a circuit with OpenMP (its own libomp, loaded by
        # now): threadpoolctl sets the thread count of every OpenMP runtime in the process.
        _thread_limit.append(threadpool_limits(limits=threads, user_api="openmp"))


def _openmp_threads() -> list[int]:
    """The thread count of each OpenMP runtime loaded in this pool process."""
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "openmp"]


def _loaded(model_version: str) -> tuple[ScoringServer, Path]:
    if not _servers or _keys_dir is None:
        msg = "pool process was not initialised"
        raise RuntimeError(msg)
    return _servers[model_version], _keys_dir


def _warm_up() -> list[str]:
    """Called once per process at start so the circuits are loaded before the first request."""
    return sorted(_servers)


def _evaluate(envelope: bytes, key_id: str, model_version: str) -> tuple[bytes, float]:
    """Evaluate one encrypted request with the model it was made for; return the verdict
    envelope and the FHE seconds."""
    server, keys_dir = _loaded(model_version)
    if key_id not in server.known_keys():
        server.add_evaluation_keys(key_id, (keys_dir / f"{key_id}.keys").read_bytes())
    verdict = server.evaluate(envelope)
    return verdict.envelope, verdict.seconds


# --- in the worker --------------------------------------------------------------------------
class FhePool:
    """``processes`` evaluation processes for the models in ``model_dirs`` (a folder or
    several: one version each), loading keys from ``keys_dir``; each evaluation has ``timeout``
    seconds (a fresh process's loading of the circuits and keys included). Each process runs
    one evaluation at a time with ``threads`` OpenMP threads (0: Concrete's default, every
    core), so ``processes`` evaluations run at once."""

    def __init__(
        self,
        model_dirs: Path | Sequence[Path],
        keys_dir: Path,
        processes: int,
        *,
        max_keys: int = 16,
        timeout: float = 120.0,
        threads: int = 0,
    ) -> None:
        """Nothing starts until :meth:`warm_up` or the first :meth:`evaluate`."""
        self.model_dirs = (model_dirs,) if isinstance(model_dirs, Path) else tuple(model_dirs)
        self.keys_dir = keys_dir
        self.processes = processes
        self.threads = threads
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
                initargs=(
                    [str(d) for d in self.model_dirs],
                    str(self.keys_dir),
                    self.max_keys,
                    self.threads,
                ),
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

    async def warm_up(self) -> list[str]:
        """Start every process and load the circuits; return the model versions they hold."""
        versions = await asyncio.gather(*(self._run(_warm_up) for _ in range(self.processes)))
        self.ready = True
        return list(versions[0])

    async def openmp_threads(self) -> list[int]:
        """The OpenMP thread counts of a pool process (one per OpenMP runtime it loaded)."""
        counts: list[int] = await self._run(_openmp_threads)
        return counts

    async def evaluate(
        self, envelope: bytes, key_id: str, model_version: str
    ) -> tuple[bytes, float]:
        """The verdict envelope of one request, evaluated by the model ``model_version``
        (one the pool holds), and the FHE seconds. An evaluation that hangs
        past the time limit, or whose process dies, is tried once more in a fresh process (a
        fault of the process, not of the request, must not cost a verdict); twice is the
        request's: :class:`EvaluationError`."""
        problems = []
        for attempt in (1, 2):
            try:
                verdict, seconds = await self._run(_evaluate, envelope, key_id, model_version)
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
