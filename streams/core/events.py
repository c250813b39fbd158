"""Input events (what a partner sends) and the validation that turns raw bytes into them.

Pure: no I/O. A valid event becomes a typed message (:mod:`streams.core.messages`) for the
agents downstream. The core fields are fixed; the others are those the model's feature spec
declares (:mod:`models.features.spec`), with their types and ranges: an event must carry each,
and nothing else. :func:`parse_transaction` never lets a library error escape; every way an
event can be malformed becomes an :class:`~streams.core.errors.EventError` whose message names the
field and the rule but never echoes a value (reasons are logged; values may be amounts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
)
from pydantic import field_validator as _field_validator

from models.features.spec import (
    MAX_CATEGORY_CHARS,
    CategoryField,
    FeatureSpec,
    IdField,
    NumberField,
    handbook_spec,
)
from streams.core.errors import MalformedEventError, OversizedEventError, SchemaError
from streams.core.messages import MAX_ID, Label, Transaction

__all__ = [
    "EventLimits",
    "LabelEvent",
    "TransactionEvent",
    "label_model",
    "parse_label",
    "parse_transaction",
    "transaction_model",
]

_Event = TypeVar("_Event", bound=BaseModel)
_NOT_JSON = frozenset({"json_invalid", "json_type", "model_type", "model_attributes_type"})


@dataclass(frozen=True)
class EventLimits:
    """What a plaintext event may be: who may send it, how large it and its amount may be, and
    how far ahead of the gateway's clock its time may be (clocks are never quite in step)."""

    partners: frozenset[str]
    max_event_bytes: int
    max_amount: float
    max_clock_skew_s: float = 300.0
    #: The model's feature spec: the fields an event carries beyond the core ones.
    spec: FeatureSpec = field(default_factory=handbook_spec)


def _known_partner(value: str, info: ValidationInfo) -> str:
    if value not in _limits(info).partners:
        msg = "not the partner of this topic"
        raise ValueError(msg)
    return value


def _to_utc(value: datetime, info: ValidationInfo) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:
        msg = "timestamp out of range"
        raise ValueError(msg) from exc
    skew = _limits(info).max_clock_skew_s
    now: datetime = _context(info)["now"]
    if (value - now).total_seconds() > skew:
        # A future-dated event would shift its card's and terminal's windows for everyone.
        msg = f"more than {skew:g} s ahead of the gateway's clock"
        raise ValueError(msg)
    return value


#: A partner id that must be the one of the topic the event came on.
PartnerId = Annotated[str, AfterValidator(_known_partner)]
#: An aware timestamp, converted to UTC, not ahead of the gateway's clock by more than the skew.
UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


_CORE_TRANSACTION = ("transaction_id", "timestamp", "card_id", "amount", "partner_id")
_CORE_LABEL = ("transaction_id", "timestamp", "partner_id")


class TransactionEvent(BaseModel):
    """A plaintext card transaction, as a partner sends it (``<root>.<partner>.transactions.v1``).

    The core fields below, the partner id, and the fields the spec declares (a subclass per spec
    is made by :func:`transaction_model`). Strict types: ``"12"`` is not a card id and ``true``
    is not an amount.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    transaction_id: int = Field(ge=0, le=MAX_ID)
    timestamp: UtcTime
    card_id: int = Field(ge=0, le=MAX_ID)
    amount: float = Field(ge=0, allow_inf_nan=False)
    partner_id: PartnerId

    @_field_validator("amount")
    @classmethod
    def _plausible_amount(cls, value: float, info: ValidationInfo) -> float:
        limit = _limits(info).max_amount
        if value > limit or math.isnan(value):
            msg = f"amount exceeds the plausible maximum of {limit:g}"
            raise ValueError(msg)
        return value

    def canonical(self) -> Transaction:
        """The valid transaction as the agents downstream see it (timestamp in UTC, declared
        fields in ``fields``)."""
        data = self.model_dump()
        core = {name: data.pop(name) for name in _CORE_TRANSACTION}
        return Transaction.model_validate({**core, "fields": data})


class LabelEvent(BaseModel):
    """A confirmed fraud, as a partner's investigators report it (``<root>.<partner>.labels.v1``).

    It names the fraudulent transaction, when it happened, and the value of each entity whose
    label windows count it (the handbook's: its terminal), made per spec by
    :func:`label_model`; those windows count it once the label delay has passed.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    transaction_id: int = Field(ge=0, le=MAX_ID)
    timestamp: UtcTime
    partner_id: PartnerId

    def canonical(self) -> Label:
        """The valid label as the agents downstream see it (timestamp in UTC)."""
        data = self.model_dump()
        core = {name: data.pop(name) for name in _CORE_LABEL}
        return Label.model_validate({**core, "fields": data})


def _annotation(declared: IdField | NumberField | CategoryField) -> Any:
    """The strict pydantic type of a declared field."""
    if isinstance(declared, IdField):
        return Annotated[int, Field(ge=0, le=MAX_ID)]
    if isinstance(declared, NumberField):
        return Annotated[float, Field(ge=declared.min, le=declared.max, allow_inf_nan=False)]
    return Annotated[str, Field(min_length=1, max_length=MAX_CATEGORY_CHARS)]


_MODELS: dict[tuple[str, str], type[BaseModel]] = {}


def transaction_model(spec: FeatureSpec) -> type[TransactionEvent]:
    """The transaction event of ``spec``: the core fields and every declared one, required."""
    key = ("transaction", spec.digest)
    if key not in _MODELS:
        fields: dict[str, Any] = {
            name: (_annotation(declared), ...) for name, declared in spec.event.items()
        }
        _MODELS[key] = create_model("TransactionEvent", __base__=TransactionEvent, **fields)
    model: type[TransactionEvent] = _MODELS[key]  # type: ignore[assignment]
    return model


def label_model(spec: FeatureSpec) -> type[LabelEvent]:
    """The label event of ``spec``: the core fields and each label-window entity, required."""
    key = ("label", spec.digest)
    if key not in _MODELS:
        fields: dict[str, Any] = {
            name: (
                Annotated[int, Field(ge=0, le=MAX_ID)]
                if name == "card_id"
                else _annotation(spec.event[name]),
                ...,
            )
            for name in spec.label_entities
        }
        _MODELS[key] = create_model("LabelEvent", __base__=LabelEvent, **fields)
    model: type[LabelEvent] = _MODELS[key]  # type: ignore[assignment]
    return model


def _context(info: ValidationInfo) -> dict[str, Any]:
    context = info.context
    if not isinstance(context, dict) or not isinstance(context.get("limits"), EventLimits):
        msg = "parse_transaction() must be used: validation needs the event limits and clock"
        raise TypeError(msg)
    return context


def _limits(info: ValidationInfo) -> EventLimits:
    limits: EventLimits = _context(info)["limits"]
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


def parse_transaction(
    raw: bytes | None, limits: EventLimits, now: datetime | None = None
) -> TransactionEvent:
    """Validate one raw record value; raise an ``EventError`` subclass saying what is wrong.
    ``now`` is the gateway's clock (the current time by default)."""
    return _parse(transaction_model(limits.spec), raw, limits, now)


def parse_label(raw: bytes | None, limits: EventLimits, now: datetime | None = None) -> LabelEvent:
    """Validate one raw label record value, like :func:`parse_transaction`."""
    return _parse(label_model(limits.spec), raw, limits, now)


def _parse(
    model: type[_Event], raw: bytes | None, limits: EventLimits, now: datetime | None
) -> _Event:
    if raw is None or len(raw) == 0:
        msg = "empty value: an event is a JSON object"
        raise MalformedEventError(msg)
    if len(raw) > limits.max_event_bytes:
        msg = f"event of {len(raw)} bytes exceeds the limit of {limits.max_event_bytes} bytes"
        raise OversizedEventError(msg)
    try:
        context = {"limits": limits, "now": now or datetime.now(UTC)}
        return model.model_validate_json(raw, strict=True, context=context)
    except ValidationError as exc:
        reason = _reason(exc)
        if any(error["type"] in _NOT_JSON for error in exc.errors()):
            msg = f"not a JSON object: {reason}"
            raise MalformedEventError(msg) from exc
        raise SchemaError(reason) from exc
