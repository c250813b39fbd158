"""Free ports are chosen where no outgoing connection can take them before their program binds."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streams.broker import ports
from streams.broker.ports import free_port
from streams.core.errors import BrokerError


def test_free_ports_are_outside_the_ephemeral_range_distinct_and_bindable() -> None:
    """Outgoing connections take their own end from the ephemeral range: a port handed out is
    never from it, never handed out twice, and can be listened on at once."""
    first, last = ports._ephemeral_range()
    handed = [free_port() for _ in range(50)]
    assert len(set(handed)) == len(handed)
    assert all(not first <= port <= last for port in handed)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", handed[0]))
        sock.listen()


def test_a_port_in_use_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the range narrowed to one port that is listened on, no port is found: a clear error."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setattr(ports, "_ranged_ports", lambda: (taken, taken + 1))
        with pytest.raises(BrokerError, match=f"no free TCP port between {taken} and {taken}"):
            free_port()


def test_the_range_is_read_from_the_kernel_or_defaults(tmp_path: Path) -> None:
    """Linux's ip_local_port_range gives the range; without it, 32768-65535."""
    (tmp_path / "range").write_text("40000\t60999\n")
    assert ports._ephemeral_range(tmp_path / "range") == (40000, 60999)
    assert ports._ephemeral_range(tmp_path / "missing") == (32768, 65535)
    (tmp_path / "bad").write_text("")
    assert ports._ephemeral_range(tmp_path / "bad") == (32768, 65535)


@pytest.mark.parametrize(
    ("ephemeral", "chosen"),
    [((32768, 60999), (10000, 32768)), ((1024, 40000), (40001, 65536))],
)
def test_ports_come_from_below_the_range_or_else_above_it(
    monkeypatch: pytest.MonkeyPatch, ephemeral: tuple[int, int], chosen: tuple[int, int]
) -> None:
    """Below the ephemeral range from 10000 when there is room, else above it."""
    monkeypatch.setattr(ports, "_ephemeral_range", lambda: ephemeral)
    assert ports._ranged_ports() == chosen


def test_a_range_that_leaves_no_room_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine whose ephemeral range covers nearly every port is told so, not given one."""
    monkeypatch.setattr(ports, "_ephemeral_range", lambda: (1024, 65000))
    with pytest.raises(BrokerError, match=r"ephemeral port range \(1024-65000"):
        ports._ranged_ports()
