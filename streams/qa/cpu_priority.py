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
started later inherit it from the thread that starts them), and its session's. Raising a nice
value needs no privilege; lowering it again would, so there is no way back but a new process.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

__all__ = ["autogroup_enabled", "lower_priority"]

_AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")


def autogroup_enabled(switch: Path = _AUTOGROUP_SWITCH) -> bool:
    """Whether the kernel shares the CPU between sessions first (its autogroup feature)."""
    try:
        return switch.read_text().strip() == "1"
    except OSError:  # a kernel built without it
        return False


def lower_priority(pid: int, nice: int) -> int:
    """Give every thread of ``pid`` and of its descendants the nice value ``nice`` (0-19), and
    its session's autogroup too, unless it is this process's session; return how many threads
    were set. A process that ended on the way is left out; ``nice`` 0 changes nothing (the
    default for every process)."""
    if not 0 <= nice <= 19:  # nice's range
        msg = f"a nice value that lowers priority is 0 to 19, not {nice}"
        raise ValueError(msg)
    if nice == 0:
        return 0
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    done: set[int] = set()
    # Twice: a thread started during the first pass by a thread not yet set inherits the old
    # value (a worker's threads are all up once it is ready; this only closes the race).
    for _ in range(2):
        for process in family:
            with contextlib.suppress(psutil.Error):
                for thread in process.threads():
                    with contextlib.suppress(ProcessLookupError):
                        os.setpriority(os.PRIO_PROCESS, thread.id, nice)
                        done.add(thread.id)
    if autogroup_enabled():
        for process in family:  # one session each, usually the same one
            with contextlib.suppress(OSError):
                if os.getsid(process.pid) != os.getsid(0):  # never this process's own session
                    Path(f"/proc/{process.pid}/autogroup").write_text(str(nice))
    return len(done)
