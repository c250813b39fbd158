"""Following a partner's alerts (or scores) topic: the fraud analyst's live view.

A kafka-python consumer without a group (reading never moves anyone's offsets), from the
beginning or from now, until the end of the topic or, with ``follow``, until interrupted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

from streams.broker.admin import assigned_consumer
from streams.core.errors import SchemaError
from streams.core.outputs import Score

__all__ = ["ALERT_COLUMNS", "alert_row", "follow_records"]

#: (title, width) of the columns the alert follower prints.
ALERT_COLUMNS = (
    ("transaction time", 19),
    ("transaction", 11),
    ("card", 6),
    ("fields", 14),
    ("amount", 9),
    ("score", 6),
    ("threshold", 9),
    ("model", 12),
    ("end-to-end s", 12),
    ("FHE s", 6),
)


def _seconds(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f}"


def _fields(score: Score) -> str:
    """The declared fields' values (e.g. the terminal), comma separated, cut to the column."""
    text = ",".join(str(value) for value in score.fields.values()) or "-"
    width = ALERT_COLUMNS[3][1]
    return text if len(text) <= width else text[: width - 1] + "…"


def alert_row(score: Score) -> list[str]:
    """The cells of one alert (or score) record, in :data:`ALERT_COLUMNS` order."""
    return [
        score.timestamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        str(score.transaction_id),
        str(score.card_id),
        _fields(score),
        f"{score.amount:.2f}",
        f"{score.score:.3f}",
        f"{score.threshold:.3f}",
        score.model_version,
        _seconds(score.timings.end_to_end_ms),
        _seconds(score.timings.fhe_ms),
    ]


def follow_records(
    client_config: dict[str, Any],
    topic: str,
    *,
    follow: bool,
    from_beginning: bool = True,
    on_bad: Callable[[str], None] = lambda _: None,
    stopped: Callable[[], bool] = lambda: False,
    on_ready: Callable[[], None] = lambda: None,
) -> Iterator[Score]:
    """The score records of ``topic`` (an alerts or a scores topic); stops at its end unless
    ``follow``, and when ``stopped()`` holds (checked before each record and every half
    second). A record that is not a score is skipped and described to ``on_bad`` (where it is
    and why, never its values): one bad record must not end the fraud team's view. ``on_ready``
    is called once the topic is found, before the first record."""
    consumer = assigned_consumer(
        client_config,
        [topic],
        from_end=not from_beginning,
        hint=" (is the partner id right? is FRAUD_TOPIC_ROOT?)",
    )
    try:
        partitions = list(consumer.assignment())
        ends = consumer.end_offsets(partitions)
        on_ready()
        while not stopped():
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if stopped():
                        return
                    try:
                        score = Score.from_bytes(record.value)
                    except SchemaError as exc:
                        on_bad(f"{record.topic}:{record.partition}@{record.offset}: {exc}")
                        continue
                    yield score
            if not follow and all(consumer.position(tp) >= ends[tp] for tp in partitions):
                return
    finally:
        consumer.close()
