"""``fraudstream bench pool``: a scorer's evaluation capacity by pool processes and threads.

For each combination of FHE pool processes P and OpenMP threads per process T, the scorer's own
:class:`~streams.scorer.fhe_pool.FhePool` (started fresh, warmed up with one evaluation per
process) evaluates the same encrypted requests with P in flight, as the scorer's agent keeps
them. Reported per combination: evaluations per second, per core of this machine, the median
time of one evaluation (its process's FHE seconds), and bootstraps per second per core (the
model's programmable bootstraps, from its card, times evaluations per second, over the cores).
No broker: this is the ceiling the scorer's pipeline runs under (``bench pipeline`` measures the
pipeline against it).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.scorer.fhe_pool import FhePool

__all__ = ["PoolPoint", "PoolSweep", "measure_pool", "random_rows"]


@dataclass(frozen=True)
class PoolPoint:
    """One combination's result."""

    processes: int
    threads: int
    evaluations: int
    seconds: float
    fhe_seconds: tuple[float, ...]

    @property
    def per_second(self) -> float:
        """Evaluations per second."""
        return self.evaluations / self.seconds


@dataclass(frozen=True)
class PoolSweep:
    """Every combination measured, on ``cores`` cores, for a model of ``bootstraps`` PBS."""

    model_version: str
    bootstraps: int | None
    cores: int
    points: tuple[PoolPoint, ...]

    def markdown(self) -> str:
        """The result as a Markdown table (docs/benchmarks.md's pool block)."""
        pbs = (
            "its bootstraps are not on its card"
            if self.bootstraps is None
            else f"{self.bootstraps} programmable bootstraps per evaluation"
        )
        rows = [
            f"Model `{self.model_version}` ({pbs}) on {self.cores} cores.",
            "",
            "| processes x threads | evaluations/s | per core | one evaluation p50 (s) | "
            "bootstraps/s per core |",
            "|---|---|---|---|---|",
        ]
        for p in self.points:
            threads = "all" if p.threads == 0 else str(p.threads)
            per_core = p.per_second / self.cores
            pbs_rate = "-" if self.bootstraps is None else f"{per_core * self.bootstraps:.0f}"
            rows.append(
                f"| {p.processes} x {threads} | {p.per_second:.2f} | {per_core:.2f} | "
                f"{statistics.median(p.fhe_seconds):.2f} | {pbs_rate} |"
            )
        return "\n".join(rows)


def _bootstraps(model_dir: Path) -> int | None:
    """The circuit's programmable bootstraps as its card records them (a trained model's card
    does; a card without them gives none)."""
    card = json.loads((model_dir / "model_card.json").read_text())
    circuit = card.get("circuit") or {}
    count = circuit.get("programmable_bootstraps")
    return None if count is None else int(count)


async def _measure(
    pool: FhePool, requests: Sequence[bytes], key_id: str, model: str
) -> tuple[float, list[float]]:
    """Warm every process up with one evaluation, then time ``requests`` with as many in
    flight as the pool has processes; the seconds and each evaluation's FHE seconds."""
    await pool.warm_up()
    await asyncio.gather(
        *(pool.evaluate(requests[0], key_id, model) for _ in range(pool.processes))
    )
    slots = asyncio.Semaphore(pool.processes)

    async def one(request: bytes) -> float:
        async with slots:
            _, seconds = await pool.evaluate(request, key_id, model)
            return seconds

    started = time.perf_counter()
    fhe = await asyncio.gather(*(one(request) for request in requests))
    return time.perf_counter() - started, list(fhe)


def random_rows(client: ClientArtifact, n: int) -> list[list[float]]:
    """``n`` random rows of the model's features (the same for every call): they cost what real
    transactions cost, since an FHE circuit runs the same operations whatever its inputs."""
    rows = np.random.default_rng(0).uniform(0, 200, size=(n, len(client.feature_names)))
    return [list(map(float, row)) for row in rows]


def measure_pool(
    model_dir: Path,
    combinations: Sequence[tuple[int, int]],
    evaluations: int,
    say: Callable[[str], None],
) -> PoolSweep:
    """Measure ``evaluations`` evaluations for each (processes, threads) in ``combinations``
    (threads 0: Concrete's default)."""
    client = ClientArtifact.load(model_dir)
    rows = random_rows(client, evaluations)
    points = []
    with tempfile.TemporaryDirectory(prefix="fraudstream-pool-bench-") as tmp:
        work = Path(tmp)
        keys = PartnerKeys.generate(client, work / "partner", "alpha")
        keys_dir = work / "keys"
        keys_dir.mkdir()
        (keys_dir / f"{keys.key_id}.keys").write_bytes(keys.evaluation_keys())
        requests = [keys.encrypt(row) for row in rows]
        for processes, threads in combinations:
            shown = "all" if threads == 0 else threads
            say(f"{processes} process(es) x {shown} thread(s): {evaluations} evaluations…")
            pool = FhePool(model_dir, keys_dir, processes, threads=threads, timeout=600.0)
            try:
                seconds, fhe = asyncio.run(_measure(pool, requests, keys.key_id, client.version))
            finally:
                pool.shutdown()
            point = PoolPoint(processes, threads, evaluations, seconds, tuple(fhe))
            say(f"  {point.per_second:.2f} evaluations/s")
            points.append(point)
    cores = len(os.sched_getaffinity(0))
    return PoolSweep(client.version, _bootstraps(model_dir), cores, tuple(points))
