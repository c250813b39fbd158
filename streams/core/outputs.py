"""What a fraud team plugs into: the score and alert records, and their published JSON Schemas.

The decryptor writes a :class:`Score` for every scored transaction on the partner's ``scores``
topic and an :class:`Alert` (the same record, ``alert`` true) on its ``alerts`` topic, both keyed
by card id, as JSON (timestamps in UTC, RFC 3339 with ``Z``). Every field is described here, with
its unit; :func:`json_schema` turns a record into the versioned JSON Schema published in
``docs/schemas/`` (a unit test checks the files against this code, so they cannot drift).

A change that removes or retypes a field is a new version: a new topic (``….v2``) and a new
schema file, the old ones kept while consumers move.

Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from streams.core.messages import FieldValue, Id, Message

__all__ = ["SCHEMA_VERSION", "Alert", "Score", "ScoreTimings", "json_schema", "published_schemas"]

#: The version of the score and alert records (the ``v1`` of their topics).
SCHEMA_VERSION = 1


def _ms(what: str) -> Any:
    return Field(description=f"Milliseconds {what}.")


def _optional_ms(what: str) -> Any:
    return Field(description=f"Milliseconds {what}; null when the scorer did not report it.")


class ScoreTimings(Message):
    """Where the time of one score went, in milliseconds, from the partner's gateway receiving
    the transaction to its decryptor writing the score."""

    features_ms: float = _ms("the gateway spent computing the transaction's features")
    encrypt_ms: float = _ms("the gateway spent encrypting the features")
    queued_ms: float | None = _optional_ms(
        "the encrypted request waited on the scoring topic before a scorer took it"
    )
    fhe_ms: float | None = _optional_ms("the scorer's FHE evaluation took")
    decrypt_ms: float = _ms("the decryptor spent decrypting the verdict")
    transport_ms: float | None = _optional_ms(
        "left over: broker hops to and from the scorer and the verdict's transfer"
    )
    end_to_end_ms: float = _ms("from the gateway receiving the transaction to the score written")


class Score(Message):
    """A scored transaction, on ``<root>.<partner>.scores.v1`` (key: the card id)."""

    transaction_id: Id = Field(description="The transaction's id, as the partner sent it.")
    timestamp: datetime = Field(
        description="When the transaction happened (UTC, RFC 3339 with Z), as the partner sent it."
    )
    card_id: Id = Field(description="The card's id, as the partner sent it.")
    amount: float = Field(description="The transaction's amount, in the partner's currency unit.")
    fields: dict[str, FieldValue] = Field(
        default_factory=dict,
        description="The transaction's fields beyond the core ones, those the model's feature "
        "spec declares (the handbook's: terminal_id).",
    )
    score: float = Field(
        description="The model's fraud score, decrypted inside the partner: a probability from "
        "0 (legitimate) to 1 (fraud)."
    )
    threshold: float = Field(
        description="The partner's alert threshold for this model version (same scale as score)."
    )
    alert: bool = Field(description="Whether score is at or over threshold.")
    model_version: str = Field(description="The model version that scored (its artifact id).")
    key_id: str = Field(description="The partner's FHE key that encrypted the request.")
    request_id: str = Field(description="The scoring request's id (the scorer saw only this).")
    features: tuple[float, ...] = Field(
        description="The plaintext features the model saw, in the order of its feature spec "
        "(the handbook's 15: docs/alerts.md); never left the partner unencrypted."
    )
    timings: ScoreTimings = Field(description="Where the time of this score went.")
    scored_at_ms: float = Field(
        description="When the decryptor wrote the score: milliseconds since the Unix epoch (UTC)."
    )
    shared_fallback_buckets: int = Field(
        default=0,
        ge=0,
        description="Buckets of the shared label windows counted from the partner's own "
        "transactions, the cross-partner sums of their hour not having come (0: none).",
    )
    shadow: bool = Field(
        default=False,
        description="A candidate model's score (shadow scoring, on shadow-scores only; never "
        "alerted).",
    )


class Alert(Score):
    """A score at or over the partner's threshold, on ``<root>.<partner>.alerts.v1`` (key: the
    card id): the same record as on the scores topic."""

    alert: Literal[True] = Field(description="Always true on the alerts topic.")


def json_schema(record: type[Score], name: str) -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of ``record``, named ``name``."""
    schema = _one_line(record.model_json_schema(mode="serialization"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:fraudstream:schema:{name}:v{SCHEMA_VERSION}",
        **schema,
    }


def _one_line(node: Any) -> Any:
    """``node`` with every description on one line (docstrings wrap at the code's width)."""
    if isinstance(node, dict):
        return {
            k: " ".join(v.split()) if k == "description" and isinstance(v, str) else _one_line(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_one_line(v) for v in node]
    return node


def published_schemas() -> dict[str, dict[str, Any]]:
    """Every published schema by file name (``score.v1.json``, ``alert.v1.json``)."""
    return {
        f"{name}.v{SCHEMA_VERSION}.json": json_schema(record, name)
        for name, record in (("score", Score), ("alert", Alert))
    }
