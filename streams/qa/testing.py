"""Helpers for testing against a real broker, for this project's tests and for users' own.

``temporary_broker`` starts a throw-away local broker on free loopback ports; ``consume_records``
reads topics from the beginning without a consumer group, until a count or a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streams.broker.admin import assigned_consumer
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port

__all__ = ["consume_records", "temporary_broker"]


@contextmanager
def temporary_broker(state_dir: Path, cache_dir: Path | None = None) -> Iterator[LocalKafka]:
    """A local broker on free ports for the duration of the block; stopped afterwards."""
    broker = LocalKafka(
        state_dir, port=free_port(), controller_port=free_port(), cache_dir=cache_dir
    )
    broker.start(say=lambda _: None)
    try:
        yield broker
    finally:
        broker.stop()


def consume_records(
    client_config: dict[str, Any],
    topics: list[str],
    *,
    expected: int,
    timeout: float = 60.0,
    committed_only: bool = False,
) -> Iterator[Any]:
    """Yield records of ``topics`` from the beginning until ``expected`` arrived or time is up
    (``committed_only``: not those of open or aborted Kafka transactions)."""
    isolation = "read_committed" if committed_only else "read_uncommitted"
    consumer = assigned_consumer(client_config, topics, isolation_level=isolation)
    try:
        seen = 0
        deadline = time.monotonic() + timeout
        while seen < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    seen += 1
                    yield record
    finally:
        consumer.close()
