"""Which dead letters a filter lets through, and what a listing shows of them."""

from __future__ import annotations

from streams.core.dead_letters import DeadLetter
from streams.qa.dead_letter_queue import DeadLetterFilter, StoredDeadLetter


def _stored(
    error: str, reason: str, at_ms: int, topic: str = "fraud.alpha.transactions.v1"
) -> StoredDeadLetter:
    return StoredDeadLetter(
        letter=DeadLetter(error, reason, topic, 1, 7, 5, None),
        topic="fraud.alpha.deadletter.v1",
        partition=0,
        offset=3,
        dead_lettered_ms=at_ms,
        key=b"596",
        value=b'{"amount": 4321.98}',
        headers=(("fraud.backfill", b"1"),),
    )


def test_every_condition_given_must_hold() -> None:
    schema = _stored("SchemaError", "amount: Input should be greater than or equal to 0", 1_000)
    empty = _stored("MalformedEventError", "empty value", 2_000, "fraud.alpha.labels.v1")
    assert DeadLetterFilter().matches(schema)
    assert DeadLetterFilter(reason="schemaerror").matches(schema)  # any case, class or reason
    assert DeadLetterFilter(reason="GREATER THAN").matches(schema)
    assert not DeadLetterFilter(reason="greater than").matches(empty)
    assert DeadLetterFilter(since_ms=2_000).matches(empty)  # since: inclusive
    assert not DeadLetterFilter(since_ms=2_001).matches(empty)
    assert not DeadLetterFilter(until_ms=2_000).matches(empty)  # until: exclusive
    assert DeadLetterFilter(source_topic="fraud.alpha.labels.v1").matches(empty)
    assert not DeadLetterFilter(reason="empty", source_topic="x").matches(empty)


def test_a_listing_names_where_and_why_never_the_value() -> None:
    shown = _stored("SchemaError", "amount: too large", 1_733_220_000_000).to_json()
    assert shown["dead_letter"] == "fraud.alpha.deadletter.v1:0@3"
    assert shown["source_topic"] == "fraud.alpha.transactions.v1"
    assert (shown["source_partition"], shown["source_offset"]) == (1, 7)
    assert shown["value_bytes"] == 19
    assert shown["resent_from"] is None
    assert "4321.98" not in repr(shown)
