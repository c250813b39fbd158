"""Reading a feature spec: TOML, YAML and JSON give the same spec; every inconsistency is named
with its place; the handbook's spec is the 15 features of the golden file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.errors import SpecError
from models.features.spec import (
    HANDBOOK_SPEC_FILE,
    handbook_spec,
    load_spec,
    parse_spec,
    shared_handbook_spec,
)

BASE: dict[str, Any] = {
    "spec_version": 1,
    "name": "bank",
    "event": {"terminal_id": {"type": "id"}, "channel": {"type": "category", "values": ["web"]}},
    "features": [{"kind": "field", "field": "amount"}],
}


def spec_with(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


TERMINAL_RISK = {
    "kind": "label_window",
    "entity": "terminal_id",
    "days": [7],
    "delay_days": 7,
    "aggregates": ["ratio"],
}
CARD_RISK = {**TERMINAL_RISK, "entity": "card_id", "names": {"ratio": "card_risk"}}


def shared_spec(**shared: Any) -> dict[str, Any]:
    """A spec with terminal and card label windows and ``shared`` as its ``[shared_counts]``."""
    return spec_with(features=[TERMINAL_RISK, CARD_RISK], shared_counts=shared)


def test_the_handbook_spec_is_the_fifteen_features() -> None:
    spec = handbook_spec()
    assert len(spec.feature_names) == 15
    assert spec.entities == ("card_id", "terminal_id")
    assert spec.label_entities == ("terminal_id",)
    assert spec.label_delay_days == 7
    assert spec.history_days == 37
    assert spec.column_of("card_id") == "CUSTOMER_ID"


def test_toml_yaml_and_json_read_to_the_same_spec(tmp_path: Path) -> None:
    data = handbook_spec().to_json()
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "s.json").write_text(json.dumps(data))
    for name in ("s.yaml", "s.json"):
        assert load_spec(tmp_path / name) == load_spec(HANDBOOK_SPEC_FILE)
        assert load_spec(tmp_path / name).digest == handbook_spec().digest


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"spec_version": 2}, "spec_version must be 1"),
        ({"event": {"amount": {"type": "number"}}}, "event.amount: a core field"),
        ({"event": {"copy": {"type": "id"}}}, "event.copy: a reserved name"),
        ({"event": {"x": {"type": "money"}}}, "event.x"),
        ({"columns": {"merchant": "M"}}, "columns.merchant: not a field of the event"),
        (
            {"features": [{"kind": "field", "field": "channel"}]},
            "features[0].field: 'channel' is not a number field",
        ),
        (
            {"features": [{"kind": "window", "entity": "amount", "days": [1],
                           "aggregates": ["count"]}]},
            "features[0].entity: 'amount' is not card_id or an id or category field",
        ),
        (
            {"features": [{"kind": "window", "entity": "card_id", "days": [1],
                           "aggregates": ["mean"]}]},
            "sum and mean need 'of'",
        ),
        (
            {"features": [{"kind": "window", "entity": "card_id", "days": [1, 1],
                           "aggregates": ["count"]}]},
            "days must be distinct",
        ),
        (
            {"features": [{"kind": "label_window", "entity": "terminal_id", "days": [7],
                           "delay_days": 0, "aggregates": ["ratio"]}]},
            "delay_days",
        ),
        (
            {"features": [{"kind": "calendar", "flag": "night", "timezone": "Mars/Olympus"}]},
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            {"features": [{"kind": "field", "field": "amount"},
                          {"kind": "field", "field": "amount"}]},
            "column names used twice: amount",
        ),
        ({"features": []}, "features"),
        ({"event": {"channel": {"type": "category", "values": ["a", "a"]}}},
         "values must be distinct"),
    ],
)  # fmt: skip
def test_an_inconsistent_spec_is_refused_with_its_place(
    changes: dict[str, Any], needle: str
) -> None:
    with pytest.raises(SpecError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_spec(spec_with(**changes))


@pytest.mark.parametrize(
    ("shared", "needle"),
    [
        ({"entities": ["card_id"]}, "shared_counts.entities[0]: card_id cannot be shared"),
        ({"entities": ["terminal_id", "amount"]},
         "shared_counts.entities[1]: 'amount' is not an id or category field"),
        ({"entities": ["merchant"]},
         "shared_counts.entities[0]: 'merchant' is not an id or category field"),
        ({"entities": ["channel"]}, "shared_counts.entities[0]: 'channel' has no label_window"),
        ({"entities": ["terminal_id", "terminal_id"]}, "shared_counts.entities: entities must be"),
        ({"entities": []}, "shared_counts.entities: "),
        ({"bucket_hours": 1}, "shared_counts.entities: Field required"),
        ({"entities": ["terminal_id"], "bucket_hours": 5}, "bucket_hours: 5 does not divide 24"),
        ({"entities": ["terminal_id"], "bucket_hours": 0}, "bucket_hours: 0 does not divide 24"),
        ({"entities": ["terminal_id"], "bucket_hours": 48}, "bucket_hours: 48 does not divide"),
        ({"entities": ["terminal_id"], "buckets": 1000}, "buckets: 1000 is not a power of two"),
        ({"entities": ["terminal_id"], "buckets": 128}, "buckets: 128 is not a power of two from"),
        ({"entities": ["terminal_id"], "buckets": 2**25}, "buckets: 33554432 is not a power"),
        ({"entities": ["terminal_id"], "salt": 1}, "shared_counts.salt: Extra inputs"),
    ],
)  # fmt: skip
def test_an_inconsistent_shared_counts_table_is_refused_with_its_place(
    shared: dict[str, Any], needle: str
) -> None:
    """Each rule of ``[shared_counts]`` is checked, and its error names the key."""
    with pytest.raises(SpecError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_spec(shared_spec(**shared))


def test_the_fallback_column_name_is_reserved_with_shared_counts() -> None:
    """A feature may not take the name of the fallback column the batch path adds."""
    named = {**TERMINAL_RISK, "names": {"ratio": "SHARED_FALLBACK_BUCKETS"}}
    spec = spec_with(features=[named], shared_counts={"entities": ["terminal_id"]})
    with pytest.raises(SpecError, match="features: SHARED_FALLBACK_BUCKETS is the fallback"):
        parse_spec(spec)
    parse_spec(spec_with(features=[named]))  # without shared counts, it is just a name


def test_shared_counts_have_defaults_and_change_the_digest() -> None:
    """``bucket_hours`` 1 and ``buckets`` 65,536 by default; the table is part of the digest,
    and a spec without it keeps the digest it had before the table existed."""
    plain = parse_spec(spec_with(features=[TERMINAL_RISK]))
    shared = parse_spec(shared_spec(entities=["terminal_id"]))
    assert shared.shared_counts is not None
    assert (shared.shared_counts.bucket_hours, shared.shared_counts.buckets) == (1, 65_536)
    assert "shared_counts" not in plain.to_json()
    assert parse_spec(shared.to_json()) == shared
    two_hours = parse_spec(shared_spec(entities=["terminal_id"], bucket_hours=2))
    assert len({plain.digest, shared.digest, two_hours.digest}) == 3
    assert shared.is_shared("terminal_id")
    assert not shared.is_shared("card_id")
    assert not plain.is_shared("terminal_id")


def test_the_shared_handbook_spec_is_the_handbook_with_shared_terminal_windows() -> None:
    """Same features as the handbook's; the terminal's label windows use shared hourly counts."""
    spec, handbook = shared_handbook_spec(), handbook_spec()
    assert spec.name == "handbook-shared"
    assert "summed across partners" in spec.description
    assert spec.features == handbook.features
    assert spec.feature_names == handbook.feature_names
    assert spec.shared_counts is not None
    assert spec.shared_counts.entities == ("terminal_id",)
    assert (spec.shared_counts.bucket_hours, spec.shared_counts.buckets) == (1, 65_536)
    assert spec.digest != handbook.digest


def test_unreadable_spec_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("spec_version = = 1")
    (tmp_path / "bad.yaml").write_text("spec_version: [1")
    (tmp_path / "spec.txt").write_text("")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(tmp_path / "bad.toml")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(tmp_path / "bad.yaml")
    with pytest.raises(SpecError, match=r"\.toml, \.yaml, \.yml or \.json"):
        load_spec(tmp_path / "spec.txt")
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "missing.toml")
