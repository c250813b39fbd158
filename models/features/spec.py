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

An optional ``[shared_counts]`` table names entities whose label windows are computed from
per-time-bucket counts summed across partners instead (:mod:`models.features.shared`): whole
time buckets, ``[h - per_day * (D + N), h - per_day * D)`` for a transaction in bucket ``h``.

Pure: no pandas, no I/O beyond reading the spec file.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterator
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from models.errors import SpecError
from models.features.spec_parts import (
    CORE_FIELDS,
    DAY_SECONDS,
    FALLBACK_COLUMN,
    HANDBOOK_SPEC_FILE,
    MAX_CATEGORY_CHARS,
    MAX_ID,
    SHARED_HANDBOOK_SPEC_FILE,
    SPEC_VERSION,
    CalendarFeature,
    CategoryFeature,
    CategoryField,
    EventField,
    Feature,
    FieldFeature,
    FieldName,
    IdField,
    LabelWindowFeature,
    NumberField,
    SharedCountsSpec,
    Strict,
    Timestamps,
    WindowFeature,
)

__all__ = [
    "CORE_FIELDS",
    "DAY_SECONDS",
    "FALLBACK_COLUMN",
    "HANDBOOK_SPEC_FILE",
    "MAX_CATEGORY_CHARS",
    "MAX_ID",
    "SHARED_HANDBOOK_SPEC_FILE",
    "CalendarFeature",
    "CategoryFeature",
    "CategoryField",
    "FeatureSpec",
    "FieldFeature",
    "IdField",
    "LabelWindowFeature",
    "NumberField",
    "SharedCountsSpec",
    "Timestamps",
    "WindowFeature",
    "handbook_spec",
    "load_spec",
    "parse_spec",
    "shared_handbook_spec",
]


class FeatureSpec(Strict):
    """A validated feature spec (see the module's documentation)."""

    spec_version: Literal[1]
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    event: dict[FieldName, EventField] = Field(default_factory=dict)
    #: Data-file column of each event field and of ``label``; the field's own name by default.
    columns: dict[str, str] = Field(default_factory=dict)
    timestamps: Timestamps = Timestamps()
    features: tuple[Feature, ...] = Field(min_length=1, max_length=512)
    #: Entities whose label windows use counts summed across partners (none by default).
    shared_counts: SharedCountsSpec | None = None

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
        if self.shared_counts is not None:
            yield from self._shared_problems(self.shared_counts, names)

    def _shared_problems(self, shared: SharedCountsSpec, names: list[str]) -> Iterator[str]:
        for index, entity in enumerate(shared.entities):
            where = f"shared_counts.entities[{index}]"
            if entity == "card_id":
                yield f"{where}: card_id cannot be shared (a card belongs to one partner)"
            elif self.field_type(entity) not in ("id", "category"):
                yield f"{where}: {entity!r} is not an id or category field of the event"
            elif not any(
                isinstance(f, LabelWindowFeature) and f.entity == entity for f in self.features
            ):
                yield f"{where}: {entity!r} has no label_window feature"
        if FALLBACK_COLUMN in names:
            yield f"features: {FALLBACK_COLUMN} is the fallback column of shared counts"

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

    def is_shared(self, entity: str) -> bool:
        """Whether ``entity``'s label windows use counts shared across partners."""
        return self.shared_counts is not None and entity in self.shared_counts.entities

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (saved in the model artifact; :func:`parse_spec` reads it back).
        ``shared_counts`` is left out when absent, so specs without it keep their digest."""
        data = self.model_dump(mode="json", exclude_defaults=False)
        if self.shared_counts is None:
            del data["shared_counts"]
        return data

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


@cache
def shared_handbook_spec() -> FeatureSpec:
    """The handbook's spec with its terminal windows computed from counts summed across
    partners (``[shared_counts] entities = ["terminal_id"]``, hourly buckets)."""
    return load_spec(SHARED_HANDBOOK_SPEC_FILE)
