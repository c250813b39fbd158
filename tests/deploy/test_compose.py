"""docker-compose.yml: valid against the Compose specification's schema (compose-go, fetched by
scripts/tools.sh), and naming only settings and commands that exist in the code."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.tools import ROOT, SETTINGS, check_command, tool

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(tool("COMPOSE_SCHEMA").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_the_compose_file_matches_the_compose_specification(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors


def test_the_schema_check_catches_a_wrong_file(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    wrong = {**compose, "services": {**compose["services"], "scorer": {"image": 3, "comand": []}}}
    messages = [e.message for e in validator.iter_errors(wrong)]
    assert any("'comand'" in m and "unexpected" in m for m in messages), messages
    assert "3 is not of type 'string'" in messages


def fraudstream_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if not service["image"].startswith("apache/kafka")
    }


def test_it_names_only_settings_the_code_reads(compose: dict[str, Any]) -> None:
    named = {
        key
        for service in compose["services"].values()
        for key in service.get("environment", {})
        if key.startswith("FRAUD_")
    }
    assert named, "the services set FRAUD_* variables"
    assert named <= SETTINGS, named - SETTINGS


def command_of(service: dict[str, Any]) -> list[str]:
    """The fraudstream arguments a service runs (also inside an `sh -c` line)."""
    if service.get("entrypoint", ["fraudstream"])[0] == "fraudstream":
        return list(service["command"])
    (line,) = service["command"]
    words = shlex.split(line)
    return words[words.index("fraudstream") + 1 :]


def test_every_service_runs_a_command_of_the_cli(compose: dict[str, Any]) -> None:
    commands = {
        name: check_command(command_of(service))
        for name, service in fraudstream_services(compose).items()
    }
    assert commands == {
        "topics": "fraudstream topics create",
        "keys-alpha": "fraudstream keys generate",
        "keys-bravo": "fraudstream keys generate",
        "scorer-key": "fraudstream keys scorer",
        "scorer": "fraudstream worker",
        "partner-alpha": "fraudstream worker",
        "partner-bravo": "fraudstream worker",
        "replay": "fraudstream replay",
        "alerts-alpha": "fraudstream alerts",
        "alerts-bravo": "fraudstream alerts",
    }


def test_the_broker_is_the_pinned_kraft_image_of_the_tests_kafka(compose: dict[str, Any]) -> None:
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>(.+)</kafka.version>", pom)
    assert version
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{version.group(1)}"
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper


def test_only_a_partner_and_its_key_job_mount_its_keys(compose: dict[str, Any]) -> None:
    """The scorer mounts only its own signing key, read-only; each key volume is its own
    partner's; partners read only the scorer's public key."""
    services = compose["services"]
    assert services["scorer"]["volumes"] == ["scorer-key:/var/lib/fraudstream/scorer:ro"]
    for partner in ("alpha", "bravo"):
        shared = [v for v in services[f"partner-{partner}"]["volumes"] if v.startswith("scorer")]
        assert shared == ["scorer-public:/var/lib/fraudstream/scorer-public:ro"]
    for partner in ("alpha", "bravo"):
        mounting = {
            name
            for name, service in services.items()
            if any(v.startswith(f"{partner}-keys:") for v in service.get("volumes", []))
        }
        assert mounting == {f"keys-{partner}", f"partner-{partner}"}


def test_the_replay_waits_for_healthy_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    waits = services["replay"]["depends_on"]
    assert {name: w["condition"] for name, w in waits.items()} == {
        "scorer": "service_healthy",
        "partner-alpha": "service_healthy",
        "partner-bravo": "service_healthy",
    }
    assert "/ready" in " ".join(services["scorer"]["healthcheck"]["test"])
