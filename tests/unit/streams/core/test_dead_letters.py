"""Dead-letter headers."""

from __future__ import annotations

import pytest

from streams.core.errors import FraudStreamError
from streams.runtime.dead_letters import DeadLetter, dead_letter_headers, read_headers


def test_headers_round_trip() -> None:
    """What dead_letter_headers writes, read_headers reads back unchanged."""
    letter = DeadLetter("SchemaError", "amount: too large", "fraud.a.transactions.v1", 3, 42, 17)
    assert read_headers(dead_letter_headers(letter)) == letter
    assert read_headers(dict(dead_letter_headers(letter))) == letter


def test_missing_headers_are_reported() -> None:
    """A record without dead-letter headers is named as such."""
    with pytest.raises(FraudStreamError, match="not a dead letter"):
        read_headers([("other", b"x")])
