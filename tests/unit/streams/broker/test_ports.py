"""Free ports are chosen where no outgoing connection can take them before their program binds."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streams.broker import ports
from streams.broker.ports import free_port
from streams.core.errors import BrokerError


def test_free_ports_are_below_the_ephemeral_range_distinct_and_bindable() -> None:
    """Outgoing connections take their own end from the ephemeral range: a port handed out is
    never from it, never handed out twice, and can be listened on at once."""
    start = ports._ephemeral_range_start()
    handed = [free_port() for _ in range(50)]
    assert len(set(handed)) == len(handed)
    assert all(10000 <= port < start for port in handed)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", handed[0]))
        sock.listen()


def test_a_port_in_use_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the range narrowed to one port that is listened on, no port is found: a clear error."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setattr(ports, "_FIRST_FREE_PORT", taken)
        monkeypatch.setattr(ports, "_ephemeral_range_start", lambda: taken + 1)
        with pytest.raises(BrokerError, match=f"no free TCP port between {taken} and {taken + 1}"):
            free_port()


def test_the_range_is_read_from_the_kernel_or_defaults(tmp_path: Path) -> None:
    """Linux's ip_local_port_range gives the start; without it, the IANA default 32768 holds."""
    (tmp_path / "range").write_text("40000\t60999\n")
    assert ports._ephemeral_range_start(tmp_path / "range") == 40000
    assert ports._ephemeral_range_start(tmp_path / "missing") == 32768
    (tmp_path / "bad").write_text("")
    assert ports._ephemeral_range_start(tmp_path / "bad") == 32768
