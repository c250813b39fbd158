"""How every agent of this project runs: one record at a time, a bad record dead-lettered.

Faust acknowledges an event once the agent's loop moves past it, even when the agent raised. So
an agent never raises on a record: :func:`run_agent` calls the role's step on each record, sends
what the step raised to the dead-letter topic with the reason, and delivers the step's outputs
before the record can be committed: waiting for the broker before the next record, or, with
``overlap``, through an :class:`~streams.runtime.outbox.Outbox` that holds the record until they
are stored while the agent goes on (see :mod:`streams.runtime.delivery`). The step does
everything that can fail because of the record, encoding its outputs included (an
:class:`Encoded`): the forward only delivers bytes, so nothing a record holds can fail outside
the dead-letter path. Agents run with ``concurrency=1``: with more, faust
can commit an offset past a record still being processed (faust-streaming issue #606). Each agent
has an explicit name and topic (faust derives them from the function otherwise, so a rename
would change them).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import faust

from streams.runtime.dead_letters import dead_letter
from streams.runtime.delivery import ACTIVE_OUTBOX
from streams.runtime.outbox import Outbox

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


@dataclass
class _Watch:
    """When the agent's current record started (``None`` between records), and how many it
    finished."""

    started: float | None = None
    records: int = 0
    #: Whether its timings may reveal a decrypted result (a partner's decryptor: an alert takes
    #: one send more), so that /metrics leaves it out.
    private: bool = False


#: The watch of the agent running in this task (set by :meth:`AgentSet.add`).
_WATCH: ContextVar[_Watch | None] = ContextVar("fraudstream_agent_watch", default=None)


def raw_topic(app: faust.App, *names: str, **options: Any) -> Any:
    """A topic of ``app`` whose keys and values are bytes (messages encode themselves)."""
    return app.topic(*names, key_serializer="raw", value_serializer="raw", **options)


async def run_agent(
    stream: faust.StreamT[Any],
    step: Callable[[Any], _Result | Awaitable[_Result]],
    forward: Callable[[Any, _Result], Awaitable[None]],
    dead_topic: Any,
    *,
    overlap: bool = False,
) -> None:
    """For each record: ``step(message)`` (awaited if it is a coroutine); on any exception
    dead-letter the record and go on; otherwise ``await forward(message, result)`` before taking
    the next record. With ``overlap``, the record's outputs go through an
    :class:`~streams.runtime.outbox.Outbox`: the next record is taken while they are delivered,
    and the record is committed once they are stored."""
    watch = _WATCH.get() or _Watch()
    outbox = Outbox(stream.app.consumer, stream.app.sensors) if overlap else None
    ACTIVE_OUTBOX.set(outbox)
    async for event in stream.events():
        message = event.message
        watch.started = time.monotonic()
        if outbox is not None:
            await outbox.room()
        try:
            outcome = step(message)
            result: _Result = await outcome if inspect.isawaitable(outcome) else outcome
        except Exception as exc:  # noqa: BLE001  (a bad record must never stop the partition)
            await dead_letter(dead_topic, event, exc)
        else:
            await forward(message, result)
        if outbox is not None:
            outbox.hold(message)
        watch.started = None
        watch.records += 1


class AgentSet:
    """The agents of one worker, by name; ready when all of them run."""

    def __init__(self) -> None:
        """No agents yet."""
        self.agents: dict[str, faust.types.AgentT[Any]] = {}
        self.watches: dict[str, _Watch] = {}

    def add(
        self,
        app: faust.App,
        function: Callable[[faust.StreamT[Any]], Awaitable[None]],
        source: Any,
        scope: str | None = None,
        *,
        private: bool = False,
    ) -> None:
        """Attach ``function`` to ``source`` as the agent ``<function name>[.<scope>]``; a
        ``private`` one's record age is left out of a partner's /metrics."""
        name = function.__name__ + (f".{scope}" if scope else "")
        watch = self.watches[name] = _Watch(private=private)

        async def watched(stream: faust.StreamT[Any]) -> None:
            _WATCH.set(watch)
            await function(stream)

        self.agents[name] = app.agent(source, name=name, concurrency=1)(watched)

    def record_ages(self) -> dict[str, float]:
        """Seconds each agent has spent on its current record (0 between records)."""
        now = time.monotonic()
        return {
            name: 0.0 if watch.started is None else now - watch.started
            for name, watch in self.watches.items()
        }

    def readiness(self, state: dict[str, Any], stuck_after: float) -> dict[str, Any]:
        """``state`` (a role's /ready body) with the agents stuck on one record for more than
        ``stuck_after`` seconds; the worker is not ready while one is (its partition stands
        still)."""
        stuck = sorted(name for name, age in self.record_ages().items() if age > stuck_after)
        return {**state, "ready": bool(state.get("ready")) and not stuck, "stuck_agents": stuck}

    @property
    def started(self) -> bool:
        """Whether every agent runs."""
        return bool(self.agents) and all(agent.started for agent in self.agents.values())
