"""The gateway's feed of shared counts: the aggregator's signed sums, read as they come.

A thread reads ``<root>.federation.shared-counts.v1`` from its beginning (no consumer group:
every worker needs every round) and queues each round's sums once its signature checks against
the aggregator's pinned key; the gateway applies what is queued to its
:class:`~models.features.shared.SharedCounts` on its own event loop, before each feature step
(:meth:`SumsFollower.apply`), so the sums never change under a computation. A round is applied
once (the aggregator re-publishes the same sums after a restart). A refused record is logged
and skipped; until a round's sums come, the gateway counts that hour from its own transactions,
and the score's ``shared_fallback_buckets`` says how many hours did.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from models.errors import FederationError, SharedCountsError
from models.features.shared import SharedCounts
from models.federation.shared_rounds import SharedSums, read_sums
from models.federation.wire import Members
from streams.broker.admin import assigned_consumer
from streams.runtime.logs import get_logger

__all__ = ["SumsFollower"]

_log = get_logger(__name__)


class SumsFollower:
    """Reads the aggregator's sums of ``run`` in a thread; :meth:`apply` hands them over."""

    def __init__(
        self,
        client_config: dict[str, Any],
        topic: str,
        *,
        members: Members,
        aggregator: str,
        run: str,
        max_message_bytes: int,
    ) -> None:
        """Follow ``topic``, accepting only ``aggregator``'s sums (pinned in ``members``)."""
        self._config, self._topic = client_config, topic
        self._members, self._aggregator, self._run = members, aggregator, run
        self._max = max_message_bytes
        self._queue: queue.SimpleQueue[SharedSums] = queue.SimpleQueue()
        self._applied: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refused = 0

    def start(self) -> None:
        """Start reading (the topic must exist: ``fraudstream topics create`` declares it)."""
        consumer = assigned_consumer(
            self._config,
            [self._topic],
            hint=": `fraudstream topics create` or `fraudstream federate aggregate` creates it",
            fetch_max_bytes=self._max * 4,
            max_partition_fetch_bytes=self._max,
        )
        self._thread = threading.Thread(
            target=self._follow, args=(consumer,), name="sums-follower", daemon=True
        )
        self._thread.start()

    def _follow(self, consumer: Any) -> None:
        try:
            while not self._stop.is_set():
                for record in (r for b in consumer.poll(timeout_ms=500).values() for r in b):
                    try:
                        sums = read_sums(record.value, self._members, self._aggregator, self._run)
                    except FederationError as exc:
                        self.refused += 1
                        _log.warning("shared_sums_refused", reason=str(exc), offset=record.offset)
                        continue
                    if sums is not None:
                        self._queue.put(sums)
        finally:
            consumer.close()

    def apply(self, shared: SharedCounts) -> int:
        """Add every round queued since the last call to ``shared``; how many were new."""
        added = 0
        while True:
            try:
                sums = self._queue.get_nowait()
            except queue.Empty:
                return added
            key = (sums.entity, sums.time_bucket)
            if key in self._applied or sums.entity not in shared.config.entities:
                continue
            try:
                shared.add(sums.entity, sums.time_bucket, sums.transactions, sums.frauds)
            except SharedCountsError as exc:
                self.refused += 1
                _log.warning("shared_sums_refused", reason=str(exc), round=key)
                continue
            self._applied.add(key)
            added += 1

    def stop(self) -> None:
        """Stop reading."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
