"""Records, one per topic, and the validation that turns raw bytes into them.

Records are pure: no I/O. :func:`parse_transaction` never lets a library error escape; every
way an event can be malformed becomes an :class:`~streams.errors.EventError` whose message names
the field and the rule but never echoes a value (reasons are logged; values may be amounts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic import field_validator as _field_validator

from streams.errors import MalformedEventError, OversizedEventError, SchemaError

__all__ = ["EventLimits", "TransactionEvent", "parse_transaction"]

_NOT_JSON = frozenset({"json_invalid", "json_type", "model_type", "model_attributes_type"})


@dataclass(frozen=True)
class EventLimits:
    """What a plaintext event may be: who may send it and how large it and its amount may be."""

    partners: frozenset[str]
    max_event_bytes: int
    max_amount: float


class TransactionEvent(BaseModel):
    """A plaintext card transaction, as a partner sends it (``<root>.<partner>.transactions.v1``).

    The fields are those of the Fraud Detection Handbook's transactions plus the partner id.
    Strict types: ``"12"`` is not a card id and ``true`` is not an amount.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    transaction_id: int = Field(ge=0)
    timestamp: AwareDatetime
    card_id: int = Field(ge=0)
    terminal_id: int = Field(ge=0)
    amount: float = Field(ge=0, allow_inf_nan=False)
    partner_id: str

    @_field_validator("amount")
    @classmethod
    def _plausible_amount(cls, value: float, info: ValidationInfo) -> float:
        limit = _limits(info).max_amount
        if value > limit or math.isnan(value):
            msg = f"amount exceeds the plausible maximum of {limit:g}"
            raise ValueError(msg)
        return value

    @_field_validator("partner_id")
    @classmethod
    def _known_partner(cls, value: str, info: ValidationInfo) -> str:
        if value not in _limits(info).partners:
            msg = "not the partner of this topic"
            raise ValueError(msg)
        return value

    @_field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            msg = "timestamp out of range"
            raise ValueError(msg) from exc

    def to_wire(self) -> dict[str, Any]:
        """The canonical JSON-ready form (timestamp in UTC, RFC 3339)."""
        return self.model_dump(mode="json")


def _limits(info: ValidationInfo) -> EventLimits:
    context = info.context
    if not isinstance(context, dict) or not isinstance(context.get("limits"), EventLimits):
        msg = "parse_transaction() must be used: validation needs the event limits"
        raise TypeError(msg)
    limits: EventLimits = context["limits"]
    return limits


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        if error["type"] == "extra_forbidden":
            # The name of an unexpected field comes from the sender: it may hold anything.
            parts.append("event: unexpected field")
            continue
        where = ".".join(str(part) for part in error["loc"]) or "event"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_transaction(raw: bytes | None, limits: EventLimits) -> TransactionEvent:
    """Validate one raw record value; raise an ``EventError`` subclass saying what is wrong."""
    if raw is None or len(raw) == 0:
        msg = "empty value: a transaction event is a JSON object"
        raise MalformedEventError(msg)
    if len(raw) > limits.max_event_bytes:
        msg = f"event of {len(raw)} bytes exceeds the limit of {limits.max_event_bytes} bytes"
        raise OversizedEventError(msg)
    try:
        return TransactionEvent.model_validate_json(raw, strict=True, context={"limits": limits})
    except ValidationError as exc:
        reason = _reason(exc)
        if any(error["type"] in _NOT_JSON for error in exc.errors()):
            msg = f"not a JSON object: {reason}"
            raise MalformedEventError(msg) from exc
        raise SchemaError(reason) from exc
