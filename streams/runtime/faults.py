"""Fault points: the places where the fault-injection run kills a worker (docs/reliability.md).

``FRAUD_FAULT_POINTS="gateway.before_request=3,decryptor.before_output=2"`` makes a worker
SIGKILL itself the 3rd time it reaches ``gateway.before_request`` (and the 2nd time it reaches
``decryptor.before_output``): a crash at an exact point of its work, which a kill from outside
cannot aim at. Unset (always, outside the fault runs), :func:`fault_point` is one dictionary
lookup. The points:

- ``gateway.before_request``: a transaction's last entity state is updated, its details and
  scoring request not sent yet;
- ``scorer.during_evaluation``: the request's FHE evaluation is running in the pool;
- ``decryptor.before_output``: the verdict is joined and decrypted, its score and alert not sent;
- ``decryptor.after_output``: its score and alert are sent, its *done* marker not written (the
  outputs are read back by the next worker: :mod:`streams.partner.output_check`).

Like fail points (FreeBSD's ``fail(9)``, TiKV's ``fail-rs``), written here because a point is
five lines and a library would add a dependency for it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

__all__ = ["POINTS", "fault_point", "parse_plan"]

#: Every fault point of the code.
POINTS = (
    "gateway.before_request",
    "scorer.during_evaluation",
    "decryptor.before_output",
    "decryptor.after_output",
)


def parse_plan(text: str) -> dict[str, int]:
    """``"point=N,..."`` → ``{point: N}`` (N ≥ 1); a point the code lacks is an error."""
    plan: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if name not in POINTS or not count.isdigit() or int(count) < 1:
            msg = f"FRAUD_FAULT_POINTS: {part!r} is not <point>=<N ≥ 1> with a point of {POINTS}"
            raise ValueError(msg)
        plan[name] = int(count)
    return plan


_PLAN = parse_plan(os.environ.get("FRAUD_FAULT_POINTS", ""))
_HITS: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Kill this process (SIGKILL, as a crash) if the fault plan says so at this hit of
    ``name``; nothing otherwise."""
    if not _PLAN or name not in _PLAN:
        return
    _HITS[name] += 1
    if _HITS[name] == _PLAN[name]:
        sys.stdout.write(f'{{"event": "fault_point_kill", "point": "{name}"}}\n')
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
