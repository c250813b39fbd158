"""Keep the FHE runtime's idle threads asleep: settings made before the first evaluation.

Concrete's runtime (concrete-python 2.10) starts two thread pools in a process at its first
evaluation, and both busy-wait when idle by default:

- HPX, the runtime of Concrete's dataflow parallelism, started even for circuits that use loop
  parallelism only (ours). Each idle HPX thread wakes at least once a second and spins
  ``HPX_MAX_IDLE_LOOP_COUNT`` (default 200,000) loops before it sleeps again: about 1 % of a core
  per thread, for as long as the process lives (one per core, in every scorer pool process).
- LLVM's OpenMP runtime (Concrete's own libomp), which runs the circuit's parallel loops: after
  each parallel region its threads spin ``KMP_BLOCKTIME`` (default 200 ms) before sleeping, so
  every evaluation is followed by 200 ms of every core spinning, taken from whatever else runs
  (a partner's decryption, the broker, on a small machine).

Both are read from the environment when each runtime starts (OpenMP's at the first key
generation, encryption or evaluation), so :func:`quiet_idle_threads` sets them in the process
environment, where the user has not, when :mod:`models.fhe` is imported: every module that
generates keys, encrypts, evaluates or compiles (training, federation) imports from it first.
Measured effects and the command: docs/benchmarks.md ("Idle CPU of an evaluating process").
"""

from __future__ import annotations

import os

__all__ = ["QUIET_IDLE", "quiet_idle_threads"]

#: The settings and their values: HPX spins 1,000 loops (not 200,000) per idle wake-up; OpenMP
#: threads spin 5 ms (not 200) after a parallel region: longer than the gaps between one
#: evaluation's regions, far shorter than the gaps between evaluations. (0, sleeping at once,
#: was measured too and made no difference beyond the noise: docs/benchmarks.md.)
QUIET_IDLE = {"HPX_MAX_IDLE_LOOP_COUNT": "1000", "KMP_BLOCKTIME": "5"}


def quiet_idle_threads() -> None:
    """Set :data:`QUIET_IDLE` in this process's environment, each unless already set."""
    for name, value in QUIET_IDLE.items():
        os.environ.setdefault(name, value)
