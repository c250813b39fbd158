"""``fraudstream bench memory``: a scorer evaluation process's memory with N partners' keys held.

The scorer's main process keeps every partner's evaluation keys as files (its key follower
writes them to disk); each FHE pool process deserializes the keys it needs and holds them (at
most 16 per process, :class:`~streams.scorer.fhe_pool.FhePool`'s ``max_keys``; least recently
used first out). So the memory that grows with partners is a pool process's. This bench makes
the keys of ``max(counts)`` partners in this process, then starts a fresh process (spawned, as
the pool does) that loads the model's circuit, adds the key sets one by one and evaluates one
request under each (a key set is only fully materialized once used), and reports its resident
memory with 0 key sets and after each count.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from models.fhe.artifacts import ClientArtifact, ServerArtifact
from models.fhe.client.keys import PartnerKeys
from models.fhe.server import ScoringServer

__all__ = ["KeyMemory", "measure_key_memory"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class KeyMemory:
    """Resident memory of one evaluation process by number of key sets held."""

    model_version: str
    key_bytes: int
    rss_mb: dict[int, float]

    def markdown(self) -> str:
        """The result as a Markdown table (docs/benchmarks.md's memory block)."""
        base = self.rss_mb[0]
        rows = [
            f"Model `{self.model_version}`; one serialized evaluation key set: "
            f"{self.key_bytes / _MB:.1f} MB.",
            "",
            "| key sets held | RSS of the evaluation process (MB) | above 0 keys (MB) | "
            "per key set (MB) |",
            "|---|---|---|---|",
        ]
        for count, rss in sorted(self.rss_mb.items()):
            per = f"{(rss - base) / count:.1f}" if count else "-"
            rows.append(f"| {count} | {rss:.0f} | {rss - base:.0f} | {per} |")
        return "\n".join(rows)


def _child(
    model_dir: str, key_files: Sequence[tuple[str, str]], requests: Sequence[bytes],
    counts: Sequence[int], out: multiprocessing.queues.Queue,  # type: ignore[type-arg]
) -> None:  # fmt: skip
    """In the spawned process: load the circuit, then the key sets one by one; after each
    count in ``counts``, put (count, RSS MB) on ``out``."""
    process = psutil.Process()
    server = ScoringServer(ServerArtifact.load(Path(model_dir)), max_keys=len(key_files))
    out.put((0, process.memory_info().rss / _MB))
    for held, ((key_id, path), request) in enumerate(zip(key_files, requests, strict=True), 1):
        server.add_evaluation_keys(key_id, Path(path).read_bytes())
        server.evaluate(request)
        if held in counts:
            out.put((held, process.memory_info().rss / _MB))


def measure_key_memory(
    model_dir: Path, counts: Sequence[int], say: Callable[[str], None]
) -> KeyMemory:
    """Make ``max(counts)`` partners' keys, then measure a fresh evaluation process holding
    0 and each of ``counts`` key sets (see the module docstring)."""
    client = ClientArtifact.load(model_dir)
    wanted = sorted(set(counts))
    row = np.zeros(len(client.feature_names))
    with tempfile.TemporaryDirectory(prefix="fraudstream-key-memory-") as tmp:
        work = Path(tmp)
        key_files, requests = [], []
        for n in range(wanted[-1]):
            keys = PartnerKeys.generate(client, work / f"p{n}", f"p{n}")
            path = work / f"{keys.key_id}.keys"
            path.write_bytes(keys.evaluation_keys())
            key_files.append((keys.key_id, str(path)))
            requests.append(keys.encrypt(row))
            say(f"keys made for {n + 1} of {wanted[-1]} partners")
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        child = context.Process(
            target=_child, args=(str(model_dir), key_files, requests, wanted, out)
        )
        child.start()
        rss: dict[int, float] = {}
        try:
            while len(rss) < len(wanted) + 1:
                count, mb = out.get(timeout=1800)
                rss[count] = mb
                say(f"{count} key sets held: {mb:.0f} MB")
        finally:  # interrupted or timed out: the child is not left to finish on its own
            if len(rss) < len(wanted) + 1:
                child.terminate()
            child.join()
        key_bytes = Path(key_files[0][1]).stat().st_size
    return KeyMemory(client.version, key_bytes, rss)
