"""The project's own metrics: dead letters counted by the agent that sent them, the scorer's
verdicts, times and gauges, all on the worker's /metrics registry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import generate_latest

from streams.core.dead_letters import DeadLetter
from streams.runtime import agents
from streams.runtime.agents import _WATCH, _Watch, run_agent
from streams.runtime.metrics import WorkerMetrics
from streams.scorer.metrics import ScorerMetrics
from tests.unit.streams.runtime.test_agent_watch import _Stream


def test_an_agent_counts_its_dead_letters_by_topic_and_error_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two bad records of three: two dead letters counted under the source topic and the
    error's class."""
    metrics = WorkerMetrics()

    async def step(message: Any) -> int:
        if message.value != 1:
            msg = "bad"
            raise ValueError(msg)
        return 1

    async def forward(_message: Any, _result: int) -> None:
        return None

    async def dead_letter(_topic: Any, event: Any, exc: Exception) -> DeadLetter:
        message = event.message
        return DeadLetter(type(exc).__name__, str(exc), message.topic, 0, message.offset)

    monkeypatch.setattr(agents, "dead_letter", dead_letter)

    async def main() -> None:
        _WATCH.set(_Watch(metrics=metrics))
        stream: Any = _Stream([1, 2, 3])
        await run_agent(stream, step, forward, dead_topic=None)

    asyncio.run(main())
    text = generate_latest(metrics.registry).decode()
    assert 'fraudstream_dead_letters_total{error_class="ValueError",topic="in"} 2.0' in text


def test_the_scorer_counts_verdicts_and_times_evaluations_and_waits() -> None:
    metrics = ScorerMetrics()
    held = [3]
    metrics.watch(lambda: held[0], lambda: 1)
    metrics.scored("alpha", "m1", 0.8, 1.5)
    metrics.scored("alpha", "m1", 1.2, None)
    metrics.scored("bravo", "m1", 0.7, -0.01)  # clocks apart: never a negative wait
    held[0] = 4
    text = generate_latest(metrics.registry).decode()
    assert 'fraudstream_verdicts_total{model="m1",partner="alpha"} 2.0' in text
    assert 'fraudstream_verdicts_total{model="m1",partner="bravo"} 1.0' in text
    assert 'fraudstream_fhe_evaluation_seconds_bucket{le="1.0",model="m1"} 2.0' in text
    assert 'fraudstream_fhe_evaluation_seconds_count{model="m1"} 3.0' in text
    assert "fraudstream_request_wait_seconds_count 2.0" in text
    assert 'fraudstream_request_wait_seconds_bucket{le="0.05"} 1.0' in text
    assert "fraudstream_evaluation_keys_held 4.0" in text
    assert "fraudstream_evaluations_in_flight 1.0" in text
