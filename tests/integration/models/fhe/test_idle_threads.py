"""A process that has evaluated circuits burns no CPU while it waits for the next request.

Concrete's runtime starts busy-waiting thread pools at the first evaluation (HPX and OpenMP,
models/fhe/idle_threads.py); :class:`~models.fhe.server.ScoringServer` sets them to sleep. Each
case runs in a fresh interpreter, since the runtimes read their settings when they start.

OpenMP's spin after an evaluation lasts a wall-clock time (``KMP_BLOCKTIME``), so on a loaded
machine the spinning thread may get little CPU in it: a fresh-clone CI run saw 0.002 s in the
0.15 s window, and beside 3 busy loops 10 runs gave 0.001-0.17 s. It is still runnable (``R`` in
``/proc``) all along, so that is what the case counts: the share of samples, every 10 ms of the
window, in which a thread other than the sampling one is running or waiting for a core.
HPX's wake-ups spin a count of loops, not a time, so its CPU seconds hold under load.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.fhe.idle_threads import QUIET_IDLE
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Seconds of idling measured: long enough for HPX's once-a-second wake-ups to show.
IDLE_SECONDS = 6.0

_SCRIPT = """
import os, sys, threading, time
from pathlib import Path
from models.fhe.artifacts import ClientArtifact, ServerArtifact
from models.fhe.client.keys import PartnerKeys
from models.fhe.server import ScoringServer

model, keys_dir, idle = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
client = ClientArtifact.load(model)
keys = PartnerKeys.generate(client, keys_dir, "alpha")
server = ScoringServer(ServerArtifact.load(model))
server.add_evaluation_keys(keys.key_id, keys.evaluation_keys())
requests = [keys.encrypt([1.0] * len(client.feature_names)) for _ in range(3)]
me = threading.get_native_id()

def others_runnable():
    states = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                states.append((int(task), stat.read().rsplit(")", 1)[1].split()[0]))
        except OSError:  # the thread ended
            pass
    return any(state == "R" and task != me for task, state in states)

for request in requests:
    server.evaluate(request)
cpu, started, samples = time.process_time(), time.perf_counter(), []
while time.perf_counter() - started < 0.15:  # right after: OpenMP spins KMP_BLOCKTIME ms
    samples.append(others_runnable())
    time.sleep(0.01)
after = time.process_time() - cpu
time.sleep(1.0)
cpu = time.process_time()
time.sleep(idle)  # long after: HPX's threads wake once a second
print(after, sum(samples) / len(samples), time.process_time() - cpu)
"""


def _idle_cpu_seconds(
    tiny_model: TinyModel, keys_dir: Path, env: dict[str, str]
) -> tuple[float, float, float]:
    """For a fresh process: CPU seconds it used in the 0.15 s right after its third evaluation,
    the share of that window's samples in which another of its threads was runnable, and CPU
    seconds in IDLE_SECONDS of waiting a second later."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            str(tiny_model.directory),
            str(keys_dir),
            f"{IDLE_SECONDS}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=Path(__file__).resolve().parents[4],
        env={**{k: v for k, v in os.environ.items() if k not in QUIET_IDLE}, **env},
    )
    after, runnable, idle = done.stdout.split()[-3:]
    return float(after), float(runnable), float(idle)


def test_an_idle_evaluating_process_sleeps(tiny_model: TinyModel, tmp_path: Path) -> None:
    """With the settings ScoringServer makes: a few ms of CPU and no thread left runnable right
    after an evaluation, under 0.5 % of a core later (tick-sized noise). With the runtimes' own
    defaults given explicitly (the user's setting wins): OpenMP's spin after the evaluation (a
    thread runnable in most samples) and HPX's later both show, which is why they are changed
    (when a release stops spinning, that case fails and the settings can go)."""
    quiet = _idle_cpu_seconds(tiny_model, tmp_path / "quiet", {})
    spinning = _idle_cpu_seconds(
        tiny_model,
        tmp_path / "spinning",
        {"HPX_MAX_IDLE_LOOP_COUNT": "200000", "KMP_BLOCKTIME": "200"},
    )
    assert quiet[0] < 0.05, quiet
    assert quiet[1] < 0.2, quiet
    assert quiet[2] < 0.005 * IDLE_SECONDS, quiet
    assert spinning[1] > 0.8, spinning
    assert spinning[2] > 0.005 * IDLE_SECONDS, spinning
