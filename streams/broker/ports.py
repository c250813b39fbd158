"""Free TCP ports for the processes this project starts on one machine (broker, workers, pages)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from streams.core.errors import BrokerError

#: Lowest port :func:`free_port` hands out (below are the well-known and registered services
#: a machine commonly runs).
_FIRST_FREE_PORT = 10000
#: Ports this process has handed out already (two workers of one pipeline never share one).
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port that nothing is bound to right now, below the kernel's ephemeral range.

    Binding port 0 gives a port of the ephemeral range, which any outgoing connection on the
    machine may take as its own end before the program it was meant for binds it (CI saw a
    worker's web server fail with "address already in use" so). Ports below that range are taken
    only by an explicit bind, so a randomly chosen free one stays free in practice.
    """
    low = _ephemeral_range_start()
    for _ in range(500):
        port = (
            _FIRST_FREE_PORT + secrets.randbelow(low - _FIRST_FREE_PORT)
            if low > _FIRST_FREE_PORT
            else 0
        )
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("0.0.0.0", port))  # noqa: S104 - a probe: is the port free anywhere
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
        _handed_out.add(chosen)
        return chosen
    msg = f"found no free TCP port between {_FIRST_FREE_PORT} and {low} in 500 tries"
    raise BrokerError(msg)


def _ephemeral_range_start(
    path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range"),
) -> int:
    """The first port of the kernel's range for outgoing connections (Linux; else 32768)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
