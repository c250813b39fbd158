"""SIGTERM to a command that owns processes unwinds it: its ``finally`` blocks run (its broker
and workers stop); other commands keep the default (ended at once)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli._sigterm import sigterm_unwinds

# A command that waits inside sigterm_unwinds with cleanup in a finally, as the bench does.
_WAITING = """
import sys, time
from pathlib import Path
from streams.cli._sigterm import sigterm_unwinds
done = Path(sys.argv[1])
with sigterm_unwinds():
    try:
        print("waiting", flush=True)
        time.sleep(60)
    finally:
        done.write_text("cleaned up")
"""


def test_sigterm_runs_the_finally_blocks_and_exits_143(tmp_path: Path) -> None:
    done = tmp_path / "done"
    process = subprocess.Popen([sys.executable, "-c", _WAITING, str(done)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline() == b"waiting\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert done.read_text() == "cleaned up"


# Code that catches the SystemExit, then fails otherwise (as kafka-python's loop did) or carries
# on to its end.
_SWALLOWING = """
import time
from streams.cli._sigterm import sigterm_unwinds
with sigterm_unwinds():
    try:
        print("waiting", flush=True)
        time.sleep(60)
    except BaseException:
        pass
    {after}
"""


@pytest.mark.parametrize(
    ("after", "printed_after"),
    [('raise RuntimeError("unable to bootstrap")', b""), ('print("carried on")', b"carried on\n")],
)
def test_code_that_swallows_the_exit_still_exits_143(after: str, printed_after: bytes) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _SWALLOWING.format(after=after)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"waiting\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert process.stdout.read() == printed_after
    assert process.stderr is not None
    assert b"RuntimeError" not in process.stderr.read()


def test_the_previous_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_unwinds():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


# The same as a click command of the project's class, with or without owns_processes.
_COMMAND = """
import sys, time
from pathlib import Path
import click
from streams.cli._common import Command

@click.command(cls=Command, owns_processes=sys.argv[2] == "owns")
def wait():
    try:
        print("waiting", flush=True)
        time.sleep(60)
    finally:
        Path(sys.argv[1]).write_text("cleaned up")

wait(sys.argv[3:])
"""


@pytest.mark.parametrize(("owns", "status", "cleaned"), [("owns", 143, True), ("not", -15, False)])
def test_a_command_that_owns_processes_unwinds_on_sigterm(
    tmp_path: Path, owns: str, status: int, cleaned: bool
) -> None:
    done = tmp_path / "done"
    process = subprocess.Popen(
        [sys.executable, "-c", _COMMAND, str(done), owns], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"waiting\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == status
    assert done.exists() is cleaned
