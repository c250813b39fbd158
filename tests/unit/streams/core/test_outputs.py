"""The score and alert records and their published JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from streams.cli.schemas import fields_markdown, schema_text, schemas
from streams.core.outputs import Alert, Score, ScoreTimings, published_schemas
from tests.support.paths import ROOT


def _score(**changes: object) -> Score:
    base: dict[str, object] = {
        "transaction_id": 1,
        "timestamp": datetime(2018, 8, 8, 0, 1, tzinfo=UTC),
        "card_id": 596,
        "amount": 57.19,
        "fields": {"terminal_id": 3156},
        "score": 0.91,
        "threshold": 0.5,
        "alert": True,
        "model_version": "b42849937288",
        "key_id": "k1",
        "request_id": "r1",
        "features": (0.0, 1.0, 57.19),
        "timings": ScoreTimings(
            features_ms=1.0,
            encrypt_ms=2.0,
            queued_ms=None,
            fhe_ms=800.0,
            decrypt_ms=1.5,
            transport_ms=None,
            end_to_end_ms=900.0,
        ),
        "scored_at_ms": 1.7e12,
    }
    return Score(**{**base, **changes})


def test_the_published_files_are_the_codes_schemas() -> None:
    """docs/schemas/ holds exactly what `fraudstream schemas` writes from this code."""
    folder = ROOT / "docs" / "schemas"
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(published_schemas())
    for name, schema in published_schemas().items():
        assert (folder / name).read_text() == schema_text(schema), name


def test_every_field_is_described() -> None:
    """Every property of every published schema says what it is (a sink's mapping and a fraud
    analyst read these)."""
    for name, schema in published_schemas().items():
        objects = [schema, *schema.get("$defs", {}).values()]
        for node in objects:
            for field, spec in node["properties"].items():
                assert spec.get("description"), f"{name}: {field}"


def test_records_validate_against_their_schemas() -> None:
    """What the decryptor writes validates; an alert that is not one, or an unknown field, or a
    negative id does not."""
    schemas = published_schemas()
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    alert = json.loads(Alert.model_validate(_score().model_dump()).to_bytes())
    jsonschema.validate(alert, schemas["alert.v1.json"])
    jsonschema.validate(alert, schemas["score.v1.json"])
    quiet = json.loads(_score(alert=False, score=0.1).to_bytes())
    jsonschema.validate(quiet, schemas["score.v1.json"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(quiet, schemas["alert.v1.json"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**alert, "extra": 1}, schemas["score.v1.json"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**alert, "card_id": -1}, schemas["score.v1.json"])


def test_the_alerts_doc_lists_every_field() -> None:
    """docs/alerts.md's fields block is what `fraudstream schemas` writes from the schemas."""
    doc = (ROOT / "docs" / "alerts.md").read_text()
    block = doc.split("<!-- fields:begin -->\n")[1].split("\n<!-- fields:end -->")[0]
    assert block == fields_markdown()
    for field in Score.model_fields:
        assert f"| `{field}` |" in block


def test_schemas_check_passes_on_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """`fraudstream schemas --check` (run from the checkout) finds the files current; after a
    change to a file it exits 1 naming it."""
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(schemas, ["--check"])
    assert result.exit_code == 0, result.output
    assert "schemas match the code" in result.output


def test_schemas_check_names_a_stale_file(tmp_path: Path) -> None:
    """A schema file that differs from the code is named, and nothing is written."""
    written = CliRunner().invoke(
        schemas, ["--out", str(tmp_path), "--doc", str(tmp_path / "alerts.md")]
    )
    assert written.exit_code == 0, written.output
    (tmp_path / "alert.v1.json").write_text("{}\n")
    stale = CliRunner().invoke(
        schemas, ["--out", str(tmp_path), "--doc", str(tmp_path / "alerts.md"), "--check"]
    )
    assert stale.exit_code == 1
    assert "alert.v1.json" in stale.output
    assert (tmp_path / "alert.v1.json").read_text() == "{}\n"
