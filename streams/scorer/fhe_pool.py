"""The scorer's FHE evaluation processes: a process pool, so the CPU-bound circuit never blocks
the worker's event loop.

Each pool process holds one :class:`~models.fhe.server.ScoringServer` and loads a partner's
evaluation keys from the registry's local store (``<key id>.keys``) the first time a request needs
them. Only
:mod:`models.fhe.server` runs here: never :mod:`models.fhe.client.keys`.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

__all__ = ["evaluate", "start_pool", "warm_up"]

_server = None
_keys_dir: Path | None = None


def _init(model_dir: str, keys_dir: str, max_keys: int) -> None:
    global _server, _keys_dir  # noqa: PLW0603  (one server per pool process)
    from models.fhe.artifacts import ServerArtifact  # noqa: PLC0415
    from models.fhe.server import ScoringServer  # noqa: PLC0415

    _server = ScoringServer(ServerArtifact.load(Path(model_dir)), max_keys=max_keys)
    _keys_dir = Path(keys_dir)


def start_pool(
    model_dir: Path, keys_dir: Path, processes: int, max_keys: int = 16
) -> ProcessPoolExecutor:
    """A pool of ``processes`` evaluation processes (spawned: no state inherited from the
    worker's event loop)."""
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init,
        initargs=(str(model_dir), str(keys_dir), max_keys),
    )


def warm_up() -> str:
    """Called once per process at start so the circuit is loaded before the first request."""
    assert _server is not None, "pool process was not initialised"  # noqa: S101
    return _server.model_version


def evaluate(request: bytes, key_id: str) -> tuple[bytes, float]:
    """Evaluate one encrypted request; return the verdict envelope and the FHE seconds."""
    assert _server is not None, "pool process not initialised"  # noqa: S101
    assert _keys_dir is not None, "pool process not initialised"  # noqa: S101
    if key_id not in _server.known_keys():
        _server.add_evaluation_keys(key_id, (_keys_dir / f"{key_id}.keys").read_bytes())
    verdict = _server.evaluate(request)
    return verdict.envelope, verdict.seconds
