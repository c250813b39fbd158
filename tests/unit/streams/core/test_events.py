"""The plaintext transaction schema: what is accepted, what is refused and how it is explained."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from models.features.spec import parse_spec
from streams.core.errors import EventError, MalformedEventError, OversizedEventError, SchemaError
from streams.core.events import EventLimits, TransactionEvent, parse_label, parse_transaction

LIMITS = EventLimits(partners=frozenset({"alpha", "bravo"}), max_event_bytes=4096, max_amount=1e5)
GOOD = {
    "transaction_id": 1236698,
    "timestamp": "2018-08-08T00:01:14Z",
    "card_id": 2765,
    "terminal_id": 2747,
    "amount": 4321.98,
    "partner_id": "alpha",
}


def raw(**changes: object) -> bytes:
    event = {**GOOD, **changes}
    return orjson.dumps({k: v for k, v in event.items() if v is not ...})


def test_valid_event_is_parsed_to_canonical_utc() -> None:
    """A well-formed event parses; its wire form has the timestamp in UTC."""
    tx = parse_transaction(raw(timestamp="2018-08-08T02:01:14+02:00"), LIMITS)
    assert tx.timestamp == datetime(2018, 8, 8, 0, 1, 14, tzinfo=UTC)
    core = {k: v for k, v in GOOD.items() if k != "terminal_id"}
    assert tx.canonical().model_dump(mode="json") == {
        **core,
        "timestamp": "2018-08-08T00:01:14Z",
        "fields": {"terminal_id": 2747},
    }


def test_integer_amount_is_accepted() -> None:
    """An amount written as an integer is a valid amount."""
    assert parse_transaction(raw(amount=12), LIMITS).amount == 12.0


@pytest.mark.parametrize(
    ("value", "error", "needle"),
    [
        (None, MalformedEventError, "empty value"),
        (b"", MalformedEventError, "empty value"),
        (b"{not json", MalformedEventError, "Invalid JSON"),
        (b"\xff\xfe\x00garbage", MalformedEventError, "not a JSON object"),
        (b"[1, 2, 3]", MalformedEventError, "not a JSON object"),
        (b'"a string"', MalformedEventError, "not a JSON object"),
        (raw(card_id=...), SchemaError, "card_id: Field required"),
        (raw(timestamp=...), SchemaError, "timestamp: Field required"),
        (raw(card_id="2765"), SchemaError, "card_id: Input should be a valid integer"),
        (raw(amount="12.5"), SchemaError, "amount: Input should be a valid number"),
        (raw(amount=True), SchemaError, "amount: Input should be a valid number"),
        (raw(transaction_id=1.5), SchemaError, "transaction_id: Input should be a valid integer"),
        (raw(amount=-12.5), SchemaError, "amount: Input should be greater than or equal to 0"),
        (raw(amount=987654321.5), SchemaError, "amount exceeds the plausible maximum"),
        (raw(partner_id="zulu"), SchemaError, "partner_id: not the partner of this topic"),
        (raw(timestamp="2018-08-08 00:01:14"), SchemaError, "timestamp"),
        (raw(timestamp="yesterday"), SchemaError, "timestamp"),
        (raw(label=1), SchemaError, "event: unexpected field"),
        (raw(timestamp="0001-01-01T00:00:00+01:00"), SchemaError, "timestamp out of range"),
        (raw(padding="x" * 5000), OversizedEventError, "exceeds the limit of 4096 bytes"),
    ],
)
def test_malformed_event_raises_its_own_error(
    value: bytes | None, error: type[EventError], needle: str
) -> None:
    """Each kind of malformed event raises its own EventError subclass with a readable reason."""
    with pytest.raises(error) as caught:
        parse_transaction(value, LIMITS)
    assert needle in str(caught.value)


@pytest.mark.parametrize("amount", [-12.5, 987654321.5, "4321.98"])
def test_reason_never_echoes_the_amount(amount: object) -> None:
    """Reasons are logged, so they name the field and the rule but never the value."""
    with pytest.raises(SchemaError) as caught:
        parse_transaction(raw(amount=amount), LIMITS)
    assert str(amount).lstrip("-") not in str(caught.value)


def test_nan_amount_is_refused() -> None:
    """NaN is not an amount, even where a JSON parser would accept it."""
    with pytest.raises(EventError):
        parse_transaction(raw(amount=0).replace(b'"amount":0', b'"amount":NaN'), LIMITS)


@settings(deadline=None)  # the first example pays for imports and pydantic's schema build
def assert_valid(tx: TransactionEvent) -> None:
    """An accepted transaction keeps every rule, and its canonical form parses to itself."""
    assert tx.partner_id in LIMITS.partners
    assert 0 <= tx.amount <= LIMITS.max_amount
    canonical = tx.canonical()
    assert min(tx.transaction_id, tx.card_id, canonical.fields["terminal_id"]) >= 0
    assert tx.timestamp.utcoffset() == timedelta(0)
    event = {**canonical.model_dump(mode="json", exclude={"fields"}), **canonical.fields}
    assert parse_transaction(orjson.dumps(event), LIMITS).canonical() == canonical


@given(st.binary(max_size=600) | st.just(orjson.dumps(GOOD)))
def test_arbitrary_bytes_are_accepted_valid_or_refused_with_an_event_error(value: bytes) -> None:
    """Whatever the bytes, parsing raises an EventError (never anything else) or gives a
    transaction that keeps every rule."""
    try:
        tx = parse_transaction(value, LIMITS)
    except EventError as exc:
        refused: EventError | None = exc
    else:
        refused = None
        assert_valid(tx)
    assert refused is None or str(refused)  # a reason, always


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*GOOD, "extra"]),
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson can write
        | st.floats()
        | st.text(max_size=30),
    )
)
@example(dict(GOOD))  # the accepted path, always tried
def test_arbitrary_objects_are_accepted_as_sent_or_refused_naming_a_field(
    event: dict[str, object],
) -> None:
    """Any JSON object with any field types is refused with an EventError naming one of its
    fields (or the event), or accepted with exactly the fields and values it was sent with."""
    try:
        tx = parse_transaction(orjson.dumps(event), LIMITS)
    except EventError as exc:
        reason = str(exc)
    else:
        reason = ""
    if reason:
        named = {part.split(":")[0].split(".")[0] for part in reason.split("; ")}
        assert named <= {*GOOD, "event", "not a JSON object"}, reason
        return
    assert set(event) == set(GOOD)
    assert_valid(tx)
    sent = {k: v for k, v in event.items() if k != "timestamp"}
    assert sent == {k: v for k, v in tx.model_dump().items() if k != "timestamp"}


def test_unexpected_field_names_are_not_echoed() -> None:
    """A sender-chosen field name (it could hold a card number) never reaches the reason."""
    with pytest.raises(SchemaError) as caught:
        parse_transaction(raw(**{"4111111111111111": 1}), LIMITS)
    assert "4111" not in str(caught.value)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_timestamps_at_the_edges_of_time_are_refused(stamp: str) -> None:
    """Timestamps that cannot be moved to UTC are a schema error, not a crash."""
    with pytest.raises(SchemaError, match="timestamp out of range"):
        parse_transaction(raw(timestamp=stamp), LIMITS)


LABEL = {
    "transaction_id": 1236698,
    "timestamp": "2018-08-08T02:01:14+02:00",
    "terminal_id": 2747,
    "partner_id": "alpha",
}


def test_label_is_parsed_to_canonical_utc() -> None:
    """A fraud label names its transaction, when it happened and where."""
    label = parse_label(orjson.dumps(LABEL), LIMITS)
    assert label.canonical().model_dump(mode="json") == {
        "transaction_id": 1236698,
        "timestamp": "2018-08-08T00:01:14Z",
        "partner_id": "alpha",
        "fields": {"terminal_id": 2747},
    }


@pytest.mark.parametrize(
    ("changes", "error", "needle"),
    [
        ({"timestamp": ...}, SchemaError, "timestamp: Field required"),
        ({"terminal_id": "2747"}, SchemaError, "valid integer"),
        ({"partner_id": "zulu"}, SchemaError, "not the partner of this topic"),
        ({"amount": 12.5}, SchemaError, "unexpected field"),
    ],
)
def test_bad_labels_are_refused_with_a_reason(
    changes: dict[str, object], error: type[Exception], needle: str
) -> None:
    label = {k: v for k, v in {**LABEL, **changes}.items() if v is not ...}
    with pytest.raises(error, match=needle):
        parse_label(orjson.dumps(label), LIMITS)
    with pytest.raises(MalformedEventError, match="empty value"):
        parse_label(b"", LIMITS)


SPEC = parse_spec(
    {
        "spec_version": 1,
        "name": "merchants",
        "event": {
            "merchant_category": {"type": "category", "values": ["grocery", "travel"]},
            "device_risk": {"type": "number", "min": 0, "max": 1},
        },
        "features": [
            {"kind": "field", "field": "device_risk"},
            {"kind": "category", "field": "merchant_category"},
            {
                "kind": "label_window",
                "entity": "merchant_category",
                "days": [30],
                "delay_days": 7,
                "aggregates": ["ratio"],
            },
        ],
    }
)
SPEC_LIMITS = replace(LIMITS, spec=SPEC)
SPEC_GOOD = {
    **{k: v for k, v in GOOD.items() if k != "terminal_id"},
    "merchant_category": "grocery",
    "device_risk": 0.25,
}


def test_the_event_carries_the_fields_its_spec_declares() -> None:
    """A spec's declared fields are accepted with their types and ranges, end up in the
    canonical transaction's fields, and an unknown category value is accepted (it counts as
    the spec's "other")."""
    tx = parse_transaction(orjson.dumps(SPEC_GOOD), SPEC_LIMITS).canonical()
    assert tx.fields == {"merchant_category": "grocery", "device_risk": 0.25}
    other = parse_transaction(
        orjson.dumps({**SPEC_GOOD, "merchant_category": "casino"}), SPEC_LIMITS
    )
    assert other.canonical().fields["merchant_category"] == "casino"


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"device_risk": ...}, "device_risk: Field required"),
        ({"device_risk": 1.5}, "device_risk: Input should be less than or equal to 1"),
        ({"device_risk": "high"}, "device_risk: Input should be a valid number"),
        ({"merchant_category": ""}, "merchant_category: String should have at least 1 character"),
        ({"merchant_category": "x" * 65}, "merchant_category: String should have at most 64"),
        ({"merchant_category": 5411}, "merchant_category: Input should be a valid string"),
        ({"terminal_id": 2747}, "event: unexpected field"),
    ],
)
def test_fields_the_spec_does_not_allow_are_refused(
    changes: dict[str, object], needle: str
) -> None:
    """Missing, out-of-range, wrongly typed and undeclared fields are dead-lettered with the
    field and the rule (an undeclared field's name is not echoed)."""
    event = {k: v for k, v in {**SPEC_GOOD, **changes}.items() if v is not ...}
    with pytest.raises(SchemaError, match=needle):
        parse_transaction(orjson.dumps(event), SPEC_LIMITS)


def test_a_label_names_the_entities_of_the_specs_label_windows() -> None:
    """Under a spec whose label windows are per merchant category, a label carries the
    category, not a terminal."""
    label = {"transaction_id": 1, "timestamp": "2018-08-08T00:01:14Z", "partner_id": "alpha"}
    parsed = parse_label(orjson.dumps({**label, "merchant_category": "travel"}), SPEC_LIMITS)
    assert parsed.canonical().fields == {"merchant_category": "travel"}
    with pytest.raises(SchemaError, match="merchant_category: Field required"):
        parse_label(orjson.dumps({**label, "terminal_id": 3}), SPEC_LIMITS)
