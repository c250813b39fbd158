"""The scorer's copy of every partner's evaluation keys: a thread follows the keys topics.

Every scorer replica reads the keys topics of the partners it serves (no consumer group: each
replica needs every key) and keeps following them, so a new key id is picked up without a
restart and older ones stay available for requests made before a rotation. Each complete,
checked key set (:mod:`streams.core.key_chunks`) is written to a local folder
(``<key id>.keys``, atomically), from which the FHE pool's processes load it: the topics are
read once per scorer, not once per evaluation process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kafka import TopicPartition

from streams.broker.admin import keys_topic_consumer
from streams.core.errors import KeyRegistryError
from streams.core.key_chunks import KeyAssembler
from streams.runtime.logs import get_logger

__all__ = ["MAX_KEYS_PER_PARTNER", "KeyFollower", "KeySource", "KnownKey"]

_log = get_logger(__name__)
#: Key sets held per partner (tens of MB each): the newest ones; publishing more drops the
#: partner's oldest, never another partner's.
MAX_KEYS_PER_PARTNER = 4


@dataclass(frozen=True)
class KnownKey:
    """A key id the follower has stored: whose it is, for which model, where its bytes are."""

    partner: str
    model_version: str
    path: Path
    #: The partner's registry key for this key id (Ed25519, raw): it signs the requests.
    public_key: bytes


class KeySource(Protocol):
    """Where the scorer finds evaluation keys: :class:`KeyFollower` in a worker; a test may give
    its own (key sets written to ``directory`` as ``<key id>.keys``)."""

    directory: Path
    error: Exception | None

    def start(self) -> None:
        """Begin collecting keys."""

    def get(self, key_id: str) -> KnownKey | None:
        """The stored key set of ``key_id``, if it has arrived."""

    def known_key_ids(self) -> frozenset[str]:
        """Every key id stored so far."""

    def wait_caught_up(self, timeout: float) -> bool:
        """Whether every key published before the start has been read."""

    def reads_done(self) -> int:
        """A mark: how many reads of the topics have completed so far."""

    def read_everything_since(self, mark: int) -> bool:
        """Whether reads begun after ``mark`` found nothing more published on the topics."""


class KeyFollower:
    """Follows the partners' keys topics in a thread; stores each complete key set in
    ``directory``.

    Scorer processes load keys from ``directory`` (``<key id>.keys``, written atomically), so
    the registry is read once per scorer, not once per evaluation process.
    """

    def __init__(
        self,
        client_config: dict[str, Any],
        topics: Mapping[str, str],
        directory: Path,
        on_key: Callable[[KnownKey], None] | None = None,
    ) -> None:
        """Prepare to follow ``topics`` (keys topic by partner); :meth:`start` begins."""
        self._config = client_config
        self._partner_of = {topic: partner for partner, topic in topics.items()}
        self.directory = directory
        self._known: dict[str, KnownKey] = {}
        self._lock = threading.Lock()  # the follower thread writes, the event loop reads
        self._on_key = on_key
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="key-registry", daemon=True)
        self._reads = 0
        self._settled_at = -1
        #: Why following stopped, if it failed (the scorer then reports not ready).
        self.error: Exception | None = None

    def start(self) -> None:
        """Start following in a daemon thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following (returns once the thread is done)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def get(self, key_id: str) -> KnownKey | None:
        """The stored key set of ``key_id``, if it has arrived."""
        return self._known.get(key_id)

    def known_key_ids(self) -> frozenset[str]:
        """Every key id stored so far."""
        with self._lock:
            return frozenset(self._known)

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until everything on the topic at start was read."""
        return self._caught_up.wait(timeout)

    def reads_done(self) -> int:
        """A mark: how many polls of the topics have completed so far."""
        return self._reads

    def read_everything_since(self, mark: int) -> bool:
        """Whether a poll begun after ``mark`` (two after it: a fetch may have been in flight
        at the mark) ended with every topic read to its end."""
        return self._settled_at >= mark + 2

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as exc:  # noqa: BLE001  (the scorer reads it: not ready, requests wait)
            self.error = exc
            _log.error("key_registry_failed", error_class=type(exc).__name__, reason=str(exc))

    def _follow(self) -> None:
        consumer = keys_topic_consumer(self._config, sorted(self._partner_of))
        tps = [TopicPartition(topic, 0) for topic in sorted(self._partner_of)]
        assembler = KeyAssembler(
            partners=frozenset(self._partner_of.values()),
            on_drop=lambda key_id: _log.warning("key_registry_publication_dropped", key_id=key_id),
        )
        try:
            ends = consumer.end_offsets(tps)
            while not self._stop.is_set():
                if not self._caught_up.is_set() and all(
                    consumer.position(tp) >= ends[tp] for tp in tps
                ):
                    self._caught_up.set()
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        self._take(assembler, record)
                self._reads += 1
                if all(_read_to_end(consumer, tp) for tp in tps):
                    self._settled_at = self._reads
        finally:
            consumer.close()

    def _take(self, assembler: KeyAssembler, record: Any) -> None:
        try:
            complete = assembler.add(record.value, record.headers, self._partner_of[record.topic])
        except KeyRegistryError as exc:
            _log.warning("key_registry_record_refused", offset=record.offset, reason=str(exc))
            return
        if complete is None:
            return
        path = self.directory / f"{complete.key_id}.keys"
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_bytes(complete.data)
        staging.replace(path)
        known = KnownKey(complete.partner, complete.model_version, path, complete.public_key)
        with self._lock:
            self._known[complete.key_id] = known
            self._keep_newest(complete.partner)
        _log.info(
            "evaluation_keys_loaded",
            partner=complete.partner,
            key_id=complete.key_id,
            model=complete.model_version,
        )
        if self._on_key is not None:
            self._on_key(known)

    def _keep_newest(self, partner: str) -> None:
        held = [key_id for key_id, known in self._known.items() if known.partner == partner]
        for key_id in held[: max(0, len(held) - MAX_KEYS_PER_PARTNER)]:
            dropped = self._known.pop(key_id)
            dropped.path.unlink(missing_ok=True)
            _log.warning("evaluation_keys_dropped", partner=partner, key_id=key_id)


def _read_to_end(consumer: Any, tp: TopicPartition) -> bool:
    """Whether the consumer's position is at the partition's end as the last fetch saw it."""
    highwater = consumer.highwater(tp)
    return highwater is not None and consumer.position(tp) >= highwater
