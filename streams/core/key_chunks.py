"""The keys-topic record format: a partner's evaluation keys, chunked and signed, and the
reassembly that checks every chunk. Pure: no I/O (both the partner's publisher and the scorer's
follower use it).

Evaluation keys are tens of MB and public (they let a scorer evaluate, never decrypt). A partner
publishes them once per key id on its own compacted topic ``<root>.<partner>.keys.v1``.

Record layout: key ``<partner>/<key id>/<digest prefix>/<chunk index>``, value the chunk's
bytes, headers ``fraud.partner``, ``fraud.key_id``, ``fraud.model``, ``fraud.chunk``,
``fraud.chunks``, ``fraud.digest`` (SHA-256 of the whole set), ``fraud.public_key`` (the
partner's Ed25519 public key, which hashes to the key id) and ``fraud.signature`` (over the
chunk's claim, :class:`models.fhe.proof.ChunkClaim`). Each chunk is checked on arrival and a
record that fails is dropped alone, so only a key id's owner can complete a set under it and a
stranger's record cannot spoil a set being collected; a set must name the partner whose topic
carries it. Readers keep at most :data:`MAX_PENDING` unfinished publications, at most
:data:`MAX_PENDING_PER_PARTNER` of any one partner (so no partner can push another's out), and
accept at most :data:`MAX_CHUNKS` chunks of at most :data:`CHUNK_BYTES` per set.

Give write access to a partner's keys topic to that partner's Kafka principal only (ACLs): then
no one else can publish under its name, nor write a record under the Kafka key of one of its
chunks (which compaction would keep instead of the real one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from models.errors import KeyMaterialError
from models.fhe.proof import KEY_ID_PATTERN, ChunkClaim, Signer, verify_chunk
from streams.core.errors import KeyRegistryError
from streams.core.headers import Headers, header_map

__all__ = [
    "CHUNK_BYTES",
    "MAX_CHUNKS",
    "MAX_PENDING",
    "MAX_PENDING_PER_PARTNER",
    "KeyAssembler",
    "KeyChunk",
    "KeySet",
    "chunk_records",
]

#: Chunk size: well under the 8 MiB topic limit and the producers' request size.
CHUNK_BYTES = 1024 * 1024
#: Most chunks a set may have (256 MiB), and most unfinished publications a reader keeps.
MAX_CHUNKS = 256
MAX_PENDING = 32
MAX_PENDING_PER_PARTNER = 2
_HEADERS = ("partner", "key_id", "model", "chunk", "chunks", "digest", "public_key", "signature")


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


def _chunk_of(value: bytes | None, headers: Headers) -> KeyChunk:
    """Parse and check one record: headers, bounds, key id, the owner's signature."""
    found = {k.removeprefix("fraud."): v for k, v in header_map(headers).items()}
    missing = [name for name in _HEADERS if name not in found]
    if missing:
        msg = f"registry record lacks headers {missing}"
        raise KeyRegistryError(msg)
    try:
        index, count = int(found["chunk"]), int(found["chunks"])
        public_key, signature = (
            bytes.fromhex(found["public_key"]),
            bytes.fromhex(found["signature"]),
        )
    except ValueError as exc:
        msg = "registry record has a non-numeric chunk index or count, or a non-hex signature"
        raise KeyRegistryError(msg) from exc
    if not 0 <= index < count <= MAX_CHUNKS:
        msg = f"registry chunk {index} of {count} is outside 0..{count - 1} or over {MAX_CHUNKS}"
        raise KeyRegistryError(msg)
    if not KEY_ID_PATTERN.fullmatch(found["key_id"]):
        msg = f"registry record has {found['key_id']!r} as key id (16 hex digits expected)"
        raise KeyRegistryError(msg)
    data = bytes(value or b"")
    if len(data) > CHUNK_BYTES:
        msg = f"registry chunk of {len(data)} bytes is over the {CHUNK_BYTES}-byte chunk size"
        raise KeyRegistryError(msg)
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
        raise KeyRegistryError(msg) from exc
    return KeyChunk(claim, public_key, data)


@dataclass
class KeyAssembler:
    """Collects checked chunks in any order; returns each key id's set once, when complete.

    Publications of one key id (the same owner, e.g. after a restart) are told apart by digest.
    ``partners``, when given, is the set of partners whose keys are taken; others are refused.
    ``on_drop`` is told the key id of an unfinished publication dropped to stay within
    :data:`MAX_PENDING`.
    """

    partners: frozenset[str] | None = None
    on_drop: Callable[[str], None] | None = None
    _parts: dict[tuple[str, str], dict[int, KeyChunk]] = field(default_factory=dict)
    _done: set[str] = field(default_factory=set)

    def add(
        self,
        value: bytes | None,
        headers: Headers,
        topic_partner: str | None = None,
    ) -> KeySet | None:
        """Add one record (read from ``topic_partner``'s keys topic, when given); return the key
        set it completes, if it completes one. A record that fails a check raises
        :class:`KeyRegistryError` and leaves everything collected as it was."""
        chunk = _chunk_of(value, headers)
        claim = chunk.claim
        if self.partners is not None and claim.partner not in self.partners:
            msg = f"registry record of partner {claim.partner!r}, which is not served here"
            raise KeyRegistryError(msg)
        if topic_partner is not None and claim.partner != topic_partner:
            msg = f"a set of partner {claim.partner!r} on the keys topic of {topic_partner!r}"
            raise KeyRegistryError(msg)
        if claim.key_id in self._done:
            return None
        publication = (claim.key_id, claim.digest)
        if publication not in self._parts:
            self._make_room(claim.partner)
        parts = self._parts.setdefault(publication, {})
        parts[claim.index] = chunk
        if len(parts) < claim.count:
            return None
        del self._parts[publication]
        data = b"".join(parts[i].data for i in range(claim.count))
        if hashlib.sha256(data).hexdigest() != claim.digest:
            msg = f"evaluation keys published under key id {claim.key_id} do not match their digest"
            raise KeyRegistryError(msg)
        self._done.add(claim.key_id)
        self._parts = {k: v for k, v in self._parts.items() if k[0] != claim.key_id}
        return KeySet(claim.partner, claim.key_id, claim.model_version, chunk.public_key, data)

    def _make_room(self, partner: str) -> None:
        """Drop the oldest unfinished publication of ``partner`` if it has its share, then the
        oldest of all if the reader holds its maximum."""
        own = [key for key, parts in self._parts.items() if _partner_of(parts) == partner]
        if len(own) >= MAX_PENDING_PER_PARTNER:
            self._drop(own[0])
        if len(self._parts) >= MAX_PENDING:
            self._drop(next(iter(self._parts)))

    def _drop(self, publication: tuple[str, str]) -> None:
        del self._parts[publication]
        if self.on_drop is not None:
            self.on_drop(publication[0])


def _partner_of(parts: dict[int, KeyChunk]) -> str:
    return next(iter(parts.values())).claim.partner
