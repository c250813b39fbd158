"""A feature spec: the event's fields, where a data file keeps them, and the model's features.

One spec drives everything that depends on what a transaction holds: reading a fraud team's
files (:mod:`models.data.sources`), the batch features for training
(:mod:`models.features.batch`), the incremental features in the partner's gateway
(:mod:`models.features.incremental`), and the events the gateway accepts
(:mod:`streams.core.events`). It is written in TOML or YAML (see docs/data.md for every key),
validated here, saved in the model artifact and shown in the model card. The default spec
(:data:`HANDBOOK_SPEC_FILE`) is the Fraud Detection Handbook's 15 features.

Every event has the core fields ``transaction_id``, ``timestamp``, ``card_id`` and ``amount``;
a spec declares more (``[event]``): ``id`` (an integer entity such as a terminal), ``number``
(with an optional range) and ``category`` (a string from known values, anything else maps to
the declared ``other``). Features, in model-input order (``[[features]]``), are of five kinds:

- ``field``: a number field as it is (``amount`` too);
- ``category``: a category field, one-hot: one column per known value and one for ``other``;
- ``calendar``: ``weekend`` (Saturday, Sunday) or ``night`` (hours ``[first, last]``, inclusive,
  wrapping past midnight when first > last), in a stated time zone;
- ``window``: per entity (``card_id``, an ``id`` or a ``category`` field), over the last N days
  ``(t - N days, t]``: ``count``, ``sum`` and ``mean`` of a number field, the current
  transaction included (default) or not;
- ``label_window``: per entity, over N days ending D days before (the label delay),
  ``(t - D - N days, t - D]``: ``count`` of transactions, ``frauds`` among them and their
  ``ratio`` (0 when there were none).

Pure: no pandas, no I/O beyond reading the spec file.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterator
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.errors import SpecError

__all__ = [
    "CORE_FIELDS",
    "DAY_SECONDS",
    "HANDBOOK_SPEC_FILE",
    "MAX_ID",
    "CalendarFeature",
    "CategoryFeature",
    "CategoryField",
    "FeatureSpec",
    "FieldFeature",
    "IdField",
    "LabelWindowFeature",
    "NumberField",
    "WindowFeature",
    "handbook_spec",
    "load_spec",
    "parse_spec",
]

DAY_SECONDS = 86_400
#: Ids are at most a signed 64-bit integer (what SQL ``BIGINT`` and every JSON library hold).
MAX_ID = 2**63 - 1
#: The fields every event has; a spec may not declare them again.
CORE_FIELDS = ("transaction_id", "timestamp", "card_id", "amount")
#: Where the handbook's spec is kept (package data).
HANDBOOK_SPEC_FILE = Path(__file__).resolve().parent / "handbook.toml"
#: The spec format this code reads.
SPEC_VERSION = 1
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


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the event's declared fields ------------------------------------------------------------
class IdField(_Strict):
    """An integer identifier (0 .. 2^63-1), e.g. a terminal: windows can be kept per value."""

    type: Literal["id"]


class NumberField(_Strict):
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


class CategoryField(_Strict):
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
class FieldFeature(_Strict):
    """A number field as the model's input."""

    kind: Literal["field"]
    field: FieldName
    name: FieldName | None = None

    def names(self) -> tuple[str, ...]:
        """Its column name."""
        return (self.name or self.field,)


class CategoryFeature(_Strict):
    """A category field, one-hot: ``<prefix>=<value>`` per known value and for ``other``."""

    kind: Literal["category"]
    field: FieldName
    prefix: str | None = Field(default=None, pattern=_NAME)


class CalendarFeature(_Strict):
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


class _Windowed(_Strict):
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


class Timestamps(_Strict):
    """How a data file's timestamps are read."""

    #: The zone of timestamps written without an offset (and of the protocol's days).
    timezone: str = "UTC"
    #: A ``strptime`` format; ``None``: ISO 8601. ``epoch_s`` / ``epoch_ms``: numbers.
    format: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _known_zone(value)


class FeatureSpec(_Strict):
    """A validated feature spec (see the module's documentation)."""

    spec_version: Literal[1]
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    event: dict[FieldName, EventField] = Field(default_factory=dict)
    #: Data-file column of each event field and of ``label``; the field's own name by default.
    columns: dict[str, str] = Field(default_factory=dict)
    timestamps: Timestamps = Timestamps()
    features: tuple[Feature, ...] = Field(min_length=1, max_length=512)

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> Iterator[str]:
        for name in self.event:
            if name in (*CORE_FIELDS, "label", "partner_id", "fields"):
                yield f"event.{name}: a core field, it cannot be declared again"
            elif name.startswith("model_") or hasattr(BaseModel, name):
                yield f"event.{name}: a reserved name, choose another"
        known = {*self.event, "label"} | set(CORE_FIELDS)
        for name in self.columns:
            if name not in known:
                yield f"columns.{name}: not a field of the event"
        for index, feature in enumerate(self.features):
            yield from self._feature_problems(f"features[{index}]", feature)
        names = [name for feature in self.features for name in self.names_of(feature)]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            yield f"features: column names used twice: {', '.join(duplicated)}"

    def _feature_problems(self, where: str, feature: Feature) -> Iterator[str]:
        if isinstance(feature, FieldFeature | CategoryFeature):
            wanted = "number" if isinstance(feature, FieldFeature) else "category"
            if self.field_type(feature.field) != wanted:
                yield f"{where}.field: {feature.field!r} is not a {wanted} field of the event"
        if isinstance(feature, WindowFeature | LabelWindowFeature):
            if self.field_type(feature.entity) not in ("id", "category"):
                yield (
                    f"{where}.entity: {feature.entity!r} is not card_id or an id or "
                    "category field of the event"
                )
            for aggregate in feature.names:
                if aggregate not in feature.aggregates:
                    yield f"{where}.names.{aggregate}: not one of its aggregates"
        if (
            isinstance(feature, WindowFeature)
            and feature.of is not None
            and self.field_type(feature.of) != "number"
        ):
            yield f"{where}.of: {feature.of!r} is not a number field of the event"

    # --- what the rest of the code asks ---------------------------------------------------
    def field_type(self, name: str) -> str | None:
        """``id``, ``number``, ``category`` or ``None`` (not a field) for an event field."""
        if name in ("transaction_id", "card_id"):
            return "id"
        if name == "amount":
            return "number"
        if name == "timestamp":
            return "timestamp"
        declared = self.event.get(name)
        return None if declared is None else declared.type

    def category(self, name: str) -> CategoryField:
        """The declared category field ``name``."""
        declared = self.event[name]
        if not isinstance(declared, CategoryField):
            msg = f"{name} is not a category field"
            raise TypeError(msg)
        return declared

    def names_of(self, feature: Feature) -> tuple[str, ...]:
        """The column names ``feature`` produces, in order."""
        if isinstance(feature, FieldFeature | CalendarFeature):
            return feature.names()
        if isinstance(feature, CategoryFeature):
            prefix = feature.prefix or feature.field
            return tuple(f"{prefix}={value}" for value in self.category(feature.field).buckets)
        of = feature.of if isinstance(feature, WindowFeature) else "tx"
        default = (
            "{entity}_{aggregate}_{of}_{days}d"
            if isinstance(feature, WindowFeature) and feature.of
            else "{entity}_{aggregate}_{days}d"
        )
        return tuple(
            feature.names.get(aggregate, default).format(
                entity=feature.entity, of=of, aggregate=aggregate, days=days
            )
            for days in feature.days
            for aggregate in feature.aggregates
        )

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        """The model's input columns, in order."""
        return tuple(name for feature in self.features for name in self.names_of(feature))

    @cached_property
    def entities(self) -> tuple[str, ...]:
        """Entities with windows, in the order the stream visits them: ``card_id`` first (the
        transactions topic is keyed by card), then in order of first use."""
        seen: list[str] = []
        for feature in self.features:
            if (
                isinstance(feature, WindowFeature | LabelWindowFeature)
                and feature.entity not in seen
            ):
                seen.append(feature.entity)
        return tuple(sorted(seen, key=lambda entity: entity != "card_id"))

    def windows_of(self, entity: str) -> tuple[WindowFeature | LabelWindowFeature, ...]:
        """The window features over ``entity``, in spec order."""
        return tuple(
            feature
            for feature in self.features
            if isinstance(feature, WindowFeature | LabelWindowFeature) and feature.entity == entity
        )

    @cached_property
    def label_entities(self) -> tuple[str, ...]:
        """Entities with label windows: a fraud label must name each of them."""
        return tuple(
            entity
            for entity in self.entities
            if any(isinstance(w, LabelWindowFeature) for w in self.windows_of(entity))
        )

    @cached_property
    def label_delay_days(self) -> int | None:
        """The shortest label delay of the label windows: a fraud's label must be known this
        many days after the transaction (``None`` without label windows)."""
        return min(
            (f.delay_days for f in self.features if isinstance(f, LabelWindowFeature)),
            default=None,
        )

    @cached_property
    def history_days(self) -> int:
        """How many days of history the windows look back at most (0 without windows)."""
        return max(
            (
                max(f.days) + (f.delay_days if isinstance(f, LabelWindowFeature) else 0)
                for f in self.features
                if isinstance(f, WindowFeature | LabelWindowFeature)
            ),
            default=0,
        )

    def column_of(self, field: str) -> str:
        """The data-file column that holds ``field`` (an event field or ``label``)."""
        return self.columns.get(field, field)

    @property
    def fields(self) -> tuple[str, ...]:
        """Every event field: the core ones, then the declared ones."""
        return (*CORE_FIELDS, *self.event)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (saved in the model artifact; :func:`parse_spec` reads it back)."""
        return self.model_dump(mode="json", exclude_defaults=False)

    @cached_property
    def digest(self) -> str:
        """The first 12 hex digits of the SHA-256 of its canonical JSON: names the spec."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# --- reading -------------------------------------------------------------------------------
def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def parse_spec(data: Any, source: str = "spec") -> FeatureSpec:
    """A :class:`FeatureSpec` from parsed TOML, YAML or JSON; :class:`SpecError` names every
    problem with its place."""
    if not isinstance(data, dict):
        msg = f"{source}: a spec is a table of keys, not {type(data).__name__}"
        raise SpecError(msg)
    if data.get("spec_version") != SPEC_VERSION:
        msg = (
            f"{source}: spec_version must be {SPEC_VERSION} "
            f"(found {data.get('spec_version')!r}; this code reads version {SPEC_VERSION})"
        )
        raise SpecError(msg)
    try:
        return FeatureSpec.model_validate(data)
    except ValidationError as exc:
        msg = f"{source}: {_validation_message(exc)}"
        raise SpecError(msg) from exc


def load_spec(path: Path) -> FeatureSpec:
    """Read a spec from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read the spec {path}: {exc}"
        raise SpecError(msg) from exc
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml", ".json"):
        msg = f"{path}: a spec is a .toml, .yaml, .yml or .json file"
        raise SpecError(msg)
    if suffix in (".yaml", ".yml"):
        import yaml  # noqa: PLC0415 - only YAML specs need it

        try:
            data: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            msg = f"{path}: not valid YAML: {exc}"
            raise SpecError(msg) from exc
    else:
        try:
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except ValueError as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            msg = f"{path}: not valid {suffix.lstrip('.').upper()}: {exc}"
            raise SpecError(msg) from exc
    return parse_spec(data, str(path))


@cache
def handbook_spec() -> FeatureSpec:
    """The default spec: the Fraud Detection Handbook's 15 features."""
    return load_spec(HANDBOOK_SPEC_FILE)
