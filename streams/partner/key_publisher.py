"""Publishing the partner's evaluation keys on its own keys topic, once per key id.

Runs inside the partner at the gateway's start (and in the tools that make keys): the key set is
cut into signed chunks (:mod:`streams.core.key_chunks`) and sent unless the topic already holds
a complete set of this key id from this signer. :func:`read_key_sets` reads a keys topic to its
current end (the check before publishing, and a tool for tests and operators).
:func:`revoke_evaluation_keys` withdraws a key id: signed tombstones for its chunks, after which
every scorer drops it (``fraudstream keys revoke``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka import KafkaProducer, TopicPartition

from models.fhe.proof import Signer
from streams.broker.admin import keys_topic_consumer
from streams.core.errors import KeyRegistryError
from streams.core.key_chunks import (
    KeyAssembler,
    KeySet,
    chunk_records,
    revocation_records,
)
from streams.runtime.logs import get_logger

__all__ = ["publish_evaluation_keys", "read_key_sets", "revoke_evaluation_keys"]

_log = get_logger(__name__)


def read_key_sets(client_config: dict[str, Any], topic: str, partner: str) -> list[KeySet]:
    """Every complete key set on ``partner``'s keys topic now (read to its current end), less
    those revoked."""
    assembler = KeyAssembler(
        on_drop=lambda key_id: _log.warning("key_registry_publication_dropped", key_id=key_id)
    )
    found: list[KeySet] = []
    for record in _records(client_config, topic):
        try:
            complete = assembler.add(record.value, record.headers, partner)
        except KeyRegistryError as exc:  # someone else's junk must not stop us
            _log.warning("key_registry_record_refused", offset=record.offset, reason=str(exc))
            continue
        if isinstance(complete, KeySet):
            found.append(complete)
    return [key_set for key_set in found if key_set.key_id not in assembler.revoked]


def _records(client_config: dict[str, Any], topic: str) -> Iterator[Any]:
    """The records of a keys topic, from its beginning to its current end."""
    consumer = keys_topic_consumer(client_config, [topic])
    tp = TopicPartition(topic, 0)
    try:
        end = consumer.end_offsets([tp])[tp]
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=500).values():
                yield from records
    finally:
        consumer.close()


def revoke_evaluation_keys(
    client_config: dict[str, Any], topic: str, *, partner: str, key_id: str, signer: Signer
) -> int:
    """Revoke ``key_id`` on ``partner``'s keys topic (``signer`` is the key id's own): a signed
    tombstone for each of its chunk records, and a marker. Return the chunk records found."""
    prefix = f"{partner}/{key_id}/".encode()
    chunk_keys = sorted(
        {bytes(r.key) for r in _records(client_config, topic) if (r.key or b"").startswith(prefix)}
        - {prefix + b"revoked"}
    )
    producer = KafkaProducer(**client_config, acks="all")
    try:
        futures = [
            producer.send(topic, key=key, value=value, headers=headers)
            for key, value, headers in revocation_records(partner, key_id, chunk_keys, signer)
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=60)
    finally:
        producer.close()
    _log.warning("evaluation_keys_revoked", partner=partner, key_id=key_id, chunks=len(chunk_keys))
    return len(chunk_keys)


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
        for found in read_key_sets(client_config, topic, partner)
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
