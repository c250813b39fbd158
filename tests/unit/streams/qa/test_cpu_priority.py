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

from streams.qa.cpu_priority import (
    Lowered,
    _set_autogroup,
    autogroup_enabled,
    lower_all,
    lower_priority,
)

# A process with three threads besides its main one, and a child process of its own.
_FAMILY = """
import subprocess, sys, threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""

#: This process's nice: the tests' processes start at it (pytest may itself run under nice).
_BASE = os.getpriority(os.PRIO_PROCESS, 0)


def _start(code: str) -> subprocess.Popen[bytes]:
    """A Python process in a session of its own (never the test's session)."""
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )


@pytest.fixture
def family() -> Iterator[tuple[int, int]]:
    """A parent with threads and a child, in a session of their own: (parent, child) pids."""
    process = _start(_FAMILY)
    assert process.stdout is not None
    child = int(process.stdout.readline())  # its threads are started by then
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
    assert _nices(parent) == {_BASE}
    lowered = lower_priority(parent, 19)
    assert lowered.threads == 5  # four threads of the parent, one of the child
    assert _nices(parent) == {19}
    assert _nices(child) == {19}
    if autogroup_enabled():  # the session's share against the others
        assert lowered.sessions == 1
        assert Path(f"/proc/{parent}/autogroup").read_text().split()[-1] == "19"
    assert os.getpriority(os.PRIO_PROCESS, 0) == _BASE  # this process is left alone


def _classes(pid: int) -> set[int]:
    return {os.sched_getscheduler(t.id) for t in psutil.Process(pid).threads()}


def test_idle_puts_every_thread_in_the_idle_class_as_well(family: tuple[int, int]) -> None:
    parent, child = family
    assert os.SCHED_IDLE not in _classes(parent)
    assert lower_priority(parent, 19, idle=True).threads == 5
    assert _classes(parent) == _classes(child) == {os.SCHED_IDLE}
    assert _nices(parent) == {19}
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # this process is left alone


def test_idle_at_nice_zero_sets_the_class_and_leaves_the_nice_and_session(
    family: tuple[int, int],
) -> None:
    parent, _ = family
    lowered = lower_priority(parent, 0, idle=True)
    assert (lowered.threads, lowered.sessions) == (5, 0)
    assert _classes(parent) == {os.SCHED_IDLE}
    assert _nices(parent) == {_BASE}


def test_a_thread_started_afterwards_inherits_the_value() -> None:
    # The process starts its second thread once told to, after its priority is lowered.
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys, threading, time; sys.stdin.readline();"
         "threading.Thread(target=time.sleep, args=(30,)).start(); print(1, flush=True);"
         "time.sleep(30)"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        assert lower_priority(process.pid, 19).threads == 1
        process.stdin.write(b"go\n")
        process.stdin.flush()
        process.stdout.readline()
        assert psutil.Process(process.pid).num_threads() == 2
        assert _nices(process.pid) == {19}
    finally:
        process.kill()
        process.wait()


def test_this_process_s_own_session_keeps_its_autogroup() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    before = Path("/proc/self/autogroup").read_text() if autogroup_enabled() else ""
    try:
        assert lower_priority(process.pid, 19).sessions == 0
        assert _nices(process.pid) == {19}
        if autogroup_enabled():
            assert Path("/proc/self/autogroup").read_text() == before
    finally:
        process.kill()
        process.wait()


def test_nice_zero_changes_nothing_and_a_missing_process_is_left_out(
    family: tuple[int, int],
) -> None:
    parent, _ = family
    assert lower_priority(parent, 0) == Lowered()
    assert _nices(parent) == {_BASE}
    no_such_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    assert lower_priority(no_such_pid, 19) == Lowered()


def test_lower_all_sums_the_processes_and_skips_none(family: tuple[int, int]) -> None:
    parent, child = family
    lowered = lower_all((None, child, parent), 19)  # the child twice: itself, under the parent
    assert lowered.threads == 6
    assert str(lowered).startswith("6 threads, ")


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


class _BusyFile:
    """An autogroup file that refuses the first ``busy`` writes as the kernel does (EAGAIN)."""

    def __init__(self, busy: int) -> None:
        self.busy, self.written = busy, ""

    def write_text(self, text: str) -> int:
        if self.busy:
            self.busy -= 1
            raise BlockingIOError(11, "Resource temporarily unavailable")
        self.written = text
        return len(text)


def test_an_autogroup_change_refused_for_now_is_tried_again() -> None:
    busy = _BusyFile(busy=2)
    started = time.monotonic()
    _set_autogroup(busy, 19)  # type: ignore[arg-type]
    assert busy.written == "19"
    assert time.monotonic() - started >= 0.2
    with pytest.raises(BlockingIOError):
        _set_autogroup(_BusyFile(busy=5), 19, tries=3)  # type: ignore[arg-type]
