"""The contributor's watermark: an hour is closed only when every partition has shown it is past
it, and never while a label already written is unread."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from kafka import TopicPartition

from streams.federation.shared_sums import _Watermark

TX = [TopicPartition("tx", 0), TopicPartition("tx", 1)]
LABELS = [TopicPartition("labels", 0)]


@dataclass
class Positions:
    """A consumer's assignment, positions and end offsets (what the watermark asks of it)."""

    position_of: dict[TopicPartition, int]
    ends: dict[TopicPartition, int]
    asked: list[int] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return set(self.position_of)

    def position(self, tp: TopicPartition) -> int:
        return self.position_of[tp]

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked.append(len(partitions))
        return {tp: self.ends[tp] for tp in partitions}


def _record(partition: int) -> SimpleNamespace:
    return SimpleNamespace(topic="tx", partition=partition)


def _watermark(consumer: Positions) -> _Watermark:
    watermark = _Watermark(consumer, "tx", "labels")
    watermark._asked = -1.0
    return watermark


def test_a_partition_behind_holds_the_time_back() -> None:
    """Partition 1 read up to day 9, partition 0 only to day 2 and not at its end: day 2."""
    consumer = Positions({TX[0]: 5, TX[1]: 50, LABELS[0]: 3}, {TX[0]: 40, TX[1]: 50, LABELS[0]: 3})
    watermark = _watermark(consumer)
    watermark.saw(_record(0), 2 * 86_400)
    watermark.saw(_record(1), 9 * 86_400)
    assert watermark.now() == 2 * 86_400
    consumer.position_of[TX[0]] = 40
    watermark._asked = -1.0
    assert watermark.now() == 9 * 86_400


def test_no_time_while_labels_are_unread_or_a_partition_behind_showed_none() -> None:
    """Unread labels: no time; a partition behind that has shown no event yet: no time."""
    consumer = Positions({TX[0]: 0, TX[1]: 50, LABELS[0]: 1}, {TX[0]: 40, TX[1]: 50, LABELS[0]: 3})
    watermark = _watermark(consumer)
    watermark.saw(_record(1), 9 * 86_400)
    assert watermark.now() is None
    consumer.position_of[LABELS[0]] = 3
    watermark._asked = -1.0
    assert watermark.now() is None  # partition 0 is behind and has shown nothing
