"""Dead-letter headers."""

from __future__ import annotations

import pytest

from streams.core.dead_letters import DeadLetter, dead_letter_headers, read_headers
from streams.core.errors import FraudStreamError


def test_headers_round_trip() -> None:
    """What dead_letter_headers writes, read_headers reads back unchanged."""
    letter = DeadLetter("SchemaError", "amount: too large", "fraud.a.transactions.v1", 3, 42, 17)
    assert read_headers(dead_letter_headers(letter)) == letter
    assert read_headers(dict(dead_letter_headers(letter))) == letter


def test_missing_headers_are_reported() -> None:
    """A record without dead-letter headers is named as such."""
    with pytest.raises(FraudStreamError, match="not a dead letter"):
        read_headers([("other", b"x")])


def test_headers_are_kafka_connects() -> None:
    """Where the record was read and the error are in Kafka Connect's dead-letter context
    headers, so tools made for Connect's dead letters read ours."""
    letter = DeadLetter("SchemaError", "amount: too large", "fraud.a.transactions.v1", 3, 42, 17)
    headers = dict(dead_letter_headers(letter))
    assert headers["__connect.errors.topic"] == b"fraud.a.transactions.v1"
    assert headers["__connect.errors.partition"] == b"3"
    assert headers["__connect.errors.offset"] == b"42"
    assert headers["__connect.errors.exception.class.name"] == b"SchemaError"
    assert headers["__connect.errors.exception.message"] == b"amount: too large"
    assert headers["fraudstream.errors.timestamp_ms"] == b"17"
    assert "fraudstream.errors.value_omitted_bytes" not in headers


def test_dead_letters_of_the_earlier_names_are_still_read() -> None:
    """Dead letters written with the `dlq.*` headers of earlier releases stay readable."""
    legacy = [
        ("dlq.error_class", b"SchemaError"),
        ("dlq.reason", b"bad"),
        ("dlq.topic", b"t"),
        ("dlq.partition", b"0"),
        ("dlq.offset", b"9"),
        ("dlq.timestamp_ms", b""),
        ("dlq.value_omitted_bytes", b"2000000"),
    ]
    assert read_headers(legacy) == DeadLetter("SchemaError", "bad", "t", 0, 9, None, 2_000_000)


def test_a_header_that_is_not_a_number_is_named() -> None:
    letter = dict(dead_letter_headers(DeadLetter("E", "r", "t", 0, 1)))
    letter["__connect.errors.offset"] = b"x"
    with pytest.raises(FraudStreamError, match="not a number"):
        read_headers(letter)


def test_a_binary_or_null_header_of_the_original_leaves_the_dead_letter_readable() -> None:
    letter = DeadLetter("SchemaError", "bad", "t", 0, 9)
    headers = [("trace", b"\xff\xfe"), ("empty", None), *dead_letter_headers(letter)]
    assert read_headers(headers) == letter  # type: ignore[arg-type]
