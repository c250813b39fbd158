"""CPU seconds the processes of a run used over one phase of it, each with its children.

A scorer's CPU is mostly its FHE pool's (spawned child processes), so each process is counted
with its descendants alive at both ends of the phase, except the other measured processes and
theirs (a bench's workers are its own children); a child that ended within the phase is not
counted (the pool's processes live as long as the scorer).
"""

from __future__ import annotations

import psutil

__all__ = ["CpuMeter"]


def _cpu_seconds(pid: int | None, others: frozenset[int] = frozenset()) -> float:
    """User and system seconds of ``pid`` and its live descendants (0 when it is gone), leaving
    out the processes ``others`` and their descendants (measured on their own)."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        family = [root]
        for child in root.children(recursive=True):
            if not _below(child, pid) & others:
                family.append(child)
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in family:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _below(child: psutil.Process, root: int) -> set[int]:
    """``child`` and its ancestors up to ``root``, ``root`` left out: whether another measured
    process stands between them (``root``'s own ancestors, a bench above its scorer, do not)."""
    lineage = {child.pid}
    for parent in child.parents():
        if parent.pid == root:
            break
        lineage.add(parent.pid)
    return lineage


class CpuMeter:
    """CPU seconds of named processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        """Measure ``pids`` (name → pid; None: not running, counted as 0)."""
        self.pids = pids
        self._before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        roots = {pid for pid in self.pids.values() if pid is not None}
        return {
            name: _cpu_seconds(pid, frozenset(roots - {pid})) for name, pid in self.pids.items()
        }

    def start(self) -> None:
        """Mark the phase's start."""
        self._before = self._now()

    def stop(self) -> dict[str, float]:
        """CPU seconds each process used since :meth:`start`, with its children but not the
        other measured processes among them (the bench's workers are its children)."""
        now = self._now()
        return {name: max(0.0, now[name] - self._before.get(name, 0.0)) for name in self.pids}
