"""deploy/connect/: the Kafka Connect sink examples of docs/alerts.md, checked against the keys
their connectors document (deploy/connect/documented_keys.json, transcribed from each
connector's ConfigDef, with the source each list was read from), and against the project's
topic names and the alert record's fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.core.topics import TopicNames
from tests.support.paths import ROOT

CONNECT = ROOT / "deploy" / "connect"
KEYS: dict[str, Any] = json.loads((CONNECT / "documented_keys.json").read_text())
EXAMPLES = sorted(p for p in CONNECT.glob("*.json") if p.name != "documented_keys.json")
ALERT = json.loads((ROOT / "docs" / "schemas" / "alert.v1.json").read_text())
#: Flatten$Value's delimiter in the examples: ``timings.fhe_ms`` becomes ``timings_fhe_ms``.
FLAT = "_"


def example(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def undocumented(config: dict[str, str]) -> list[str]:
    """Every key of ``config`` that neither its connector, Kafka Connect's sink configuration,
    its converters nor its transformations define."""
    framework = KEYS["framework"]
    connector = KEYS["connectors"][config["connector.class"]]
    known = set(framework["keys"]) | set(connector["keys"])
    prefixes = tuple(connector["prefixes"])
    found = []
    for key in config:
        if key in known or (prefixes and key.startswith(prefixes)):
            continue
        if not _documented_nested(key, config):
            found.append(key)
    return found


def _documented_nested(key: str, config: dict[str, str]) -> bool:
    """A converter's, transformation's or client's key (``value.converter.schemas.enable``,
    ``transforms.flatten.delimiter``, ``consumer.override.auto.offset.reset``)."""
    for side in ("key", "value", "header"):
        prefix = f"{side}.converter."
        if key.startswith(prefix):
            converter = KEYS["converters"].get(config.get(f"{side}.converter", ""))
            return converter is not None and key.removeprefix(prefix) in converter["keys"]
    if key.startswith("transforms."):
        alias, _, name = key.removeprefix("transforms.").partition(".")
        if alias not in config.get("transforms", "").split(","):
            return False
        if name in ("type", "predicate", "negate"):
            return True
        transform = KEYS["transforms"].get(config.get(f"transforms.{alias}.type", ""))
        return transform is not None and name in transform["keys"]
    return key.startswith("consumer.override.")


def alert_fields() -> set[str]:
    """The alert record's fields, with its timings' fields flattened (``timings_fhe_ms``)."""
    fields = set(ALERT["properties"])
    timings = ALERT["$defs"]["ScoreTimings"]["properties"]
    return fields | {f"timings{FLAT}{name}" for name in timings}


def referenced_fields(config: dict[str, str]) -> list[str]:
    """The record fields a configuration names: key fields, primary key, kept columns."""
    names = [config.get(key, "") for key in ("pk.fields", "fields.whitelist")]
    aliases = [a for a in config.get("transforms", "").split(",") if a]
    names += [
        config.get(f"transforms.{alias}.{key}", "")
        for alias in aliases
        for key in ("field", "fields")
    ]
    return [field for listed in names for field in listed.split(",") if field]


def test_there_is_an_elasticsearch_a_jdbc_and_an_http_sink() -> None:
    classes = {example(path)["config"]["connector.class"] for path in EXAMPLES}
    assert classes == set(KEYS["connectors"])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_key_is_one_its_connector_documents(path: Path) -> None:
    """No key that Connect or the connector would ignore (or refuse): each is in the ConfigDef
    of the connector, of Kafka Connect's sinks, or of the converter or transformation it
    configures."""
    loaded = example(path)
    assert set(loaded) == {"name", "config"}
    config = loaded["config"]
    assert all(isinstance(value, str) for value in config.values()), "values are strings"
    assert undocumented(config) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_required_keys_are_there(path: Path) -> None:
    loaded = example(path)
    config = {"name": loaded["name"], **loaded["config"]}
    required = (
        KEYS["framework"]["required"] + KEYS["connectors"][config["connector.class"]]["required"]
    )
    assert [key for key in required if not config.get(key)] == []
    assert config.get("topics") or config.get("topics.regex")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_it_reads_a_partners_alerts_and_dead_letters_into_its_dead_letter_topic(path: Path) -> None:
    """The alerts topic and dead-letter topic of one partner, by the project's naming; errors
    are tolerated into it with Connect's context headers (which ``fraudstream deadletters``
    reads) and the consumer starts from the earliest alert."""
    config = example(path)["config"]
    names = TopicNames()
    partner = config["topics"].split(".")[1]
    assert config["topics"] == names.alerts(partner)
    assert config["errors.tolerance"] == "all"
    assert config["errors.deadletterqueue.topic.name"] == names.deadletter(partner)
    assert config["errors.deadletterqueue.context.headers.enable"] == "true"
    assert config["consumer.override.auto.offset.reset"] == "earliest"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_fields_it_names_are_fields_of_an_alert(path: Path) -> None:
    config = example(path)["config"]
    named = referenced_fields(config)
    assert [field for field in named if field not in alert_fields()] == []


def test_the_elasticsearch_document_id_and_the_jdbc_primary_key_are_the_transaction_id() -> None:
    """Replays write the same document or row again rather than a second one."""
    by_class = {example(p)["config"]["connector.class"]: example(p)["config"] for p in EXAMPLES}
    elastic = by_class["io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"]
    assert elastic["key.ignore"] == "false"
    assert "transaction_id" in referenced_fields(elastic)
    jdbc = by_class["io.confluent.connect.jdbc.JdbcSinkConnector"]
    assert (jdbc["insert.mode"], jdbc["pk.mode"], jdbc["pk.fields"]) == (
        "upsert",
        "record_value",
        "transaction_id",
    )


def test_an_unknown_key_a_wrong_converter_key_and_a_missing_alias_are_found() -> None:
    """The check itself: keys no ConfigDef defines are reported."""
    config = example(CONNECT / "elasticsearch-alerts.json")["config"]
    wrong = {
        **config,
        "connection.uri": "http://elasticsearch:9200",
        "value.converter.schema.enable": "false",
        "transforms.nothere.field": "card_id",
    }
    assert undocumented(wrong) == [
        "connection.uri",
        "value.converter.schema.enable",
        "transforms.nothere.field",
    ]


def test_every_list_of_keys_says_where_it_was_read() -> None:
    groups = [KEYS["framework"], *KEYS["connectors"].values()]
    groups += [*KEYS["converters"].values(), *KEYS["transforms"].values()]
    for group in groups:
        assert group["keys"]
        assert group["sources"]
        assert all(source["url"].startswith("https://github.com/") for source in group["sources"])
