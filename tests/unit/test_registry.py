"""Evaluation keys chunked for the registry topic and put back together, in any order, and
accepted only from the owner of their key id."""

from __future__ import annotations

import hashlib
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.proof import key_id_of, proof_message
from streams.agents import request_id_of
from streams.registry import KeyAssembler, RegistryError, chunk_records
from streams.wire import header_map


class Owner:
    """A partner's signing key, as models.keys derives it from a seed."""

    def __init__(self, partner: str = "alpha") -> None:
        self.partner = partner
        self.signer = Ed25519PrivateKey.generate()
        self.public = self.signer.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public)

    def proof(self, data: bytes, key_id: str | None = None) -> tuple[bytes, bytes]:
        digest = hashlib.sha256(data).hexdigest()
        message = proof_message(self.partner, key_id or self.key_id, "m1", digest)
        return self.public, self.signer.sign(message)

    def records(self, data: bytes, chunk_bytes: int = 1024) -> list:
        return chunk_records(
            self.partner, self.key_id, "m1", data, self.proof(data), chunk_bytes=chunk_bytes
        )


def assemble(records: list) -> list:
    assembler = KeyAssembler()
    done = [assembler.add(value, headers) for _, value, headers in records]
    return [d for d in done if d is not None]


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 1024 + 17])
def test_chunks_reassemble_in_any_order(size: int) -> None:
    owner = Owner()
    data = random.Random(size).randbytes(size)  # noqa: S311  (test data, not a secret)
    records = owner.records(data)
    assert all(len(value) <= 1024 for _, value, _ in records)
    assert len({key for key, _, _ in records}) == len(records)  # compaction keeps every chunk
    random.Random(0).shuffle(records)  # noqa: S311
    assembler = KeyAssembler()
    done = [assembler.add(value, headers) for _, value, headers in records]
    complete = [d for d in done if d is not None]
    assert len(complete) == 1
    assert complete[0].data == data
    assert (complete[0].partner, complete[0].key_id, complete[0].model_version) == (
        "alpha",
        owner.key_id,
        "m1",
    )
    # A chunk read again (e.g. the topic re-read) does not complete the set twice.
    _, value, headers = records[0]
    assert assembler.add(value, headers) is None


def test_keys_that_do_not_match_their_digest_are_refused() -> None:
    records = Owner().records(random.Random(1).randbytes(2000))  # noqa: S311
    assembler = KeyAssembler()
    for _, value, headers in records[:-1]:
        assembler.add(value, headers)
    _, value, headers = records[-1]
    with pytest.raises(RegistryError, match="do not match their digest"):
        assembler.add(bytes([value[0] ^ 1]) + value[1:], headers)


def test_only_the_owner_of_a_key_id_can_publish_under_it() -> None:
    """Another partner cannot put its evaluation keys under alpha's key id: neither with its
    own public key (it does not hash to the id) nor with alpha's (its signature fails)."""
    alpha, mallory = Owner("alpha"), Owner("bravo")
    data = random.Random(2).randbytes(1500)  # noqa: S311
    forged = chunk_records("bravo", alpha.key_id, "m1", data, mallory.proof(data, alpha.key_id))
    with pytest.raises(RegistryError, match="is not that key id's"):
        assemble(forged)
    borrowed = chunk_records(
        "bravo", alpha.key_id, "m1", data, (alpha.public, mallory.proof(data, alpha.key_id)[1])
    )
    with pytest.raises(RegistryError, match="not signed by its owner"):
        assemble(borrowed)
    replayed = chunk_records("bravo", alpha.key_id, "m1", data, alpha.proof(data))
    with pytest.raises(RegistryError, match="not signed by its owner"):  # signed for alpha
        assemble(replayed)
    traversal = chunk_records("bravo", "../../etc/passwd", "m1", data, mallory.proof(data))
    with pytest.raises(RegistryError, match="16 hex digits"):
        assemble(traversal)


def test_a_second_publication_of_a_key_id_completes_despite_an_unfinished_first() -> None:
    """A gateway stopped mid-publication and restarted publishes new bytes (fresh noise) under
    the same key id: the leftovers of the first do not block the second."""
    owner = Owner()
    first = owner.records(random.Random(4).randbytes(3000))  # noqa: S311
    second = owner.records(random.Random(5).randbytes(3000))  # noqa: S311
    assert {k for k, _, _ in first}.isdisjoint({k for k, _, _ in second})
    complete = assemble([*first[:2], *second])
    assert len(complete) == 1
    assert complete[0].data == random.Random(5).randbytes(3000)  # noqa: S311


def test_records_without_registry_headers_are_refused() -> None:
    with pytest.raises(RegistryError, match="lacks headers"):
        KeyAssembler().add(b"x", [("fraud.partner", b"alpha")])
    with pytest.raises(RegistryError, match="outside"):
        KeyAssembler().add(
            b"x",
            [
                ("fraud.partner", b"alpha"),
                ("fraud.key_id", b"k"),
                ("fraud.model", b"m"),
                ("fraud.chunk", b"3"),
                ("fraud.chunks", b"2"),
                ("fraud.digest", b"d"),
                ("fraud.public_key", b"00"),
                ("fraud.signature", b"00"),
            ],
        )


def test_request_ids_are_stable_opaque_and_partner_specific() -> None:
    secret = b"s" * 32
    first = request_id_of(secret, "alpha", 1234)
    assert first == request_id_of(secret, "alpha", 1234)  # a replay after a crash joins
    assert first != request_id_of(secret, "bravo", 1234)
    assert first != request_id_of(b"t" * 32, "alpha", 1234)
    assert "1234" not in first
    assert len(first) == 32


def test_header_map_reads_lists_and_mappings() -> None:
    assert header_map([("a", b"1"), ("b", b"\xff")]) == {"a": "1"}
    assert header_map({"a": b"2"}) == {"a": "2"}
    assert header_map(None) == {}


def test_chunks_that_disagree_on_their_count_are_refused() -> None:
    owner = Owner()
    data = random.Random(3).randbytes(3000)  # noqa: S311
    first = owner.records(data, chunk_bytes=1024)
    other = owner.records(data, chunk_bytes=2048)
    assembler = KeyAssembler()
    assembler.add(first[0][1], first[0][2])
    with pytest.raises(RegistryError, match="disagree"):
        assembler.add(other[1][1], other[1][2])
