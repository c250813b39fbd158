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
can commit an offset past a record still being processed (faust-streaming issue #606). An agent
that needs several records at once (the scorer: one per FHE pool process) runs them inside its
one Faust actor instead (``in_flight``), holding each record from the moment it is taken and
forwarding in arrival order, so commits stay in order. Each agent
has an explicit name and topic (faust derives them from the function otherwise, so a rename
would change them).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import faust
from mode import CrashingSupervisor

from streams.core.dead_letters import DeadLetter
from streams.runtime.dead_letters import dead_letter
from streams.runtime.delivery import ACTIVE_OUTBOX
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.outbox import Outbox, let_go

__all__ = ["AgentSet", "Encoded", "raw_topic", "run_agent"]

_Result = TypeVar("_Result")
_Item = TypeVar("_Item")
#: What an agent does with a record: its step, its forward, and its dead-letter topic.
_Role = tuple[Callable[[Any], Any], Callable[[Any, Any], Awaitable[None]], Any]


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
    #: Where its dead letters are counted.
    metrics: WorkerMetrics | None = None

    def dead_lettered(self, letter: DeadLetter) -> None:
        """Count a dead letter of this agent's."""
        if self.metrics is not None:
            self.metrics.dead_lettered(letter)


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
    in_flight: int = 1,
) -> None:
    """For each record: ``step(message)`` (awaited if it is a coroutine); on any exception
    dead-letter the record and go on; otherwise ``await forward(message, result)`` before taking
    the next record. With ``overlap``, the record's outputs go through an
    :class:`~streams.runtime.outbox.Outbox`: the next record is taken while they are delivered,
    and the record is committed once they are stored. With ``in_flight`` > 1 (overlap implied),
    the steps of up to that many records run at once (a step that awaits, as the scorer's
    evaluation in its pool does); their results are forwarded or dead-lettered, and the records
    committed, in the order the records came (see :func:`_run_concurrently`)."""
    if in_flight < 1:
        msg = "an agent has at least one record in flight"
        raise ValueError(msg)
    watch = _WATCH.get() or _Watch()
    agent = asyncio.current_task()
    outbox = None
    if overlap or in_flight > 1:
        # A redelivery that cannot succeed stops the agent even while no record comes.
        outbox = Outbox(stream.app.consumer, stream.app.sensors, on_error=_canceller(agent))
    ACTIVE_OUTBOX.set(outbox)
    try:
        if outbox is not None and in_flight > 1:
            await _run_concurrently(stream, (step, forward, dead_topic), outbox, in_flight, watch)
        else:
            await _run_serially(stream, (step, forward, dead_topic), outbox, watch)
    except asyncio.CancelledError:
        if outbox is not None and outbox.error is not None:
            raise outbox.error from None
        raise


def _canceller(task: asyncio.Task[Any] | None) -> Callable[[], None]:
    def cancel() -> None:
        if task is not None:
            task.cancel()

    return cancel


async def _run_serially(
    stream: faust.StreamT[Any], role: _Role, outbox: Outbox | None, watch: _Watch
) -> None:
    """:func:`run_agent`, one record at a time. Each record carries one more reference while
    it is processed: an error that escapes (a send that cannot be retried) leaves it
    uncommitted, where Faust's iterator would otherwise acknowledge it on the way out."""
    step, forward, dead_topic = role
    consumer, sensors = stream.app.consumer, stream.app.sensors
    async for event in stream.events():
        message = event.message
        message.incref()
        watch.started = time.monotonic()
        if outbox is not None:
            await outbox.room()
        try:
            result = await _stepped(step, message)
        except Exception as exc:  # noqa: BLE001  (a bad record must never stop the partition)
            watch.dead_lettered(await dead_letter(dead_topic, event, exc))
        else:
            await forward(message, result)
        if outbox is not None:
            outbox.hold(message)
        let_go(message, consumer, sensors)  # our reference; the stream still holds its own
        watch.started = None
        watch.records += 1


async def _stepped(step: Callable[[Any], Any], message: Any) -> Any:
    outcome = step(message)
    return await outcome if inspect.isawaitable(outcome) else outcome


async def _stepped_alone(step: Callable[[Any], Any], message: Any) -> Any:
    """A step run as its own task, with no outbox: a send from it waits for the broker rather
    than be counted as the outputs of whichever record is forwarded next."""
    ACTIVE_OUTBOX.set(None)
    return await _stepped(step, message)


class _InOrder:
    """The records of an agent with several steps in flight (see :func:`_run_concurrently`):
    taken ones, oldest first, with their step's task; one forwarding task works through them."""

    def __init__(self, role: _Role, outbox: Outbox, in_flight: int, watch: _Watch) -> None:
        self.step, self.forward, self.dead_topic = role
        self.outbox, self.watch = outbox, watch
        self.slots = asyncio.Semaphore(in_flight)
        self.taken: asyncio.Queue[tuple[Any, Any, asyncio.Task[Any]]] = asyncio.Queue()
        self.starts: deque[float] = deque()
        self.current: asyncio.Task[Any] | None = None

    async def take(self, event: Any) -> None:
        """Hold ``event``'s record at once (nothing from it on is committed, whatever
        happens while it waits), wait for a free slot, and start its step. The wait counts in
        the agent's age: a full outbox (a broker that stopped answering) shows as stuck."""
        held = self.outbox.take(event.message)
        self.starts.append(time.monotonic())
        self.watch.started = self.starts[0]
        await self.slots.acquire()
        await self.outbox.room()
        task = asyncio.ensure_future(_stepped_alone(self.step, event.message))
        self.taken.put_nowait((event, held, task))

    async def forwarding(self) -> None:
        """Forward or dead-letter each taken record's outcome, in the order they were taken."""
        while True:
            event, held, task = await self.taken.get()
            self.current = task
            try:
                result = await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # the forwarding itself is cancelled: the agent stops
                # The step was cancelled from outside (its pool shutting down): stop the agent
                # with the record uncommitted, to be processed again after the restart.
                msg = f"the step of offset {event.message.offset} was cancelled"
                raise RuntimeError(msg) from None
            except Exception as exc:  # noqa: BLE001  (a bad record must never stop the partition)
                self.watch.dead_lettered(await dead_letter(self.dead_topic, event, exc))
            else:
                await self.forward(event.message, result)
            self.outbox.finish(held)
            self.starts.popleft()
            self.watch.started = self.starts[0] if self.starts else None
            self.watch.records += 1
            self.slots.release()
            self.taken.task_done()

    def cancel_steps(self) -> None:
        if self.current is not None:
            self.current.cancel()
        while not self.taken.empty():
            self.taken.get_nowait()[2].cancel()


async def _run_concurrently(
    stream: faust.StreamT[Any], role: _Role, outbox: Outbox, in_flight: int, watch: _Watch
) -> None:
    """:func:`run_agent` with up to ``in_flight`` steps running at once.

    Each record is held by the outbox from the moment it is taken (so Faust cannot commit past
    it while its step runs) and its step starts as a task; one forwarding task takes the steps'
    outcomes in arrival order and forwards or dead-letters each, so outputs keep the records'
    order and the outbox lets records go in that order. An error that stops the forwarding (a
    send that cannot be retried) stops the agent with it; when the stream ends, what was taken
    is forwarded first.
    """
    records = _InOrder(role, outbox, in_flight, watch)
    agent = asyncio.current_task()
    forwarder = asyncio.ensure_future(records.forwarding())
    forwarder.add_done_callback(
        lambda done: agent.cancel() if agent and not done.cancelled() and done.exception() else None
    )
    try:
        async for event in stream.events():
            await records.take(event)
        await records.taken.join()
        if outbox.error is not None:
            raise outbox.error
    except asyncio.CancelledError:
        error = None if not forwarder.done() or forwarder.cancelled() else forwarder.exception()
        if error is not None:
            raise error from None
        raise
    finally:
        forwarder.cancel()
        records.cancel_steps()


class AgentSet:
    """The agents of one worker, by name; ready when all of them run."""

    def __init__(self, metrics: WorkerMetrics | None = None) -> None:
        """No agents yet; their dead letters are counted in ``metrics`` (a fresh
        :class:`WorkerMetrics` by default), which /metrics shows."""
        self.agents: dict[str, faust.types.AgentT[Any]] = {}
        self.watches: dict[str, _Watch] = {}
        self.metrics = metrics or WorkerMetrics()

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
        watch = self.watches[name] = _Watch(private=private, metrics=self.metrics)

        async def watched(stream: faust.StreamT[Any]) -> None:
            _WATCH.set(watch)
            await function(stream)

        # An error that escapes an agent (never a bad record: those are dead-lettered) stops
        # the worker, to be restarted and go on from the last commit. Faust's default would
        # restart the agent in place, past the records it held.
        self.agents[name] = app.agent(
            source, name=name, concurrency=1, supervisor_strategy=CrashingSupervisor
        )(watched)

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
