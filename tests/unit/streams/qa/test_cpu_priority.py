"""Lowering the CPU priority of a real process, its threads and its child."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from streams.qa.cpu_priority import autogroup_enabled, lower_priority

# A process with three threads besides its main one, and a child process of its own.
_FAMILY = """
import subprocess, sys, threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def family() -> Iterator[tuple[int, int]]:
    """A parent with threads and a child, in a session of their own: (parent, child) pids."""
    process = subprocess.Popen(
        [sys.executable, "-c", _FAMILY], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())
    deadline = time.monotonic() + 10
    while psutil.Process(process.pid).num_threads() < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield process.pid, child
    finally:
        os.killpg(process.pid, 9)
        process.wait()


def _nices(pid: int) -> set[int]:
    return {os.getpriority(os.PRIO_PROCESS, t.id) for t in psutil.Process(pid).threads()}


def test_every_thread_of_the_process_and_its_child_gets_the_nice_value(
    family: tuple[int, int],
) -> None:
    parent, child = family
    assert _nices(parent) == {0}
    assert lower_priority(parent, 19) >= 5  # four threads of the parent, one of the child
    assert _nices(parent) == {19}
    assert _nices(child) == {19}
    if autogroup_enabled():  # the session's share against the others
        assert Path(f"/proc/{parent}/autogroup").read_text().split()[-1] == "19"
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == 0  # this process is left alone


def test_a_thread_started_afterwards_inherits_the_value() -> None:
    # The process starts its second thread half a second after its priority is lowered.
    process = subprocess.Popen(
        [sys.executable, "-c", "import threading, time; time.sleep(0.5);"
         "threading.Thread(target=time.sleep, args=(5,)).start(); time.sleep(5)"],
        start_new_session=True,
    )  # fmt: skip
    try:
        lower_priority(process.pid, 10)
        time.sleep(1.5)
        assert psutil.Process(process.pid).num_threads() == 2
        assert _nices(process.pid) == {10}
    finally:
        process.kill()
        process.wait()


def test_this_process_s_own_session_keeps_its_autogroup() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    before = Path("/proc/self/autogroup").read_text() if autogroup_enabled() else ""
    try:
        lower_priority(process.pid, 19)
        assert _nices(process.pid) == {19}
        if autogroup_enabled():
            assert Path("/proc/self/autogroup").read_text() == before
    finally:
        process.kill()
        process.wait()


def test_nice_zero_changes_nothing_and_a_gone_process_is_left_out(
    family: tuple[int, int],
) -> None:
    parent, _ = family
    assert lower_priority(parent, 0) == 0
    assert _nices(parent) == {0}
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert lower_priority(gone.pid, 19) == 0


@pytest.mark.parametrize("nice", [-1, 20])
def test_a_value_outside_the_lowering_range_is_refused(nice: int) -> None:
    with pytest.raises(ValueError, match="0 to 19"):
        lower_priority(os.getpid(), nice)


def test_autogroup_is_on_only_when_its_switch_says_1(tmp_path: Path) -> None:
    switch = tmp_path / "sched_autogroup_enabled"
    assert not autogroup_enabled(switch)  # no such file: a kernel without it
    switch.write_text("0\n")
    assert not autogroup_enabled(switch)
    switch.write_text("1\n")
    assert autogroup_enabled(switch)
