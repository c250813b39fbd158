"""CPU seconds per process over a phase: a process with its children, but not a measured
process among its children (a bench's workers are its children)."""

from __future__ import annotations

import os
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
