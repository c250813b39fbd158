"""CPU seconds per process over a phase: a process with its children, but not a measured
process among its children (a bench's workers are its children), and a measured child with
its own children (a scorer's FHE pool)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from streams.qa.cpu_use import CpuMeter

_BUSY = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"


def test_a_measured_child_is_counted_once_under_its_own_name() -> None:
    child = subprocess.Popen([sys.executable, "-c", _BUSY + "time.sleep(5)"])
    try:
        meter = CpuMeter({"parent": os.getpid(), "child": child.pid})
        meter.start()
        time.sleep(2.0)  # the child burns its 0.6 s (plus its start-up) meanwhile
        used = meter.stop()
    finally:
        child.kill()
        child.wait()
    assert used["child"] > 0.4
    assert used["parent"] < 0.3  # the test process slept: the child's CPU is not its own


def test_a_measured_child_counts_its_own_children() -> None:
    """The scorer's evaluations run in its pool's processes, its children; the bench that
    started the scorer is measured too, above it: the pool's CPU is the scorer's."""
    busy = _BUSY.replace("0.6", "1.5") + "time.sleep(10)\n"
    spawner = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {busy!r}])\n"
    child = subprocess.Popen(
        [sys.executable, "-c", spawner + "time.sleep(10)"], start_new_session=True
    )
    try:
        meter = CpuMeter({"bench": os.getpid(), "scorer": child.pid})
        time.sleep(0.3)  # the grandchild is started, not yet done
        meter.start()
        time.sleep(2.5)
        used = meter.stop()
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert used["scorer"] > 0.5
    assert used["bench"] < 0.3
