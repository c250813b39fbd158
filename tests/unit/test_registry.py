"""Evaluation keys chunked for the registry topic and put back together, in any order."""

from __future__ import annotations

import hashlib
import random

import pytest

from streams.agents import request_id_of
from streams.registry import KeyAssembler, RegistryError, chunk_records
from streams.wire import header_map


def key_set(size: int) -> tuple[str, bytes]:
    data = random.Random(size).randbytes(size)  # noqa: S311  (test data, not a secret)
    return hashlib.sha256(data).hexdigest()[:16], data


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 1024 + 17])
def test_chunks_reassemble_in_any_order(size: int) -> None:
    key_id, data = key_set(size)
    records = chunk_records("alpha", key_id, "m1", data, chunk_bytes=1024)
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
        key_id,
        "m1",
    )
    # A chunk read again (e.g. the topic re-read) does not complete the set twice.
    _, value, headers = records[0]
    assert assembler.add(value, headers) is None


def test_keys_that_do_not_match_their_digest_are_refused() -> None:
    key_id, data = key_set(2000)
    records = chunk_records("alpha", key_id, "m1", data, chunk_bytes=1024)
    assembler = KeyAssembler()
    for _, value, headers in records[:-1]:
        assembler.add(value, headers)
    _, value, headers = records[-1]
    with pytest.raises(RegistryError, match="do not match their digest"):
        assembler.add(bytes([value[0] ^ 1]) + value[1:], headers)


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
    key_id, data = key_set(3000)
    first = chunk_records("alpha", key_id, "m1", data, chunk_bytes=1024)
    other = chunk_records("alpha", key_id, "m1", data, chunk_bytes=2048)
    assembler = KeyAssembler()
    assembler.add(first[0][1], first[0][2])
    with pytest.raises(RegistryError, match="disagree"):
        assembler.add(other[1][1], other[1][2])
