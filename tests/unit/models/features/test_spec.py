"""Reading a feature spec: TOML, YAML and JSON give the same spec; every inconsistency is named
with its place; the handbook's spec is the 15 features of the golden file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.errors import SpecError
from models.features.spec import HANDBOOK_SPEC_FILE, handbook_spec, load_spec, parse_spec

BASE: dict[str, Any] = {
    "spec_version": 1,
    "name": "bank",
    "event": {"terminal_id": {"type": "id"}, "channel": {"type": "category", "values": ["web"]}},
    "features": [{"kind": "field", "field": "amount"}],
}


def spec_with(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


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
