"""Lower the CPU priority of the processes a bench runs beside the one it measures.

On the bench's machine the broker and the partner's worker share the scorer's cores; in a
deployment they run elsewhere (the Kafka cluster, the partner's own site). At the scorer's
priority, each of their wake-ups can take a core from one of the circuit's OpenMP threads while
the other thread waits for it at the next barrier, so their few percent of the CPU cost the
evaluation more than their share (docs/benchmarks.md). At a high nice value they take the cycles
the scorer leaves idle, as separate machines (or a Kubernetes CPU request) would keep them from
its cores.

Linux has two levels to set. With autogroup on (``/proc/sys/kernel/sched_autogroup_enabled``),
the scheduler first shares the CPU between sessions, and every worker and the broker start in a
session of their own: a thread's nice then weighs only inside its session, and the session's nice
(``/proc/<pid>/autogroup``) against the others. Without autogroup, each thread's nice weighs
directly. Both are set: the nice of every thread of the process and of its descendants (threads
started later inherit it from the thread that starts them), and its session's. Raising a
thread's nice needs no privilege (lowering it again would). Without CAP_SYS_ADMIN the kernel takes
one autogroup change per 100 ms on the whole machine and refuses others with EAGAIN: they are
tried again after that.

Lower still, on request (``idle``): the kernel's idle scheduling class (``SCHED_IDLE``) for each
of those threads. A nice value only weighs a thread's share; a thread of the idle class is also
preempted at once by any other thread that wakes on its core, so a circuit thread back from a
barrier never waits behind it. Entering that class needs no privilege either (leaving it may).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["Lowered", "autogroup_enabled", "lower_all", "lower_priority", "process_family"]

_AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")


def autogroup_enabled(switch: Path = _AUTOGROUP_SWITCH) -> bool:
    """Whether the kernel shares the CPU between sessions first (its autogroup feature)."""
    try:
        return switch.read_text().strip() == "1"
    except OSError:  # a kernel built without it
        return False


@dataclass(frozen=True)
class Lowered:
    """What :func:`lower_priority` set: threads, and sessions (autogroups)."""

    threads: int = 0
    sessions: int = 0

    def __str__(self) -> str:
        return f"{self.threads} threads, {self.sessions} sessions"


def lower_priority(pid: int, nice: int, *, idle: bool = False) -> Lowered:
    """Give every thread of ``pid`` and of its descendants the nice value ``nice`` (0-19) unless
    it is already that low, and the idle scheduling class if ``idle``, and its session's
    autogroup the nice value too unless that session is this process's; say what was set.
    Processes that end on the way, and threads this process may not change, are left out;
    ``nice`` 0 without ``idle`` changes nothing (the default for every process)."""
    if not 0 <= nice <= 19:  # nice's range
        msg = f"a nice value that lowers priority is 0 to 19, not {nice}"
        raise ValueError(msg)
    if nice == 0 and not idle:
        return Lowered()
    family = process_family([pid])
    done: set[int] = set()
    # Twice: a thread started during the first pass by a thread not yet set inherits the old
    # value (a worker's threads are all up once it is ready; this only closes the race).
    for _ in range(2):
        for process in family:
            with contextlib.suppress(psutil.Error):
                for thread in process.threads():
                    done.update(_lower_thread(thread.id, nice, idle=idle))
    sessions = set()
    if nice and autogroup_enabled():
        for process in family:  # one session each, usually the same one
            with contextlib.suppress(OSError):
                session = os.getsid(process.pid)
                if session != os.getsid(0) and session not in sessions:  # never our own
                    _set_autogroup(Path(f"/proc/{process.pid}/autogroup"), nice)
                    sessions.add(session)
    return Lowered(len(done), len(sessions))


def process_family(pids: Iterable[int]) -> list[psutil.Process]:
    """The processes ``pids`` and their descendants (a scorer's FHE pool), the gone left out."""
    found: list[psutil.Process] = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            found += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def lower_all(pids: Iterable[int | None], nice: int, *, idle: bool = False) -> Lowered:
    """:func:`lower_priority` of each process of ``pids`` (None: none), summed."""
    each = [lower_priority(pid, nice, idle=idle) for pid in pids if pid is not None]
    return Lowered(sum(e.threads for e in each), sum(e.sessions for e in each))


def _lower_thread(tid: int, nice: int, *, idle: bool = False) -> set[int]:
    """``{tid}`` once the thread's nice is at least ``nice`` (and, if ``idle``, it is of the idle
    scheduling class); empty if it is gone or not ours."""
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        if idle and os.sched_getscheduler(tid) != os.SCHED_IDLE:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (ProcessLookupError, PermissionError):
        return set()
    return {tid}


def _set_autogroup(path: Path, nice: int, tries: int = 5) -> None:
    """Write a session's autogroup nice to its ``/proc/<pid>/autogroup`` file; EAGAIN (the
    kernel's one change per 100 ms for unprivileged users) is tried again after that long;
    other errors are raised."""
    for attempt in range(tries):
        try:
            path.write_text(str(nice))
        except BlockingIOError:  # EAGAIN
            if attempt == tries - 1:
                raise
            time.sleep(0.11)
        else:
            return
