"""A SIGTERM that lands inside kafka-python's network loop, run by the command's own thread
while a producer bootstraps, still stops the command: the exit waits until the thread is out of
the loop, which would otherwise swallow it (before the fix the producer then waited for ever)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.broker.local_kafka import LocalKafka

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A command that owns processes builds a real producer; the SIGTERM is sent at a known point
# inside the loop (the first connection's handshake), where CI's signal once landed by chance.
_BOOTSTRAPPING = """
import os, signal, sys, time
from pathlib import Path
import click
import kafka.net.transport as transport
from kafka import KafkaProducer
from streams.cli._common import Command

handshake = transport.KafkaTCPTransport.handshake
sent = []

async def handshake_after_sigterm(self, *args, **kwargs):
    if not sent:
        sent.append(True)
        os.kill(os.getpid(), signal.SIGTERM)
    return await handshake(self, *args, **kwargs)

transport.KafkaTCPTransport.handshake = handshake_after_sigterm

@click.command(cls=Command, owns_processes=True)
def produce():
    try:
        KafkaProducer(bootstrap_servers=sys.argv[2]).close(timeout=5)
        time.sleep(60)  # the put-off exit lands here at the latest
        Path(sys.argv[1]).write_text("carried on")
    finally:
        Path(sys.argv[1]).with_suffix(".cleaned").write_text("cleaned up")

produce(sys.argv[3:])
"""


def test_sigterm_inside_a_producers_bootstrap_stops_the_command(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    marker = tmp_path / "after"
    process = subprocess.run(
        [sys.executable, "-c", _BOOTSTRAPPING, str(marker), kafka_broker.bootstrap],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert process.returncode == 143, process.stderr[-3000:]
    assert not marker.exists()
    assert marker.with_suffix(".cleaned").read_text() == "cleaned up"
