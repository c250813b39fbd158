"""Fixes for faust-streaming 0.15.3 that this project cannot do without: no record skipped when a
worker with tables recovers them and resumes its source partitions.

Seen here: a partner gateway restarted after a crash, with table changelogs to restore and source
partitions without a committed offset, processed offsets 0 and 1 of a partition and then jumped
to offset 109; the next commit moved past the gap, so the records in it were lost. Two things
combine:

1. after restoring the tables, ``Recovery.on_recovery_completed`` resumes the source partitions,
   seeks them, and only then resumes the flow, which clears the streams' queues: what was fetched
   and queued in between is thrown away while the read offset has moved past it (faust's gap
   handling then acks the hole). PR #217 fixed a similar order for apps without tables;
2. aiokafka's ``seek_to_committed`` does not seek a partition whose committed offset is missing
   or 0, so nothing repairs the fetch position of such a partition.

The fixes: resume the flow first (clearing queues that hold nothing of the source partitions
yet), then resume the partitions and seek them (1); seek source partitions without a committed
offset to their beginning, which is what ``auto_offset_reset="earliest"`` means (2). At worst a
record is processed twice. The crash test (tests/integration/test_worker_crash.py) and the
restart test (tests/integration/test_gateway_state.py) cover both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

__all__ = ["apply"]

_applied = False


async def _seek_to_committed(self: Any) -> Mapping[Any, int]:
    """Seek to committed offsets; source partitions without one (or at 0) to their beginning.

    Table changelog partitions are left to the table recovery, which positions them itself.
    """
    consumer = self._ensure_consumer()
    committed: Mapping[Any, int] = await self.call_thread(consumer.seek_to_committed)
    changelogs = self.consumer.app.tables.changelog_topics
    unset = [tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs]
    if unset:
        await self.call_thread(consumer.seek_to_beginning, *unset)
    return committed


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """faust's ``Recovery.on_recovery_completed``: resume the flow, then the partitions, seek."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(
            table.on_recovery_completed(
                self.actives_for_table[table], self.standbys_for_table[table]
            )
        )
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(
            f"Recovery rebalancing again app id {self.app.consumer_generation_id} "
            f"param {generation_id}"
        )
        return
    # Resuming the flow clears the streams' queues: do it before the source partitions deliver
    # anything, so that nothing fetched from their positions is thrown away.
    self.app.flow_control.resume()
    consumer.resume_flow()
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    if assignment:
        self.log.info("Seek stream partitions to committed offsets (flow resumed first).")
        await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
    self.completed.set()
    await self.app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


def apply() -> None:
    """Install the fixes (idempotent)."""
    global _applied  # noqa: PLW0603
    if not _applied:
        AIOKafkaConsumerThread.seek_to_committed = _seek_to_committed  # type: ignore[method-assign]
        Recovery.on_recovery_completed = _on_recovery_completed  # type: ignore[method-assign]
        _applied = True
