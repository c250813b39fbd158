"""The scorer's FHE evaluation processes: a process pool, so the CPU-bound circuit never blocks
the worker's event loop.

Each pool process holds one :class:`~models.fhe.server.ScoringServer` and loads a partner's
evaluation keys from the key follower's local store (``<key id>.keys``) the first time a request
needs them. Only :mod:`models.fhe.server` runs here: never the client side (secret keys).
Processes are spawned, not forked: nothing of the worker's event loop is inherited.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from models.fhe.artifacts import ServerArtifact
from models.fhe.server import ScoringServer
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
    ``keys_dir``; a pool whose process died is replaced."""

    def __init__(self, model_dir: Path, keys_dir: Path, processes: int, max_keys: int = 16) -> None:
        """Nothing starts until :meth:`warm_up` or the first :meth:`evaluate`."""
        self.model_dir = model_dir
        self.keys_dir = keys_dir
        self.processes = processes
        self.max_keys = max_keys
        self.ready = False
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(str(self.model_dir), str(self.keys_dir), self.max_keys),
            )
        return self._executor

    def _restart(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None

    async def warm_up(self) -> str:
        """Start every process and load the circuit; return the model version they hold."""
        loop = asyncio.get_running_loop()
        pool = self._pool()
        versions = await asyncio.gather(
            *(loop.run_in_executor(pool, _warm_up) for _ in range(self.processes))
        )
        self.ready = True
        return versions[0]

    async def evaluate(self, envelope: bytes, key_id: str) -> tuple[bytes, float]:
        """The verdict envelope of one request and the FHE seconds. A pool whose process died
        is replaced and the request tried once more (a crash of the process, not of the
        request, must not cost a verdict)."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            try:
                return await loop.run_in_executor(self._pool(), _evaluate, envelope, key_id)
            except BrokenProcessPool:
                self._restart()
                _log.warning("evaluation_pool_restarted", attempt=attempt)
                if attempt == 2:
                    raise
        msg = "unreachable: the loop returns or raises"
        raise RuntimeError(msg)

    def shutdown(self) -> None:
        """Stop the processes (waits for the one running evaluation)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
