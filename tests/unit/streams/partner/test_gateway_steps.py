"""The gateway's steps on their own (no Faust, no broker, dicts as tables)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from models.features.incremental import StreamFeatures
from models.features.spec import handbook_spec
from streams.core.errors import SchemaError
from streams.core.events import EventLimits
from streams.core.headers import BACKFILL_HEADER
from streams.core.messages import ValidatedTransaction
from streams.partner.context import PartnerContext
from streams.partner.gateway import GatewaySteps
from streams.runtime.agents import Encoded

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


def gateway(states: dict[str, Any]) -> GatewaySteps:
    # Validation and state need the partner's id and its model's spec: no keys.
    context = SimpleNamespace(
        partner="alpha", features=StreamFeatures(handbook_spec()), refresh_sums=lambda: None
    )
    return GatewaySteps(cast(PartnerContext, context), LIMITS, states)


def through_card(steps: GatewaySteps, record: Record) -> Encoded[ValidatedTransaction]:
    """Validate ``record`` and take it through its card's state: the record on to its terminal."""
    validated = steps.validate_transaction(record)
    onward = steps.request(Record(topic="v", key=validated.key, value=validated.value, headers=[]))
    assert isinstance(onward, Encoded)
    assert isinstance(onward.item, ValidatedTransaction)
    return onward


def test_a_valid_transaction_visits_its_card_then_its_terminal() -> None:
    """A valid event goes to its card's state key, updates the card's state there and goes on
    to its terminal's with its card window values, marked for scoring unless it is history
    (the backfill header)."""
    states: dict[str, Any] = {}
    steps = gateway(states)
    record = Record(topic="t", key=b"5", value=orjson.dumps(EVENT), headers=[])
    out = steps.validate_transaction(record)
    assert out.key == b"card_id=5"
    validated = out.item
    assert ValidatedTransaction.from_bytes(out.value) == validated
    assert (validated.stage, validated.windows, validated.score) == (0, (), True)
    assert validated.transaction.fields == {"terminal_id": 7}
    assert states == {}  # validation keeps no state
    onward = through_card(steps, record)
    assert onward.key == b"terminal_id=7"
    assert onward.item.stage == 1
    assert onward.item.windows == ((1.0, 3.5, 1.0, 3.5, 1.0, 3.5),)
    assert set(states) == {"card_id=5"}
    history = Record(
        topic="t", key=b"5", value=orjson.dumps(EVENT), headers=[(BACKFILL_HEADER, b"1")]
    )
    assert not steps.validate_transaction(history).item.score


def test_a_record_keyed_by_another_card_or_partner_is_refused_before_any_state_changes() -> None:
    """The gateway keeps state by card and for its own partner only: a record whose key is not
    its card id, or an event of another partner, is refused and no state is written."""
    states: dict[str, Any] = {}
    steps = gateway(states)
    with pytest.raises(SchemaError, match="record key"):
        steps.validate_transaction(
            Record(topic="t", key=b"6", value=orjson.dumps(EVENT), headers=[])
        )
    other = orjson.dumps({**EVENT, "partner_id": "bravo"})
    with pytest.raises(SchemaError, match="not the partner of this topic"):
        steps.validate_transaction(Record(topic="t", key=b"5", value=other, headers=[]))
    assert states == {}


def _record(**changes: Any) -> Record:
    event = {**EVENT, **changes}
    return Record(
        topic="t", key=str(event["card_id"]).encode(), value=json.dumps(event).encode(), headers=[]
    )


def test_an_event_dated_ahead_of_the_clock_is_refused_and_the_card_keeps_scoring() -> None:
    """A transaction dated beyond the allowed clock skew (year 9999) is refused with the rule
    and changes no state; the card's next real transaction is validated with its history."""
    states: dict[str, Any] = {}
    steps = gateway(states)
    through_card(steps, _record())
    before = dict(states)
    with pytest.raises(
        SchemaError, match="timestamp: more than 300 s ahead of the gateway's clock"
    ):
        steps.validate_transaction(_record(transaction_id=2, timestamp="9999-12-31T00:00:00Z"))
    assert states == before
    now = datetime.now(UTC)
    soon = (now + timedelta(seconds=200)).isoformat()
    assert through_card(steps, _record(transaction_id=3, timestamp=soon)).item.score
    later = through_card(steps, _record(transaction_id=4, timestamp="2018-08-08T00:05:00Z"))
    assert later.item.windows[0][0] == 2.0  # the first one and itself, in its 1-day window


def test_ids_beyond_a_signed_64_bit_integer_are_refused_before_any_state_changes() -> None:
    """A transaction, card or terminal id of 2^63 or more is refused at validation (it could not
    be stored or serialised downstream); no state is written."""
    states: dict[str, Any] = {}
    steps = gateway(states)
    for field in ("transaction_id", "card_id", "terminal_id"):
        with pytest.raises(SchemaError, match=f"{field}: Input should be less than or equal"):
            steps.validate_transaction(_record(**{field: 2**64}))
    assert states == {}
    through_card(steps, _record(transaction_id=2**63 - 1, card_id=2**63 - 1))


def test_a_record_processed_twice_changes_each_state_once() -> None:
    """After a crash a validated record is processed again: the card's and the terminal's
    states hold the transaction once, the onward record is the same, and a label seen twice
    counts one fraud."""
    states: dict[str, Any] = {}
    steps = gateway(states)
    record = Record(topic="t", key=b"5", value=orjson.dumps(EVENT), headers=[])
    validated = steps.validate_transaction(record)
    again = Record(topic="v", key=validated.key, value=validated.value, headers=[])
    first = steps.request(again)
    card_state = json.dumps(states["card_id=5"])
    second = steps.request(again)
    assert isinstance(first, Encoded)
    assert isinstance(second, Encoded)
    assert second.item.windows == first.item.windows
    assert json.dumps(states["card_id=5"]) == card_state
    assert len(states["card_id=5"]["t"]) == 1
    label = {k: EVENT[k] for k in ("transaction_id", "timestamp", "terminal_id", "partner_id")}
    for _ in range(2):
        (out,) = steps.validate_label(Record(topic="l", key=b"5", value=orjson.dumps(label)))
        steps.request(Record(topic="v", key=out.key, value=out.value, headers=[]))
    assert len(states["terminal_id=7"]["f"]) == 1


def test_states_nothing_can_read_any_more_are_deleted_on_their_own_partition_only() -> None:
    """A card and a terminal last seen 60 days before the partition's newest transaction are
    deleted (their windows reach 30 + 7 days back, plus a day of lateness); the same on another
    partition is left to that partition's sweep; a recent one stays."""
    states: dict[str, Any] = {}
    steps = gateway(states)
    steps.sweep.every = 0.0

    def history(tx_id: int, day: str, card: int, terminal: int, partition: int) -> None:
        event = {**EVENT, "transaction_id": tx_id, "timestamp": f"{day}T00:00:00Z"}
        event |= {"card_id": card, "terminal_id": terminal}
        record = Record(
            topic="t", key=str(card).encode(), value=orjson.dumps(event),
            headers=[(BACKFILL_HEADER, b"1")],
        )  # fmt: skip
        out: Any = steps.validate_transaction(record)
        while isinstance(out, Encoded):
            out = steps.request(
                Record(topic="v", key=out.key, value=out.value, headers=[], partition=partition)
            )

    history(1, "2018-06-01", card=1, terminal=11, partition=0)
    history(2, "2018-06-01", card=2, terminal=12, partition=1)
    assert set(states) == {"card_id=1", "terminal_id=11", "card_id=2", "terminal_id=12"}
    history(3, "2018-07-31", card=3, terminal=13, partition=0)
    assert set(states) == {"card_id=2", "terminal_id=12", "card_id=3", "terminal_id=13"}
    assert steps.sweep.deleted == 2
