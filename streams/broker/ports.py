"""Free TCP ports for the processes this project starts on one machine (broker, workers, pages)."""

from __future__ import annotations

import secrets
import socket
import threading
from pathlib import Path

from streams.core.errors import BrokerError

#: Lowest port :func:`free_port` hands out (below are the well-known and registered services
#: a machine commonly runs).
_FIRST_FREE_PORT = 10000
#: Fewest ports a range outside the ephemeral one must have to be used.
_ENOUGH_PORTS = 1000
#: Ports this process has handed out already (two workers of one pipeline never share one).
_handed_out: set[int] = set()
_handing_out = threading.Lock()


def free_port() -> int:
    """A TCP port that nothing is bound to right now, outside the kernel's ephemeral range.

    Binding port 0 gives a port of the ephemeral range, which any outgoing connection on the
    machine may take as its own end before the program it was meant for binds it (CI saw a
    worker's web server fail with "address already in use" so). Ports outside that range are
    taken only by an explicit bind, so a randomly chosen free one stays free in practice. The
    ports below the range are used (from 10000), or those above it where the range starts too
    low; a machine whose range leaves neither gets a clear error.
    """
    low, high = _ranged_ports()
    with _handing_out:
        for _ in range(500):
            port = low + secrets.randbelow(high - low)
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("0.0.0.0", port))  # noqa: S104 - a probe: is the port free anywhere
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    msg = f"found no free TCP port between {low} and {high - 1} in 500 tries"
    raise BrokerError(msg)


def _ranged_ports() -> tuple[int, int]:
    """The ports to choose from, ``[low, high)``, outside the ephemeral range."""
    first, last = _ephemeral_range()
    if first - _FIRST_FREE_PORT >= _ENOUGH_PORTS:
        return _FIRST_FREE_PORT, first
    if 65535 - last >= _ENOUGH_PORTS:
        return last + 1, 65536
    msg = (
        f"the kernel's ephemeral port range ({first}-{last}, "
        "/proc/sys/net/ipv4/ip_local_port_range) leaves no ports for the local broker and "
        "workers: narrow it, or run them on a machine where it is narrower"
    )
    raise BrokerError(msg)


def _ephemeral_range(
    path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range"),
) -> tuple[int, int]:
    """The kernel's range for outgoing connections (Linux; else the IANA 49152-65535 and
    Linux's default start, 32768, whichever is wider: 32768-65535)."""
    try:
        first, last = (int(n) for n in path.read_text().split()[:2])
    except (OSError, ValueError):
        return 32768, 65535
    return first, last
