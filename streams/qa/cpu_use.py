"""CPU seconds the processes of a run used over one phase of it, each with its children.

A scorer's CPU is mostly its FHE pool's (spawned child processes), so each process is counted
with its descendants alive at both ends of the phase; a child that ended within the phase is
not counted (the pool's processes live as long as the scorer).
"""

from __future__ import annotations

import psutil

__all__ = ["CpuMeter"]


def _cpu_seconds(pid: int | None) -> float:
    """User and system seconds of ``pid`` and its live descendants (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
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


class CpuMeter:
    """CPU seconds of named processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        """Measure ``pids`` (name → pid; None: not running, counted as 0)."""
        self.pids = pids
        self._before: dict[str, float] = {}

    def start(self) -> None:
        """Mark the phase's start."""
        self._before = {name: _cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        """CPU seconds each process (with its children) used since :meth:`start`."""
        return {
            name: max(0.0, _cpu_seconds(pid) - self._before.get(name, 0.0))
            for name, pid in self.pids.items()
        }
