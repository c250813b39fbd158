"""The evaluation-key registry: each partner's evaluation keys, chunked on its own compacted
topic ``<root>.<partner>.keys.v1``.

Evaluation keys are tens of MB and public (they let a scorer evaluate, never decrypt). A partner
publishes them once per key id on its own topic; every scorer replica reads the topics of the
partners it serves (no consumer group: each replica needs every key) and keeps following them, so
a new key id is picked up without a restart and older ones stay available for requests made
before a rotation.

Record layout: key ``<partner>/<key id>/<digest prefix>/<chunk index>``, value the chunk's
bytes, headers ``fraud.partner``, ``fraud.key_id``, ``fraud.model``, ``fraud.chunk``,
``fraud.chunks``, ``fraud.digest`` (SHA-256 of the whole set), ``fraud.public_key`` (the
partner's Ed25519 public key, which hashes to the key id) and ``fraud.signature`` (over the
chunk's claim, :class:`models.fhe.proof.ChunkClaim`). Each chunk is checked on arrival and a record
that fails is dropped alone, so only a key id's owner can complete a set under it and a stranger's
record cannot spoil a set being collected; a set must name the partner whose topic carries it.
Readers keep at most :data:`MAX_PENDING` unfinished publications and accept at most
:data:`MAX_CHUNKS` chunks per set.

Give write access to a partner's keys topic to that partner's Kafka principal only (ACLs): then
no one else can publish under its name, nor write a record under the Kafka key of one of its
chunks (which compaction would keep instead of the real one).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaProducer, TopicPartition

from models.errors import KeyMaterialError
from models.fhe.proof import KEY_ID_PATTERN, ChunkClaim, Signer, verify_chunk
from streams.broker.admin import assigned_consumer
from streams.core.errors import FraudStreamError
from streams.core.headers import header_map
from streams.runtime.logs import get_logger

__all__ = [
    "KeyAssembler",
    "KeyChunk",
    "KeySet",
    "KnownKey",
    "RegistryError",
    "RegistryFollower",
    "chunk_records",
    "publish_evaluation_keys",
    "read_registry",
]

_log = get_logger(__name__)
#: Chunk size: well under the 8 MiB topic limit and the producers' request size.
CHUNK_BYTES = 1024 * 1024
#: Most chunks a set may have (256 MiB), and most unfinished publications a reader keeps.
MAX_CHUNKS = 256
MAX_PENDING = 32
_HEADERS = ("partner", "key_id", "model", "chunk", "chunks", "digest", "public_key", "signature")


class RegistryError(FraudStreamError):
    """A registry record is malformed or a reassembled key set does not match its key id."""


@dataclass(frozen=True)
class KeyChunk:
    """One chunk of one key set, as read from the topic, its signature checked."""

    claim: ChunkClaim
    public_key: bytes
    data: bytes


@dataclass(frozen=True)
class KeySet:
    """A complete, checked set of evaluation keys."""

    partner: str
    key_id: str
    model_version: str
    public_key: bytes
    data: bytes


def chunk_records(
    partner: str,
    key_id: str,
    model_version: str,
    keys: bytes,
    signer: Signer,
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) of every record that publishes ``keys``, each chunk signed."""
    pieces = [keys[i : i + chunk_bytes] for i in range(0, len(keys), chunk_bytes)] or [b""]
    digest = hashlib.sha256(keys).hexdigest()
    records = []
    for index, piece in enumerate(pieces):
        claim = ChunkClaim(
            partner,
            key_id,
            model_version,
            digest,
            len(pieces),
            index,
            hashlib.sha256(piece).hexdigest(),
        )
        headers = [
            ("fraud.partner", partner.encode()),
            ("fraud.key_id", key_id.encode()),
            ("fraud.model", model_version.encode()),
            ("fraud.chunk", str(index).encode()),
            ("fraud.chunks", str(len(pieces)).encode()),
            ("fraud.digest", digest.encode()),
            ("fraud.public_key", signer.public_key.hex().encode()),
            ("fraud.signature", signer.sign(claim.message()).hex().encode()),
        ]
        records.append((f"{partner}/{key_id}/{digest[:16]}/{index}".encode(), piece, headers))
    return records


def _chunk_of(
    value: bytes | None, headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None
) -> KeyChunk:
    """Parse and check one record: headers, bounds, key id, the owner's signature."""
    found = {k.removeprefix("fraud."): v for k, v in header_map(headers).items()}
    missing = [name for name in _HEADERS if name not in found]
    if missing:
        msg = f"registry record lacks headers {missing}"
        raise RegistryError(msg)
    try:
        index, count = int(found["chunk"]), int(found["chunks"])
        public_key, signature = (
            bytes.fromhex(found["public_key"]),
            bytes.fromhex(found["signature"]),
        )
    except ValueError as exc:
        msg = "registry record has a non-numeric chunk index or count, or a non-hex signature"
        raise RegistryError(msg) from exc
    if not 0 <= index < count <= MAX_CHUNKS:
        msg = f"registry chunk {index} of {count} is outside 0..{count - 1} or over {MAX_CHUNKS}"
        raise RegistryError(msg)
    if not KEY_ID_PATTERN.fullmatch(found["key_id"]):
        msg = f"registry record has {found['key_id']!r} as key id (16 hex digits expected)"
        raise RegistryError(msg)
    data = bytes(value or b"")
    claim = ChunkClaim(
        found["partner"],
        found["key_id"],
        found["model"],
        found["digest"],
        count,
        index,
        hashlib.sha256(data).hexdigest(),
    )
    try:
        verify_chunk(public_key, signature, claim)
    except KeyMaterialError as exc:
        msg = f"registry record refused: {exc}"
        raise RegistryError(msg) from exc
    return KeyChunk(claim, public_key, data)


@dataclass
class KeyAssembler:
    """Collects checked chunks in any order; returns each key id's set once, when complete.

    Publications of one key id (the same owner, e.g. after a restart) are told apart by digest.
    ``partners``, when given, is the set of partners whose keys are taken; others are refused.
    """

    partners: frozenset[str] | None = None
    _parts: dict[tuple[str, str], dict[int, KeyChunk]] = field(default_factory=dict)
    _done: set[str] = field(default_factory=set)

    def add(
        self,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None,
        topic_partner: str | None = None,
    ) -> KeySet | None:
        """Add one record (read from ``topic_partner``'s keys topic, when given); return the key
        set it completes, if it completes one. A record that fails a check raises
        :class:`RegistryError` and leaves everything collected as it was."""
        chunk = _chunk_of(value, headers)
        claim = chunk.claim
        if self.partners is not None and claim.partner not in self.partners:
            msg = f"registry record of partner {claim.partner!r}, which is not served here"
            raise RegistryError(msg)
        if topic_partner is not None and claim.partner != topic_partner:
            msg = f"a set of partner {claim.partner!r} on the keys topic of {topic_partner!r}"
            raise RegistryError(msg)
        if claim.key_id in self._done:
            return None
        publication = (claim.key_id, claim.digest)
        if publication not in self._parts and len(self._parts) >= MAX_PENDING:
            dropped = next(iter(self._parts))  # the oldest unfinished publication
            del self._parts[dropped]
            _log.warning("key_registry_publication_dropped", key_id=dropped[0])
        parts = self._parts.setdefault(publication, {})
        parts[claim.index] = chunk
        if len(parts) < claim.count:
            return None
        del self._parts[publication]
        data = b"".join(parts[i].data for i in range(claim.count))
        if hashlib.sha256(data).hexdigest() != claim.digest:
            msg = f"evaluation keys published under key id {claim.key_id} do not match their digest"
            raise RegistryError(msg)
        self._done.add(claim.key_id)
        self._parts = {k: v for k, v in self._parts.items() if k[0] != claim.key_id}
        return KeySet(claim.partner, claim.key_id, claim.model_version, chunk.public_key, data)


def _consumer(client_config: dict[str, Any], topics: Sequence[str]) -> Any:
    return assigned_consumer(
        client_config,
        topics,
        hint=" (a partner's evaluation keys): run `fraudstream topics create`",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )


def read_registry(client_config: dict[str, Any], topic: str, partner: str) -> Iterator[KeySet]:
    """Every complete key set on ``partner``'s keys topic now (read to its current end)."""
    consumer = _consumer(client_config, [topic])
    tp = TopicPartition(topic, 0)
    assembler = KeyAssembler()
    try:
        end = consumer.end_offsets([tp])[tp]
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    try:
                        complete = assembler.add(record.value, record.headers, partner)
                    except RegistryError as exc:  # someone else's junk must not stop us
                        _log.warning(
                            "key_registry_record_refused", offset=record.offset, reason=str(exc)
                        )
                        continue
                    if complete is not None:
                        yield complete
    finally:
        consumer.close()


def publish_evaluation_keys(
    client_config: dict[str, Any],
    topic: str,
    *,
    partner: str,
    key_id: str,
    model_version: str,
    keys: bytes,
    signer: Signer,
    max_message_bytes: int,
) -> bool:
    """Publish ``keys`` (each chunk signed by ``signer``) unless the registry already holds a
    complete set of this key id from this signer; return True if sent."""
    if any(
        found.key_id == key_id and found.public_key == signer.public_key
        for found in read_registry(client_config, topic, partner)
    ):
        return False
    producer = KafkaProducer(
        **client_config, acks="all", max_request_size=max_message_bytes, linger_ms=20
    )
    try:
        futures = [
            producer.send(topic, key=key, value=value, headers=headers)
            for key, value, headers in chunk_records(partner, key_id, model_version, keys, signer)
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=60)
    finally:
        producer.close()
    _log.info(
        "evaluation_keys_published",
        partner=partner,
        key_id=key_id,
        model=model_version,
        megabytes=round(len(keys) / 1e6, 1),
        chunks=len(futures),
    )
    return True


@dataclass(frozen=True)
class KnownKey:
    """A key id the follower has stored: whose it is, for which model, where its bytes are."""

    partner: str
    model_version: str
    path: Path


class RegistryFollower:
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
        self._on_key = on_key
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="key-registry", daemon=True)
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
        return frozenset(self._known)

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until everything on the topic at start was read."""
        return self._caught_up.wait(timeout)

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as exc:  # noqa: BLE001  (the scorer reads it: not ready, requests wait)
            self.error = exc
            _log.error("key_registry_failed", error_class=type(exc).__name__, reason=str(exc))

    def _follow(self) -> None:
        consumer = _consumer(self._config, sorted(self._partner_of))
        tps = [TopicPartition(topic, 0) for topic in sorted(self._partner_of)]
        assembler = KeyAssembler(partners=frozenset(self._partner_of.values()))
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
        finally:
            consumer.close()

    def _take(self, assembler: KeyAssembler, record: Any) -> None:
        try:
            complete = assembler.add(record.value, record.headers, self._partner_of[record.topic])
        except RegistryError as exc:
            _log.warning("key_registry_record_refused", offset=record.offset, reason=str(exc))
            return
        if complete is None:
            return
        path = self.directory / f"{complete.key_id}.keys"
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_bytes(complete.data)
        staging.replace(path)
        known = KnownKey(complete.partner, complete.model_version, path)
        self._known[complete.key_id] = known
        _log.info(
            "evaluation_keys_loaded",
            partner=complete.partner,
            key_id=complete.key_id,
            model=complete.model_version,
        )
        if self._on_key is not None:
            self._on_key(known)
