"""The pieces of a feature spec (:mod:`models.features.spec`): the event's declared fields, the
five kinds of feature, and how a data file's timestamps are read. Pure pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CORE_FIELDS",
    "DAY_SECONDS",
    "FALLBACK_COLUMN",
    "HANDBOOK_SPEC_FILE",
    "MAX_CATEGORY_CHARS",
    "MAX_ID",
    "SHARED_HANDBOOK_SPEC_FILE",
    "SPEC_VERSION",
    "CalendarFeature",
    "CategoryFeature",
    "CategoryField",
    "EventField",
    "Feature",
    "FieldFeature",
    "FieldName",
    "IdField",
    "LabelWindowFeature",
    "NumberField",
    "SharedCountsSpec",
    "Strict",
    "Timestamps",
    "WindowFeature",
]

DAY_SECONDS = 86_400
#: Ids are at most a signed 64-bit integer (what SQL ``BIGINT`` and every JSON library hold).
MAX_ID = 2**63 - 1
#: The fields every event has; a spec may not declare them again.
CORE_FIELDS = ("transaction_id", "timestamp", "card_id", "amount")
#: Where the handbook's spec is kept (package data).
HANDBOOK_SPEC_FILE = Path(__file__).resolve().parent / "handbook.toml"
#: The handbook's spec with its terminal windows computed from counts shared across partners.
SHARED_HANDBOOK_SPEC_FILE = HANDBOOK_SPEC_FILE.with_name("handbook-shared.toml")
#: The spec format this code reads.
SPEC_VERSION = 1
#: The batch path's extra column (not a feature) with shared counts: time buckets of the shared
#: windows that fell back to the partner's own counts.
FALLBACK_COLUMN = "SHARED_FALLBACK_BUCKETS"
#: The longest category value an event may carry (a value is a code, not free text).
MAX_CATEGORY_CHARS = 64
_MAX_DAYS = 3660
_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"

FieldName = Annotated[str, Field(pattern=_NAME)]
Days = Annotated[int, Field(ge=1, le=_MAX_DAYS)]


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"unknown time zone {value!r} (an IANA name such as Europe/Paris)"
        raise ValueError(msg) from exc
    return value


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the event's declared fields ------------------------------------------------------------
class IdField(Strict):
    """An integer identifier (0 .. 2^63-1), e.g. a terminal: windows can be kept per value."""

    type: Literal["id"]


class NumberField(Strict):
    """A finite number, optionally within ``[min, max]``."""

    type: Literal["number"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _range(self) -> NumberField:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"min {self.min:g} is above max {self.max:g}"
            raise ValueError(msg)
        return self


class CategoryField(Strict):
    """A short string; ``values`` are the known ones, anything else is ``other``."""

    type: Literal["category"]
    values: tuple[Annotated[str, Field(min_length=1, max_length=MAX_CATEGORY_CHARS)], ...] = Field(
        min_length=1, max_length=256
    )
    other: str = Field(default="other", min_length=1, max_length=MAX_CATEGORY_CHARS)

    @model_validator(mode="after")
    def _distinct(self) -> CategoryField:
        if len(set(self.values)) != len(self.values):
            msg = "values must be distinct"
            raise ValueError(msg)
        if self.other in self.values:
            msg = f"other ({self.other!r}) must not be one of the known values"
            raise ValueError(msg)
        return self

    def bucket(self, value: str) -> str:
        """``value`` if known, else :attr:`other`."""
        return value if value in self.values else self.other

    @property
    def buckets(self) -> tuple[str, ...]:
        """The one-hot columns' values, in order: the known values, then ``other``."""
        return (*self.values, self.other)


EventField = Annotated[IdField | NumberField | CategoryField, Field(discriminator="type")]


# --- features --------------------------------------------------------------------------------
class FieldFeature(Strict):
    """A number field as the model's input."""

    kind: Literal["field"]
    field: FieldName
    name: FieldName | None = None

    def names(self) -> tuple[str, ...]:
        """Its column name."""
        return (self.name or self.field,)


class CategoryFeature(Strict):
    """A category field, one-hot: ``<prefix>=<value>`` per known value and for ``other``."""

    kind: Literal["category"]
    field: FieldName
    prefix: str | None = Field(default=None, pattern=_NAME)


class CalendarFeature(Strict):
    """A 0/1 flag of the transaction's local time in ``timezone``."""

    kind: Literal["calendar"]
    flag: Literal["weekend", "night"]
    timezone: str = "UTC"
    #: ``night``: the first and last hour (inclusive) that count as night.
    hours: tuple[Annotated[int, Field(ge=0, le=23)], Annotated[int, Field(ge=0, le=23)]] = (0, 6)
    name: FieldName | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _known_zone(value)

    def names(self) -> tuple[str, ...]:
        """Its column name."""
        return (self.name or f"{self.flag}_{self.timezone.replace('/', '_')}".lower(),)

    def is_night_hour(self, hour: int) -> bool:
        """Whether ``hour`` (0..23, local) is in :attr:`hours`."""
        first, last = self.hours
        return first <= hour <= last if first <= last else hour >= first or hour <= last


WindowAggregate = Literal["count", "sum", "mean"]
LabelAggregate = Literal["count", "frauds", "ratio"]


class _Windowed(Strict):
    entity: FieldName
    days: tuple[Days, ...] = Field(min_length=1, max_length=16)
    #: Column names: ``{entity}``, ``{of}``, ``{aggregate}`` and ``{days}`` are replaced.
    names: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distinct_days(self) -> _Windowed:
        if len(set(self.days)) != len(self.days):
            msg = "days must be distinct"
            raise ValueError(msg)
        return self


class WindowFeature(_Windowed):
    """Aggregates of an entity's transactions over its last ``days``."""

    kind: Literal["window"]
    aggregates: tuple[WindowAggregate, ...] = Field(min_length=1, max_length=3)
    #: The number field summed or averaged (needed by ``sum`` and ``mean``).
    of: FieldName | None = None
    include_current: bool = True

    @model_validator(mode="after")
    def _needs_of(self) -> WindowFeature:
        if self.of is None and set(self.aggregates) - {"count"}:
            msg = "sum and mean need 'of', the number field they aggregate"
            raise ValueError(msg)
        return self


class LabelWindowFeature(_Windowed):
    """Transactions and known frauds of an entity over ``days`` ending ``delay_days`` ago."""

    kind: Literal["label_window"]
    aggregates: tuple[LabelAggregate, ...] = Field(min_length=1, max_length=3)
    #: At least a day: a label window that reached the current transaction would read its label.
    delay_days: int = Field(ge=1, le=_MAX_DAYS)


Feature = Annotated[
    FieldFeature | CategoryFeature | CalendarFeature | WindowFeature | LabelWindowFeature,
    Field(discriminator="kind"),
]


class Timestamps(Strict):
    """How a data file's timestamps are read."""

    #: The zone of timestamps written without an offset (and of the protocol's days).
    timezone: str = "UTC"
    #: A ``strptime`` format; ``None``: ISO 8601. ``epoch_s`` / ``epoch_ms``: numbers.
    format: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _known_zone(value)


# --- counts shared across partners ------------------------------------------------------------
class SharedCountsSpec(Strict):
    """Entities whose label windows are computed from per-hour counts summed across partners
    (secure aggregation): the time buckets and the entity buckets of the summed vectors."""

    #: Entities (declared id or category fields with label windows) whose windows use the sums.
    entities: tuple[FieldName, ...] = Field(min_length=1, max_length=16)
    #: Hours per time bucket; divides a day, so a window of N days is N days of buckets.
    bucket_hours: int = 1
    #: Entity buckets: the length of each summed vector.
    buckets: int = 65_536

    @field_validator("entities")
    @classmethod
    def _distinct_entities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            msg = "entities must be distinct"
            raise ValueError(msg)
        return value

    @field_validator("bucket_hours")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        if value < 1 or 24 % value:
            msg = f"{value} does not divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)"
            raise ValueError(msg)
        return value

    @field_validator("buckets")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if not 2**8 <= value <= 2**24 or value & (value - 1):
            msg = f"{value} is not a power of two from 2**8 (256) to 2**24 (16,777,216)"
            raise ValueError(msg)
        return value

    @property
    def bucket_seconds(self) -> int:
        """Seconds per time bucket."""
        return self.bucket_hours * 3600

    @property
    def per_day(self) -> int:
        """Time buckets per day."""
        return 24 // self.bucket_hours
