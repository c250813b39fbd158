"""Sending a replay into topics (:mod:`streams.qa.replay_plan` says what and in which order).

Event time paces the messages: real speed (``speed=1``), a factor (``speed=60``: a minute of
events per second) or as fast as possible (``speed=None``). Kafka's timestamp of the sent message
is left to the broker (a 2018 timestamp would fall to the topic's retention within minutes).
After the warm-up, running partner gateways can be given the time to process it
(:func:`wait_for_gateways`). A broker refusing a message part-way stops the replay with a
:class:`~streams.core.errors.ReplayError` that says how much was sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams.broker.admin import admin_client, wait_consumed
from streams.core.errors import FraudStreamError, ReplayError
from streams.core.times import format_ms
from streams.core.topics import TopicNames, faust_app_id
from streams.qa.replay_plan import ReplayMessage

__all__ = ["ReplayReport", "format_ms", "send_replay", "wait_for_gateways"]


@dataclass
class ReplayReport:
    """What a replay sent."""

    per_topic: Counter[str] = field(default_factory=Counter)
    warm_up: int = 0
    live: int = 0
    first_event_ms: int | None = None
    last_event_ms: int | None = None
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        """Messages sent in all."""
        return sum(self.per_topic.values())

    def lines(self) -> list[str]:
        """The report in words."""
        span = ""
        if self.first_event_ms is not None and self.last_event_ms is not None:
            span = (
                f", event time {format_ms(self.first_event_ms)} → {format_ms(self.last_event_ms)}"
            )
        lines = [
            f"sent {self.sent} messages ({self.warm_up} warm-up, {self.live} live) "
            f"in {self.seconds:.1f} s{span}"
        ]
        lines += [f"  {count:>7}  {topic}" for topic, count in sorted(self.per_topic.items())]
        return lines


def send_replay(
    client_config: dict[str, Any],
    warm_up: Sequence[ReplayMessage],
    live: Sequence[ReplayMessage],
    *,
    speed: float | None,
    max_request_size: int = 1024 * 1024,
    after_warm_up: Callable[[], None] = lambda: None,
    progress: Callable[[int, int], None] = lambda sent, total: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Send ``warm_up`` as fast as possible, call ``after_warm_up``, then ``live`` paced by event
    time at ``speed`` (None: as fast as possible). Returns once the broker stored everything;
    anything that stops it part-way (the broker, Ctrl-C) is a :class:`ReplayError` saying how
    much was stored. ``max_request_size`` should be the topics' ``max.message.bytes``
    (encrypted messages are larger than the client's 1 MiB default)."""
    report = ReplayReport(warm_up=len(warm_up), live=len(live))
    times = [m.event_ms for m in [*warm_up, *live] if m.event_ms is not None]
    if times:
        report.first_event_ms, report.last_event_ms = min(times), max(times)
    started = clock()
    sender = _Sender(client_config, max_request_size, len(warm_up) + len(live), report, progress)
    try:
        for message in warm_up:
            sender.send(message)
        sender.settle()
        try:
            after_warm_up()
        except FraudStreamError as exc:
            msg = f"the {len(warm_up)} warm-up messages were sent, then: {exc}"
            raise sender.stopped(msg) from exc
        origin: tuple[float, int] | None = None
        for message in live:
            if speed is not None and message.event_ms is not None:
                if origin is None:
                    origin = (clock(), message.event_ms)
                due = origin[0] + (message.event_ms - origin[1]) / 1000 / speed
                if due > clock():
                    sender.producer.flush()
                    sleep(max(0.0, due - clock()))
            sender.send(message)
        sender.settle()
    except KeyboardInterrupt as exc:
        reason = "interrupted"
        raise sender.stopped(reason) from exc
    finally:
        sender.producer.close()
    report.seconds = clock() - started
    return report


class _Sender:
    """A producer that counts what the broker confirmed."""

    def __init__(
        self,
        client_config: dict[str, Any],
        max_request_size: int,
        total: int,
        report: ReplayReport,
        progress: Callable[[int, int], None],
    ) -> None:

        self.producer = KafkaProducer(
            **client_config, acks="all", linger_ms=5, max_request_size=max_request_size
        )
        self.total = total
        self.report = report
        self.progress = progress
        self.confirmed = 0
        self.pending: list[tuple[Any, ReplayMessage]] = []

    def stopped(self, reason: str) -> ReplayError:
        """The error that says how far the replay got."""
        return ReplayError(
            f"replay stopped after {self.confirmed} of {self.total} messages were stored (later "
            f"ones may be stored too; the rest was not sent): {reason}"
        )

    def send(self, message: ReplayMessage) -> None:
        """Send one message (waiting for confirmations once 1000 are in flight)."""

        try:
            future = self.producer.send(
                message.topic, key=message.key, value=message.value, headers=list(message.headers)
            )
        except (KafkaError, ValueError, AssertionError) as exc:
            reason = f"cannot send to {message.topic}: {exc!r}"
            raise self.stopped(reason) from exc
        self.pending.append((future, message))
        self.settle(limit=1000)
        self.progress(self.confirmed + len(self.pending), self.total)

    def settle(self, limit: int = 0) -> None:
        """Wait for confirmations until at most ``limit`` messages are in flight."""

        if not limit:
            self.producer.flush()
        while len(self.pending) > limit:
            future, message = self.pending.pop(0)
            try:
                future.get(timeout=60)
            except KafkaError as exc:
                reason = f"the broker refused a message for {message.topic}: {exc}"
                raise self.stopped(reason) from exc
            self.confirmed += 1
            self.report.per_topic[message.topic] += 1


def wait_for_gateways(
    client_config: dict[str, Any],
    app_id: str,
    names: TopicNames,
    partners: Iterable[str],
    *,
    say: Callable[[str], None] = lambda _: None,
    progress: Callable[[str, int], None] = lambda partner, lag: None,
    timeout: float = 600.0,
    only_running: bool = True,
) -> int:
    """Wait until each running partner gateway (consumer group ``<app_id>-partner-<p>``) has
    processed everything on its input topics; a partner whose gateway is not running is skipped
    with a word (with ``only_running=False`` every partner is waited for: its gateway is known
    to run). Returns how many gateways were waited for."""

    partners = sorted(set(partners))
    groups = {p: faust_app_id(app_id, "partner", p) for p in partners}
    states = _group_states(client_config, list(groups.values())) if only_running else {}
    waited = 0
    for partner, group_id in groups.items():
        state = states.get(group_id, "unknown")
        if only_running and state != "Stable":
            say(f"no gateway of {partner} is consuming ({group_id}: {state}): not waiting")
            continue
        waited += 1
        topics = [names.transactions(partner), names.labels(partner), names.validated(partner)]
        wait_consumed(
            client_config,
            group_id,
            topics,
            timeout=timeout,
            progress=lambda lag, p=partner: progress(p, lag),  # type: ignore[misc]
        )
    return waited


def _group_states(client_config: dict[str, Any], group_ids: list[str]) -> dict[str, str]:

    admin = admin_client(client_config)
    try:
        return {
            group_id: str(info.get("group_state", "unknown"))
            for group_id, info in admin.describe_groups(group_ids).items()
        }
    except KafkaError:
        return {}
    finally:
        admin.close()
