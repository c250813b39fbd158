"""How every agent of this project runs: one record at a time, a bad record dead-lettered.

Faust acknowledges an event once the agent's loop moves past it, even when the agent raised. So
an agent never raises on a record: :func:`run_agent` calls the role's step on each record, sends
what the step raised to the dead-letter topic with the reason, and awaits the step's outputs
(which :func:`~streams.runtime.delivery.deliver` waits for until the broker stored them) before
the next record. The step does everything that can fail because of the record, encoding its
outputs included (an :class:`Encoded`): the forward only delivers bytes, so nothing a record
holds can fail outside the dead-letter path. Agents run with ``concurrency=1``: with more, faust
can commit an offset past a record still being processed (faust-streaming issue #606). Each agent
has an explicit name and topic (faust derives them from the function otherwise, so a rename
would change them).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import faust

from streams.runtime.dead_letters import dead_letter

__all__ = ["AgentSet", "Encoded", "raw_topic", "run_agent"]

_Result = TypeVar("_Result")
_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Encoded(Generic[_Item]):
    """A step's output record, already encoded (so encoding fails inside the step): the typed
    item for logs and tests, and the key and value to send."""

    item: _Item
    key: bytes
    value: bytes


def raw_topic(app: faust.App, *names: str, **options: Any) -> Any:
    """A topic of ``app`` whose keys and values are bytes (messages encode themselves)."""
    return app.topic(*names, key_serializer="raw", value_serializer="raw", **options)


async def run_agent(
    stream: faust.StreamT[Any],
    step: Callable[[Any], _Result | Awaitable[_Result]],
    forward: Callable[[Any, _Result], Awaitable[None]],
    dead_topic: Any,
) -> None:
    """For each record: ``step(message)`` (awaited if it is a coroutine); on any exception
    dead-letter the record and go on; otherwise ``await forward(message, result)`` before taking
    the next record."""
    async for event in stream.events():
        message = event.message
        try:
            outcome = step(message)
            result: _Result = await outcome if inspect.isawaitable(outcome) else outcome
        except Exception as exc:  # noqa: BLE001  (a bad record must never stop the partition)
            await dead_letter(dead_topic, event, exc)
            continue
        await forward(message, result)


class AgentSet:
    """The agents of one worker, by name; ready when all of them run."""

    def __init__(self) -> None:
        """No agents yet."""
        self.agents: dict[str, faust.types.AgentT[Any]] = {}

    def add(
        self,
        app: faust.App,
        function: Callable[[faust.StreamT[Any]], Awaitable[None]],
        source: Any,
        scope: str | None = None,
    ) -> None:
        """Attach ``function`` to ``source`` as the agent ``<function name>[.<scope>]``."""
        name = function.__name__ + (f".{scope}" if scope else "")
        self.agents[name] = app.agent(source, name=name, concurrency=1)(function)

    @property
    def started(self) -> bool:
        """Whether every agent runs."""
        return bool(self.agents) and all(agent.started for agent in self.agents.values())
