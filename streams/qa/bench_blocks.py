"""``bench pipeline --blocks B``: (a) and (b) interleaved, the pipeline stopped while (a) runs.

Measuring (a) once before (b) and once after cancels a steady drift of the machine's speed, not
a slow spell inside (b): on the 2-core development machine such spells made single runs' ratios
fall to 0.85 while every process of (b) took more CPU for the same work (docs/benchmarks.md).
With B blocks the timed transactions go to (b) in B equal blocks, each between two blocks of as
many bare evaluations, (a) (b) (a) ... (b) (a), so that a spell longer than a block falls on both.
Each block of (b) is compared with the mean of the two blocks of (a) around it.

While a block of (a) runs, every process of (b) (broker, scorer with its FHE pool, partner) is
stopped with SIGSTOP and continued afterwards (psutil's ``suspend``/``resume``): the bare loop has
the machine to itself, as when it runs before the broker starts, and no idle worker's timer
takes a share of it. A block of (b) starts only when every score of the one before is in, so
nothing is in flight while they are stopped; the bench gives its broker and workers session
timeouts of a minute, so that a pause (at most :data:`MAX_PAUSE_S`; longer blocks are refused)
never looks like a failure to them. Each block of (b) starts :data:`SETTLE_AFTER_PAUSE_S` after
its processes are continued, once their catch-up after the pause is over. Each worker's log
says "Thread keepalive is not responding..." once after each pause: the watchdog of Faust's
consumer thread (mode's ``ServiceThread``) saw the stop and only logs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from models.fhe.artifacts import ClientArtifact, ServerArtifact
from models.fhe.server import ScoringServer
from streams.core.errors import ConfigError
from streams.qa.cpu_priority import process_family
from streams.qa.pool_bench import random_rows

__all__ = [
    "MAX_PAUSE_S",
    "PAUSE_TIMEOUTS",
    "SETTLE_AFTER_PAUSE_S",
    "BareBlocks",
    "bare_server",
    "block_seconds",
    "check_pause",
    "paused",
    "timed_evaluations",
]

#: Session timeouts of a bench whose (b) is paused: the broker's own (KRaft fences a broker
#: whose heartbeats stop for 9 s by default) and the workers' consumer groups (10 s).
PAUSE_TIMEOUTS = {"broker_session_timeout_ms": 60_000, "worker_session_timeout_s": 60.0}
#: The longest block of (a), so the longest pause of (b), the bench runs: well under those.
MAX_PAUSE_S = 40.0
#: Seconds between continuing (b) and its block's first send. A process continued after a pause
#: catches up at once (timers due, the broker's expired waits): the broker used 0.07-0.09 CPU s
#: in the first 0.5 s after a 20 s pause against 0.01-0.02 at rest (docs/benchmarks.md). That is
#: the pause's doing, not the pipeline's, so it happens before the block's clock starts.
SETTLE_AFTER_PAUSE_S = 1.0


@dataclass
class BareBlocks:
    """(a) in blocks: one server with its keys loaded and warmed up, and the encrypted requests
    of every block, evaluated a block at a time by :meth:`run_next`."""

    server: ScoringServer
    requests: list[Any]
    per_block: int
    blocks: int
    #: Seconds of each block run so far.
    seconds: list[float] = field(default_factory=list)
    #: CPU seconds of every thread of this process over the blocks run so far.
    cpu_seconds: float = 0.0

    @classmethod
    def prepared(  # noqa: PLR0917  (the blocks' shape and the keys they run under)
        cls,
        model_dir: Path,
        client: ClientArtifact,
        keys: Any,
        blocks: int,
        per_block: int,
        warmup: int,
    ) -> BareBlocks:
        """A server for ``blocks + 1`` blocks of ``per_block`` evaluations after ``warmup``
        untimed ones (run here). The rows are random: a circuit's operations do not depend on
        its inputs."""
        server = bare_server(model_dir, keys)
        rows = random_rows(client, warmup + (blocks + 1) * per_block)
        requests = [keys.encrypt(row) for row in rows]
        server.evaluate(requests[0])  # the first, under a new key, also loads the keys
        started = time.perf_counter()
        for request in requests[1:warmup]:
            server.evaluate(request)
        check_pause((time.perf_counter() - started) / max(1, warmup - 1), per_block)
        return cls(server, requests[warmup:], per_block, blocks)

    def run_next(self) -> None:
        """Evaluate the next block's requests, one after the other, timing them."""
        start = len(self.seconds) * self.per_block
        block = self.requests[start : start + self.per_block]
        if len(block) < self.per_block:
            msg = f"all {len(self.seconds)} blocks of (a) have run"
            raise RuntimeError(msg)
        seconds, cpu_seconds = timed_evaluations(self.server, block)
        self.seconds.append(seconds)
        self.cpu_seconds += cpu_seconds

    def measured(
        self, sent_ms: list[float], scored_ms: list[float]
    ) -> tuple[tuple[float, ...], tuple[float, ...], float]:
        """Seconds of each block of (b) (from its first send to its last score; the timed
        transactions' send and score times in send order), of each block of (a), and (a)'s CPU
        seconds per evaluation."""
        pipeline = tuple(block_seconds(sent_ms, scored_ms, self.blocks))
        evaluations = len(self.seconds) * self.per_block
        return pipeline, tuple(self.seconds), self.cpu_seconds / evaluations


def check_pause(each_s: float, per_block: int) -> None:
    """Refuse blocks of (a) that would stop (b) for longer than :data:`MAX_PAUSE_S`, given one
    evaluation's seconds (measured over the warm-up)."""
    if each_s * per_block > MAX_PAUSE_S:
        msg = (
            f"a block of {per_block} evaluations would stop (b) for about "
            f"{each_s * per_block:.0f} s, over the {MAX_PAUSE_S:g} s its timeouts allow: "
            "ask for more --blocks"
        )
        raise ConfigError(msg)


def bare_server(model_dir: Path, keys: Any) -> ScoringServer:
    """A scoring server in this process, holding ``keys``' evaluation keys: (a)'s."""
    server = ScoringServer(ServerArtifact.load(model_dir))
    server.add_evaluation_keys(keys.key_id, keys.evaluation_keys())
    return server


def timed_evaluations(server: ScoringServer, requests: Sequence[Any]) -> tuple[float, float]:
    """Seconds of evaluating ``requests`` one after the other, and the CPU seconds they took
    (every thread of this process: the circuit's OpenMP threads)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for request in requests:
        server.evaluate(request)
    return time.perf_counter() - started, time.process_time() - cpu_started


@contextmanager
def paused(pids: Iterable[int], say: Callable[[str], None] | None = None) -> Iterator[None]:
    """``pids`` and their descendants stopped (SIGSTOP) inside the block, continued (SIGCONT)
    when it ends, however it ends, in the reverse order (the broker, named first, last to stop
    and first to go on)."""
    family = process_family(pids)
    stopped: list[psutil.Process] = []
    try:
        for process in reversed(family):
            try:
                process.suspend()
            except psutil.NoSuchProcess:
                continue
            stopped.append(process)
        _wait_stopped(stopped)
        yield
    finally:
        # Every one, not only those known stopped: an interrupt may come between a suspend and
        # its bookkeeping, and SIGCONT to a running process does nothing. The broker first.
        for process in family:
            try:
                process.resume()
            except psutil.NoSuchProcess:
                if say is not None and process in stopped:
                    say(f"process {process.pid} ended while it was stopped")


def _wait_stopped(processes: list[psutil.Process], timeout: float = 2.0) -> None:
    """Until each process is stopped (a signal is delivered when the process next runs), for at
    most ``timeout`` seconds in all: (a) starts with (b) at rest."""
    deadline = time.monotonic() + timeout
    for process in processes:
        while time.monotonic() < deadline:
            try:
                if process.status() == psutil.STATUS_STOPPED:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.005)


def block_seconds(sent_ms: list[float], scored_ms: list[float], blocks: int) -> list[float]:
    """Seconds of each block of (b): from its first send to its last score. ``sent_ms`` and
    ``scored_ms`` are the timed transactions' in send order, ``blocks`` equal blocks of them."""
    per = len(sent_ms) // blocks
    if per * blocks != len(sent_ms) or len(scored_ms) != len(sent_ms):
        msg = f"{len(sent_ms)} transactions do not make {blocks} equal blocks"
        raise ValueError(msg)
    return [
        (max(scored_ms[i * per : (i + 1) * per]) - sent_ms[i * per]) / 1000 for i in range(blocks)
    ]
