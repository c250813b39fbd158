"""Members in one process: a :class:`~models.federation.coordinator.Transport` that calls each
partner's trainer directly, for experiments and tests (the messages are the same signed frames
that travel over Kafka, so bytes and refusals are measured as they would be).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from models.errors import FederationError
from models.federation.trainer import PartnerTrainer
from models.federation.wire import Envelope, Members

__all__ = ["LocalTransport"]


def _always_there(member: str, round_id: str) -> bool:
    return True


@dataclass
class LocalTransport:
    """Delivers tasks to in-process trainers; ``answers(member, round)`` false drops the answer
    (a member that is down for that round)."""

    trainers: Mapping[str, PartnerTrainer]
    members: Members
    answers: Callable[[str, str], bool] = _always_there
    #: Refusals by a trainer, as (member, reason): a test reads them.
    refused: list[tuple[str, str]] = field(default_factory=list)

    def exchange(self, tasks: Mapping[str, bytes], timeout: float) -> dict[str, bytes]:
        """Each trainer's answer to its task, except those that are down."""
        replies = {}
        for name, frame in tasks.items():
            round_id = Envelope.decode(frame, self.members).round
            if name not in self.trainers or not self.answers(name, round_id):
                continue
            try:
                replies[name] = self.trainers[name].handle(frame)
            except FederationError as exc:
                self.refused.append((name, str(exc)))
        return replies
