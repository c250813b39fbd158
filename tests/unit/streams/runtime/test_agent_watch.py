"""Stuck partitions: each agent's current record age, in /ready and /metrics."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types.tuples import TP, ConsumerMessage
from prometheus_client import CollectorRegistry, generate_latest

from streams.runtime.agents import _WATCH, AgentSet, _Watch, run_agent
from streams.runtime.web import _RecordAges


class _Stream:
    """What run_agent reads of a Faust stream: its app's consumer, and events."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        consumer = SimpleNamespace(ack=lambda _message: True)
        self.app = SimpleNamespace(consumer=consumer, sensors=None)

    async def events(self) -> Any:
        for offset, value in enumerate(self.values):
            tp = TP("in", 0)
            message = ConsumerMessage("in", 0, offset, 0.0, 0, [], b"k", value, None, tp=tp)
            message.incref()
            yield SimpleNamespace(message=message)
            message.ack(self.app.consumer)


def test_a_record_in_process_has_an_age_and_a_finished_one_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While a step runs, its watch holds when it started; afterwards it is clear and counted,
    and a record that failed (dead-lettered) counts too."""
    watch = _Watch()
    seen: list[float | None] = []
    dead: list[Any] = []

    async def step(message: Any) -> int:
        seen.append(watch.started)
        if message.value == 2:
            msg = "bad"
            raise ValueError(msg)
        await asyncio.sleep(0.01)
        return int(message.value)

    async def forward(_message: Any, _result: int) -> None:
        return None

    async def main() -> None:
        _WATCH.set(watch)
        stream: Any = _Stream([1, 2, 3])
        from streams.runtime import agents  # noqa: PLC0415

        original = agents.dead_letter

        async def record_dead(topic: Any, event: Any, exc: Exception) -> None:
            dead.append(exc)

        agents.dead_letter = record_dead  # type: ignore[assignment]
        try:
            await run_agent(stream, step, forward, dead_topic=None)
        finally:
            agents.dead_letter = original

    asyncio.run(main())
    assert all(started is not None for started in seen)
    assert watch.started is None
    assert watch.records == 3
    assert len(dead) == 1


def test_an_agent_stuck_past_the_limit_makes_the_worker_not_ready() -> None:
    """One agent on a record for 20 s with a 10 s limit: not ready, and it is named; the gauge
    shows every agent's age except private ones where results are private."""
    app = faust.App("watch-test", broker="kafka://localhost:1", web_enabled=False)
    agents = AgentSet()
    topic = app.topic("t")

    async def gateway(stream: Any) -> None:
        return None

    async def decryptor(stream: Any) -> None:
        return None

    agents.add(app, gateway, topic)
    agents.add(app, decryptor, topic, private=True)
    agents.watches["gateway"].started = time.monotonic() - 20
    state = agents.readiness({"ready": True, "partner": "alpha"}, stuck_after=10)
    assert state == {"ready": False, "partner": "alpha", "stuck_agents": ["gateway"]}
    assert agents.readiness({"ready": True}, stuck_after=30)["ready"]
    registry = CollectorRegistry()
    registry.register(_RecordAges(agents, private=True))
    text = generate_latest(registry).decode()
    line = next(x for x in text.splitlines() if x.startswith("fraudstream_agent_record_age"))
    assert line.startswith('fraudstream_agent_record_age_seconds{agent="gateway"} ')
    assert float(line.split()[-1]) >= 20
    assert "decryptor" not in text
