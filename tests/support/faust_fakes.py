"""Stand-ins for the parts of Faust the runtime's unit tests do not start (its messages are
Faust's own class)."""

from __future__ import annotations

from faust.types.tuples import ConsumerMessage

__all__ = ["Consumer"]


class Consumer:
    """Records the offsets acknowledged to it, as Faust's consumer would commit them."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: ConsumerMessage) -> bool:
        message.acked = True
        self.acked.append(message.offset)
        return True
