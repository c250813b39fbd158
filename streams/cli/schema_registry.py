"""Registering the published record schemas with a Schema Registry, over its REST API.

``POST /subjects/{subject}/versions`` with ``{"schemaType": "JSON", "schema": "<the schema as
a string>"}`` and the content type ``application/vnd.schemaregistry.v1+json``: Confluent's API,
which Karapace and other registries speak too. The subject of a topic's values is
``<topic>-value`` (the serializers' default ``TopicNameStrategy``), so a converter that reads
``fraud.alpha.alerts.v1`` finds ``alert.v1.json`` under ``fraud.alpha.alerts.v1-value``.

Registering the same schema again returns the id it already has; a schema the subject's
compatibility rule refuses is an error (409) that names the way out: a new topic version.

Stdlib HTTP (``urllib``): one POST per subject needs no client library.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from streams.core.errors import ConfigError

__all__ = [
    "CONTENT_TYPE",
    "Registration",
    "SchemaRegistryError",
    "explain_refusal",
    "register",
    "registration_request",
    "value_subject",
]

#: The Schema Registry API's content type (requests and responses).
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(ConfigError):
    """The Schema Registry could not be reached, or refused a schema: the message says which
    and what to do."""


@dataclass(frozen=True)
class Registration:
    """A schema registered under a subject, and the id the registry gave it."""

    subject: str
    schema_id: int


def value_subject(topic: str) -> str:
    """The subject of a topic's values under the default ``TopicNameStrategy``."""
    return f"{topic}-value"


def registration_request(url: str, subject: str, schema: dict[str, Any]) -> urllib.request.Request:
    """The POST that registers ``schema`` (a JSON Schema) under ``subject`` at the registry
    ``url`` (its base URL, e.g. ``http://schema-registry:8081``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"{url!r} is not a Schema Registry URL (http://host:port or https://host:port)"
        raise SchemaRegistryError(msg)
    body = {"schemaType": "JSON", "schema": json.dumps(schema, ensure_ascii=False)}
    quoted = urllib.parse.quote(subject, safe="")
    # The scheme was checked above: http or https only.
    return urllib.request.Request(  # noqa: S310
        f"{url.rstrip('/')}/subjects/{quoted}/versions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
    )


def register(url: str, subject: str, schema: dict[str, Any], timeout_s: float) -> Registration:
    """Register ``schema`` under ``subject``; the registry's id for it (the same id when it was
    registered before). ``timeout_s`` bounds the connection and each read."""
    request = registration_request(url, subject, schema)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http/s)
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise SchemaRegistryError(explain_refusal(exc.code, exc.read(), subject, url)) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = f"the Schema Registry at {url} is unreachable ({reason}): is it running there?"
        raise SchemaRegistryError(msg) from exc
    except json.JSONDecodeError as exc:
        msg = f"{url} answered a registration with something not JSON: is it a Schema Registry?"
        raise SchemaRegistryError(msg) from exc
    schema_id = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(schema_id, int):
        msg = f"{url} answered the registration of {subject} without a schema id: {answer!r}"
        raise SchemaRegistryError(msg)
    return Registration(subject, schema_id)


def explain_refusal(status: int, body: bytes, subject: str, url: str) -> str:
    """What a refused registration means, from its HTTP status and the registry's error body
    (``{"error_code": ..., "message": ...}``)."""
    try:
        parsed = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        parsed = {}
    said = parsed.get("message") if isinstance(parsed, dict) else None
    detail = f": {said}" if said else ""
    if status == 409:
        return (
            f"{subject} refused the schema as incompatible with its latest version (409{detail}); "
            "a changed record is a new topic and schema version (v2), not a new version of v1"
        )
    if status == 422:
        return f"the registry at {url} refused the schema of {subject} as invalid (422{detail})"
    if status in (401, 403):
        return f"the registry at {url} did not allow registering {subject} ({status}{detail})"
    if status == 404:
        return f"no Schema Registry API at {url} (404{detail}): give the registry's base URL"
    return f"the registry at {url} failed to register {subject} ({status}{detail})"
