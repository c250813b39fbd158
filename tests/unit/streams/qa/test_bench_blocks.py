"""``bench pipeline --blocks``: (a) and (b) alternate, (b)'s processes stopped while (a) runs;
each block of (b) is set against the two loops of (a) around it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from streams.cli import cli
from streams.core.errors import ConfigError
from streams.core.settings import Settings
from streams.qa.bench import run_pipeline_bench
from streams.qa.bench_blocks import MAX_PAUSE_S, block_seconds, check_pause, paused
from streams.qa.bench_report import BenchResult, BenchRuns

# A process with a child, both alive until killed.
_PARENT = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def family() -> Iterator[psutil.Process]:
    process = subprocess.Popen([sys.executable, "-c", _PARENT])
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 30
    while not parent.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield parent
    finally:
        for child in parent.children(recursive=True):
            child.kill()
        process.kill()
        process.wait()


def _stopped(process: psutil.Process) -> bool:
    """Whether ``process`` is stopped, once its state has settled (a signal takes effect when
    the process next runs; ``paused`` waits for it, continuing does not)."""
    deadline = time.monotonic() + 5
    state = process.status()
    while time.monotonic() < deadline and state not in {
        psutil.STATUS_STOPPED,
        psutil.STATUS_SLEEPING,
    }:
        time.sleep(0.01)
        state = process.status()
    return state == psutil.STATUS_STOPPED


def test_a_process_and_its_children_are_stopped_inside_and_continued_after(
    family: psutil.Process,
) -> None:
    (child,) = family.children()
    with paused([family.pid]):
        assert _stopped(family)
        assert _stopped(child)
    assert not _stopped(family)
    assert not _stopped(child)


def _fail_while_paused(pid: int) -> None:
    with paused([pid]):
        msg = "bare loop failed"
        raise RuntimeError(msg)


def test_they_go_on_when_the_block_fails(family: psutil.Process) -> None:
    with pytest.raises(RuntimeError, match="bare loop failed"):
        _fail_while_paused(family.pid)
    assert not _stopped(family)
    assert all(not _stopped(child) for child in family.children())


def test_a_process_gone_before_the_pause_is_left_out(family: psutil.Process) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with paused([gone.pid, family.pid]):
        assert _stopped(family)
    assert not _stopped(family)


def test_each_block_of_b_runs_from_its_first_send_to_its_last_score() -> None:
    sent = [0.0, 0.0, 5000.0, 5000.0]
    scored = [600.0, 1100.0, 5500.0, 6200.0]
    assert block_seconds(sent, scored, 2) == [1.1, 1.2]
    with pytest.raises(ValueError, match="4 transactions do not make 3 equal blocks"):
        block_seconds(sent, scored, 3)


def test_each_block_of_b_is_set_against_the_loops_of_a_around_it() -> None:
    """40 transactions in 4 blocks of 10: (a)'s five loops of 10 took 5, 5, 6, 4, 5 s; the
    blocks of (b) are set against 5, 5.5, 5 and 4.5 s, 20 s in all (2 tx/s); (b) took 20 s."""
    result = BenchResult("abc123", 40, (5.0, 5.0, 6.0, 4.0, 5.0), 20.0, {"fhe_ms": (1.0, 2.0)})
    assert result.blocks == 4
    assert result.bare_seconds == 20.0
    assert result.ratio == 1.0
    assert result.bare_loop_throughputs == (2.0, 2.0, 10 / 6, 2.5, 2.0)
    assert (
        "| (a) bare loop of evaluations | 2.000 tx/s (0.500 s/tx; 5 blocks of 10 between 1.667 "
        "and 2.500 tx/s, around 4 blocks of (b)) |"
    ) in result.markdown()
    assert "| stage (ms, backlog of each block of 10) | p50 | p99 |" in result.markdown()
    runs = BenchRuns((result, result)).markdown()
    assert "| 1 | `abc123` | 2.000 | 1.667-2.500 (5 blocks) | 2.000 | 1.000 |" in runs
    assert "| stage (ms, backlog of each block of 10) | p50 | p99 |" in runs


def test_each_block_of_b_has_its_own_ratio() -> None:
    """The blocks of (b) took 4, 5.5, 5 and 5.5 s against 5, 5.5, 5 and 4.5 s of (a)."""
    result = BenchResult(
        "abc123", 40, (5.0, 5.0, 6.0, 4.0, 5.0), 20.0, {}, pipeline_blocks=(4.0, 5.5, 5.0, 5.5)
    )
    assert result.block_ratios == pytest.approx((1.25, 1.0, 1.0, 4.5 / 5.5))
    assert result.ratio == 1.0  # that of the sums
    assert BenchResult(
        "abc123", 40, (40.0, 50.0), 50.0, {}, pipeline_blocks=(50.0,)
    ).block_ratios == (0.9,)


def test_a_block_of_a_longer_than_b_s_timeouts_allow_is_refused() -> None:
    check_pause(MAX_PAUSE_S / 10, 10)
    with pytest.raises(ConfigError, match="about 44 s, over the 40 s its timeouts allow"):
        check_pause(MAX_PAUSE_S / 10 * 1.1, 10)


def test_before_and_after_is_one_block() -> None:
    result = BenchResult("abc123", 40, (40.0, 50.0), 45.0, {})
    assert result.blocks == 1
    assert result.bare_seconds == 45.0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--transactions", "40", "--blocks", "3"], "--transactions 40 do not make 3 equal blocks"),
        (["--rate", "1", "--blocks", "2"], "with --rate, (b) runs without pause"),
        (
            ["--guarantee", "exactly_once", "--blocks", "2"],
            "Kafka transactions (exactly_once) are measured at once only",
        ),
    ],
)
def test_blocks_that_cannot_be_run_are_refused_before_anything_starts(
    args: list[str], said: str
) -> None:
    result = CliRunner().invoke(cli, ["bench", "pipeline", *args])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.stderr.split())


@pytest.mark.parametrize(("transactions", "rate"), [(40, None), (30, 1.0)])
def test_the_bench_itself_refuses_blocks_it_cannot_run(
    transactions: int, rate: float | None
) -> None:
    """Not only the command: a caller of the bench gets the same refusal, before any key."""
    with pytest.raises(ValueError, match="3 blocks need a backlog"):
        run_pipeline_bench(
            Settings(), Path("nowhere"), transactions=transactions, warmup=1, say=print,
            rate=rate, blocks=3,
        )  # fmt: skip
