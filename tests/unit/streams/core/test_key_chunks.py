"""Evaluation keys chunked for the registry topic and put back together, in any order, and
accepted only from the owner of their key id."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.fhe.proof import key_id_of
from streams.core.errors import KeyRegistryError
from streams.core.headers import header_map
from streams.core.key_chunks import (
    CHUNK_BYTES,
    MAX_CHUNKS,
    MAX_PENDING,
    MAX_PENDING_PER_PARTNER,
    KeyAssembler,
    chunk_records,
)
from streams.partner.context import request_id_of


class Owner:
    """A partner's publication signer, as models.fhe.client.seed derives it from a seed."""

    def __init__(self, partner: str = "alpha") -> None:
        self.partner = partner
        self._key = Ed25519PrivateKey.generate()
        self.public_key = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def records(self, data: bytes, chunk_bytes: int = 1024, key_id: str | None = None) -> list:
        return chunk_records(
            self.partner, key_id or self.key_id, "m1", data, self, chunk_bytes=chunk_bytes
        )


def assemble(records: list, assembler: KeyAssembler | None = None) -> list:
    assembler = assembler or KeyAssembler()
    done = [assembler.add(value, headers) for _, value, headers in records]
    return [d for d in done if d is not None]


def with_header(record: tuple, name: str, value: bytes) -> tuple:
    key, data, headers = record
    return key, data, [(k, value if k == name else v) for k, v in headers]


def data_of(seed: int, size: int = 3000) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311  (test data, not a secret)


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 1024 + 17])
def test_chunks_reassemble_in_any_order(size: int) -> None:
    owner = Owner()
    data = data_of(size, size)
    records = owner.records(data)
    assert all(len(value) <= 1024 for _, value, _ in records)
    assert len({key for key, _, _ in records}) == len(records)  # compaction keeps every chunk
    random.Random(0).shuffle(records)  # noqa: S311
    assembler = KeyAssembler()
    complete = assemble(records, assembler)
    assert len(complete) == 1
    assert complete[0].data == data
    assert (complete[0].partner, complete[0].key_id, complete[0].model_version) == (
        "alpha",
        owner.key_id,
        "m1",
    )
    assert complete[0].public_key == owner.public_key
    # A chunk read again (e.g. the topic re-read) does not complete the set twice.
    _, value, headers = records[0]
    assert assembler.add(value, headers) is None


def test_a_damaged_chunk_is_refused_alone_and_the_real_one_completes_the_set() -> None:
    records = Owner().records(data_of(1, 2000))
    assembler = KeyAssembler()
    assert assemble(records[:-1], assembler) == []
    _, value, headers = records[-1]
    with pytest.raises(KeyRegistryError, match="not signed by its owner"):
        assembler.add(bytes([value[0] ^ 1]) + value[1:], headers)
    assert len(assemble(records[-1:], assembler)) == 1


def test_only_the_owner_of_a_key_id_can_publish_under_it() -> None:
    """Another partner cannot put its evaluation keys under alpha's key id: neither with its
    own public key (it does not hash to the id) nor with alpha's (its signature fails)."""
    alpha, mallory = Owner("alpha"), Owner("bravo")
    data = data_of(2, 1500)
    with pytest.raises(KeyRegistryError, match="is not that key id's"):
        assemble(mallory.records(data, key_id=alpha.key_id))
    borrowed = [
        with_header(r, "fraud.public_key", alpha.public_key.hex().encode())
        for r in mallory.records(data, key_id=alpha.key_id)
    ]
    with pytest.raises(KeyRegistryError, match="not signed by its owner"):
        assemble(borrowed)
    renamed = [with_header(r, "fraud.partner", b"bravo") for r in alpha.records(data)]
    with pytest.raises(KeyRegistryError, match="not signed by its owner"):  # signed for alpha
        assemble(renamed)
    with pytest.raises(KeyRegistryError, match="16 hex digits"):
        assemble(mallory.records(data, key_id="../../etc/passwd"))


def test_records_written_by_someone_else_do_not_spoil_a_set_being_collected() -> None:
    """Injected records under alpha's key id and digest (another partner name, another chunk
    count, junk bytes) are refused one by one; alpha's set still completes."""
    alpha = Owner("alpha")
    records = alpha.records(data_of(6))
    assembler = KeyAssembler()
    assemble(records[:1], assembler)
    first = records[0]
    for injected in (
        with_header(first, "fraud.partner", b"bravo"),
        with_header(first, "fraud.chunks", b"7"),
        (first[0], b"junk", first[2]),
    ):
        with pytest.raises(KeyRegistryError):
            assembler.add(injected[1], injected[2])
    complete = assemble(records[1:], assembler)
    assert [c.data for c in complete] == [data_of(6)]


def test_a_reader_holds_bounded_unfinished_work() -> None:
    """Unsigned junk is never buffered; signed unfinished publications are capped; a set may
    not claim more than MAX_CHUNKS chunks; a follower takes only the partners it serves."""
    assembler = KeyAssembler()
    junk = with_header(Owner().records(data_of(7))[0], "fraud.signature", b"00" * 64)
    for _ in range(100):
        with pytest.raises(KeyRegistryError):
            assembler.add(junk[1], junk[2])
    assert not assembler._parts
    dropped: list[str] = []
    assembler.on_drop = dropped.append
    owners = [Owner(f"p{i}") for i in range(MAX_PENDING + 10)]
    for seed, owner in enumerate(owners):
        assemble(owner.records(data_of(seed))[:1], assembler)
    assert len(assembler._parts) == MAX_PENDING
    assert dropped == [owner.key_id for owner in owners[:10]]  # the oldest unfinished ones
    oversized = Owner().records(data_of(8, CHUNK_BYTES + 1), chunk_bytes=CHUNK_BYTES + 1)
    with pytest.raises(KeyRegistryError, match="over the"):
        assemble(oversized[:1])
    huge = Owner().records(data_of(8), chunk_bytes=10)
    assert len(huge) > MAX_CHUNKS
    with pytest.raises(KeyRegistryError, match=f"over {MAX_CHUNKS}"):
        assemble(huge[:1])
    with pytest.raises(KeyRegistryError, match="not served here"):
        assemble(Owner("carol").records(data_of(9)), KeyAssembler(partners=frozenset({"alpha"})))


def test_a_set_must_name_the_partner_whose_topic_carries_it() -> None:
    """Bravo can sign a set of its own key id, but not get it taken as alpha's: on alpha's
    topic (which only alpha may write, with ACLs) a set naming bravo is refused, and a set
    naming alpha on bravo's topic too."""
    bravo = Owner("bravo")
    value, headers = bravo.records(data_of(10))[0][1:]
    with pytest.raises(KeyRegistryError, match="on the keys topic of 'alpha'"):
        KeyAssembler().add(value, headers, "alpha")
    posing = Owner("alpha")  # bravo's key pair, publishing under alpha's name
    value, headers = posing.records(data_of(11))[0][1:]
    with pytest.raises(KeyRegistryError, match="on the keys topic of 'bravo'"):
        KeyAssembler().add(value, headers, "bravo")


def test_a_second_publication_of_a_key_id_completes_despite_an_unfinished_first() -> None:
    """A gateway stopped mid-publication and restarted publishes new bytes (fresh noise) under
    the same key id: the leftovers of the first do not block the second."""
    owner = Owner()
    first = owner.records(data_of(4))
    second = owner.records(data_of(5))
    assert {k for k, _, _ in first}.isdisjoint({k for k, _, _ in second})
    complete = assemble([*first[:2], *second])
    assert len(complete) == 1
    assert complete[0].data == data_of(5)


def test_records_without_registry_headers_are_refused() -> None:
    with pytest.raises(KeyRegistryError, match="lacks headers"):
        KeyAssembler().add(b"x", [("fraud.partner", b"alpha")])
    with pytest.raises(KeyRegistryError, match="outside"):
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


def test_one_partner_cannot_push_another_partners_publication_out() -> None:
    """However many unfinished publications one partner starts, it holds at most its share:
    another partner's set being collected completes."""
    assembler = KeyAssembler()
    bravo = Owner("bravo")
    bravo_records = bravo.records(data_of(1), chunk_bytes=100)
    assemble(bravo_records[:1], assembler)
    for seed in range(3 * MAX_PENDING):
        assemble(Owner("alpha").records(data_of(seed + 2), chunk_bytes=100)[:1], assembler)
    partners = [parts[0].claim.partner for parts in assembler._parts.values()]
    assert partners.count("alpha") == MAX_PENDING_PER_PARTNER
    complete = assemble(bravo_records[1:], assembler)
    assert [c.key_id for c in complete] == [bravo.key_id]
