"""``fraudstream schemas --register``: the Schema Registry request it sends and what each refusal
means. No registry runs in the tests (Karapace, the Apache-2 one, is not on PyPI and its build
needs a Go module the module proxy refuses here), and none is faked: what is checked is the
request itself, the error mapping, and a registry that is not there."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from streams.broker.ports import free_port
from streams.cli.schema_registry import (
    CONTENT_TYPE,
    SchemaRegistryError,
    explain_refusal,
    register,
    registration_request,
    value_subject,
)
from streams.cli.schemas import registry_subjects, schemas
from streams.core.outputs import published_schemas
from streams.core.topics import TopicNames


def test_the_request_posts_the_schema_as_a_json_string_to_the_subjects_versions() -> None:
    schema = published_schemas()["alert.v1.json"]
    request = registration_request("http://registry:8081/", "fraud.alpha.alerts.v1-value", schema)
    assert request.get_method() == "POST"
    assert request.full_url == "http://registry:8081/subjects/fraud.alpha.alerts.v1-value/versions"
    assert request.get_header("Content-type") == CONTENT_TYPE
    assert isinstance(request.data, bytes)
    body = json.loads(request.data)
    assert body["schemaType"] == "JSON"
    assert isinstance(body["schema"], str)
    assert json.loads(body["schema"]) == schema


def test_a_subject_is_quoted_in_the_path() -> None:
    request = registration_request("https://r.example", "a/b c-value", {"type": "object"})
    assert request.full_url == "https://r.example/subjects/a%2Fb%20c-value/versions"


@pytest.mark.parametrize("url", ["registry:8081", "file:///etc/passwd", "ftp://r:21"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(SchemaRegistryError, match="not a Schema Registry URL"):
        registration_request(url, "s-value", {})


def test_each_topic_gets_the_value_subject_of_its_record() -> None:
    subjects = registry_subjects(TopicNames("fraud"), ("alpha", "beta"))
    assert subjects == [
        ("fraud.alpha.scores.v1-value", "score.v1.json"),
        ("fraud.alpha.alerts.v1-value", "alert.v1.json"),
        ("fraud.beta.scores.v1-value", "score.v1.json"),
        ("fraud.beta.alerts.v1-value", "alert.v1.json"),
    ]
    assert value_subject(TopicNames("x").alerts("p")) == "x.p.alerts.v1-value"
    assert {name for _, name in subjects} <= set(published_schemas())


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (409, "incompatible with its latest version (409: Schema being registered is"),
        (422, "refused the schema of s-value as invalid (422: Schema being registered is"),
        (401, "did not allow registering s-value (401"),
        (403, "did not allow registering s-value (403"),
        (404, "no Schema Registry API at http://r (404"),
        (500, "failed to register s-value (500"),
    ],
)
def test_a_refusal_says_what_it_means(status: int, says: str) -> None:
    body = json.dumps({"error_code": status, "message": "Schema being registered is bad"})
    assert says in explain_refusal(status, body.encode(), "s-value", "http://r")


def test_an_incompatible_schema_points_to_a_new_topic_version() -> None:
    assert "new topic and schema version (v2)" in explain_refusal(409, b"", "s-value", "http://r")


def test_a_refusal_whose_body_is_not_json_is_still_explained() -> None:
    said = explain_refusal(502, b"<html>Bad gateway</html>", "s-value", "http://r")
    assert said == "the registry at http://r failed to register s-value (502)"


def test_a_registry_that_is_not_there_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SchemaRegistryError, match=f"Schema Registry at {url} is unreachable"):
        register(url, "s-value", {"type": "object"}, timeout_s=2.0)


def test_the_command_exits_1_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_PARTNERS", "alpha")
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(schemas, ["--register", url, "--connect-timeout", "2"])
    assert result.exit_code == 1
    assert "is unreachable" in result.output


def test_an_unknown_partner_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_PARTNERS", "alpha")
    args = ["--register", "http://127.0.0.1:1", "--partner", "zeta"]
    result = CliRunner().invoke(schemas, args)
    assert result.exit_code == 2
    assert "'zeta' is not a partner here: one of alpha" in result.output
