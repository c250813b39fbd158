"""``fraudstream kafka``: a local single-node Apache Kafka broker for development and tests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streams.broker.local_kafka import KAFKA_VERSION, LocalKafka, default_cache_dir, fetch_jars
from streams.cli._common import Group, console

__all__ = ["kafka"]

_CACHE = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_cache_dir(),
    show_default=True,
    envvar="FRAUDSTREAM_CACHE_DIR",
    help="Where the Kafka jars are cached (outside the repository).",
)
_LOCATION = [
    click.option(
        "--state-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path(".fraudstream/kafka"),
        show_default=True,
        help="Where the broker keeps its data, logs and pid.",
    ),
    click.option("--port", type=int, default=9092, show_default=True, help="Client port."),
    click.option(
        "--controller-port",
        type=int,
        default=9093,
        show_default=True,
        help="KRaft controller port.",
    ),
    _CACHE,
]


def _where(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say which local broker: --state-dir, --port, --controller-port and
    --cache-dir."""
    for option in reversed(_LOCATION):
        func = option(func)
    return func


def _local(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> LocalKafka:
    return LocalKafka(
        state_dir.resolve(), port=port, controller_port=controller_port, cache_dir=cache_dir
    )


@click.group(cls=Group)
def kafka() -> None:
    """A local single-node Apache Kafka broker (KRaft, 127.0.0.1) from Maven Central jars."""


@kafka.command("up")
@_where
@click.option("--timeout", type=float, default=90.0, show_default=True, help="Seconds to wait.")
def kafka_up(
    state_dir: Path, port: int, controller_port: int, cache_dir: Path, timeout: float
) -> None:
    """Fetch the jars (once), format KRaft storage (once), start and wait until ready."""
    broker = _local(state_dir, port, controller_port, cache_dir)
    broker.start(timeout=timeout, say=console.print)
    console.print(f"[green]broker ready[/] at {broker.bootstrap} (logs: {broker.log_file})")


@kafka.command("down")
@_where
def kafka_down(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> None:
    """Stop the broker started from STATE_DIR (its data stays for the next `up`)."""
    stopped = _local(state_dir, port, controller_port, cache_dir).stop()
    console.print("broker stopped" if stopped else "no broker was running")


@kafka.command("status")
@_where
def kafka_status(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> None:
    """Say whether the broker runs and answers; exit 1 when it does not."""
    status = _local(state_dir, port, controller_port, cache_dir).status()
    if status.ready:
        console.print(f"running and ready at {status.bootstrap} (pid {status.pid})")
        return
    if status.running:
        console.print(f"running (pid {status.pid}) but not answering at {status.bootstrap}")
    else:
        console.print("not running")
    sys.exit(1)


@kafka.command("fetch")
@_CACHE
@click.option("--version", default=KAFKA_VERSION, show_default=True, help="Kafka version.")
def kafka_fetch(cache_dir: Path, version: str) -> None:
    """Only resolve and cache the broker's jars (useful to warm a CI cache)."""
    libs = fetch_jars(version, cache_dir, say=console.print)
    console.print(f"{len(list(libs.glob('*.jar')))} jars in {libs}")
