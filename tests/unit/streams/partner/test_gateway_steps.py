"""The gateway's steps on their own (no Faust, no broker, dicts as tables)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from streams.core.errors import SchemaError
from streams.core.events import EventLimits
from streams.core.headers import BACKFILL_HEADER
from streams.core.messages import ValidatedTransaction
from streams.partner.context import PartnerContext
from streams.partner.gateway import GatewaySteps

LIMITS = EventLimits(partners=frozenset({"alpha", "bravo"}), max_event_bytes=4096, max_amount=1e5)
EVENT = {
    "transaction_id": 1,
    "timestamp": "2018-08-08T00:01:14Z",
    "card_id": 5,
    "terminal_id": 7,
    "amount": 3.5,
    "partner_id": "alpha",
}


class Record(SimpleNamespace):
    """A record as the steps read it."""


def gateway(cards: dict[str, Any]) -> GatewaySteps:
    # Validation needs only the partner's id: no keys.
    context = cast(PartnerContext, SimpleNamespace(partner="alpha"))
    return GatewaySteps(context, LIMITS, cards=cards, terminals={})


def test_a_valid_transaction_goes_to_its_terminal_with_its_card_features() -> None:
    """A valid event updates its card's state and is passed on keyed by its terminal, marked
    for scoring unless it is history (the backfill header)."""
    cards: dict[str, Any] = {}
    steps = gateway(cards)
    record = Record(topic="t", key=b"5", value=orjson.dumps(EVENT), headers=[])
    out = steps.validate_transaction(record)
    assert out.key == b"7"
    validated = out.item
    assert isinstance(validated, ValidatedTransaction)
    assert ValidatedTransaction.from_bytes(out.value) == validated
    assert validated.score
    assert validated.transaction.amount == 3.5
    assert "5" in cards
    history = Record(
        topic="t", key=b"5", value=orjson.dumps(EVENT), headers=[(BACKFILL_HEADER, b"1")]
    )
    assert not steps.validate_transaction(history).item.score


def test_a_record_keyed_by_another_card_or_partner_is_refused_before_any_state_changes() -> None:
    """The gateway keeps state by card and for its own partner only: a record whose key is not
    its card id, or an event of another partner, is refused and no state is written."""
    cards: dict[str, Any] = {}
    steps = gateway(cards)
    with pytest.raises(SchemaError, match="record key"):
        steps.validate_transaction(
            Record(topic="t", key=b"6", value=orjson.dumps(EVENT), headers=[])
        )
    other = orjson.dumps({**EVENT, "partner_id": "bravo"})
    with pytest.raises(SchemaError, match="not the partner of this topic"):
        steps.validate_transaction(Record(topic="t", key=b"5", value=other, headers=[]))
    assert cards == {}


def _record(**changes: Any) -> Record:
    event = {**EVENT, **changes}
    return Record(
        topic="t", key=str(event["card_id"]).encode(), value=json.dumps(event).encode(), headers=[]
    )


def test_an_event_dated_ahead_of_the_clock_is_refused_and_the_card_keeps_scoring() -> None:
    """A transaction dated beyond the allowed clock skew (year 9999) is refused with the rule
    and changes no state; the card's next real transaction is validated with its history."""
    cards: dict[str, Any] = {}
    steps = gateway(cards)
    steps.validate_transaction(_record())
    before = dict(cards)
    with pytest.raises(
        SchemaError, match="timestamp: more than 300 s ahead of the gateway's clock"
    ):
        steps.validate_transaction(_record(transaction_id=2, timestamp="9999-12-31T00:00:00Z"))
    assert cards == before
    now = datetime.now(UTC)
    soon = (now + timedelta(seconds=200)).isoformat()
    assert steps.validate_transaction(_record(transaction_id=3, timestamp=soon)).item.score
    later = steps.validate_transaction(_record(transaction_id=4, timestamp="2018-08-08T00:05:00Z"))
    assert later.item.card_features[0] == 2.0  # the first one and itself, in its 1-day window


def test_ids_beyond_a_signed_64_bit_integer_are_refused_before_any_state_changes() -> None:
    """A transaction, card or terminal id of 2^63 or more is refused at validation (it could not
    be stored or serialised downstream); no state is written."""
    cards: dict[str, Any] = {}
    steps = gateway(cards)
    for field in ("transaction_id", "card_id", "terminal_id"):
        with pytest.raises(SchemaError, match=f"{field}: Input should be less than or equal"):
            steps.validate_transaction(_record(**{field: 2**64}))
    assert cards == {}
    steps.validate_transaction(_record(transaction_id=2**63 - 1, card_id=2**63 - 1))
