"""What flows between the agents after validation: one typed, frozen record per topic.

Pure: no I/O. Every producer builds these and every consumer reads them (the partner's agents,
the scorer, the alert follower, verify, bench, demo), so a field is named in one place::

    transactions ─ validate ─▶ ValidatedTransaction ┐ validated (key: an entity's state key;
    labels       ─ validate ─▶ ValidatedLabel ──────┘   a transaction visits each entity)
    validated ─ request ─▶ PendingRequest (pending, key request id, stays inside the partner)
                         └▶ ScoringRequest (scoring requests: ciphertext, addressing in headers)
    scorer ─▶ Verdict (verdicts: encrypted, addressing and timings in headers)
    pending + verdicts ─ decrypt ─▶ Score (scores) and, at or over the threshold, Alert (alerts)
                                   (in :mod:`streams.core.outputs`, with their JSON Schemas)

The JSON records (:class:`Message` subclasses) are pydantic models: ``to_bytes()`` writes JSON
(timestamps in UTC, RFC 3339 with ``Z``), ``from_bytes()`` reads it back and checks it. The
scoring request and the verdict are not JSON: their value is a ciphertext envelope
(:mod:`models.fhe.envelope`) and what the scorer must know travels in Kafka headers; their
classes here check those headers. Input events (what a partner sends, validated against its
limits) are in :mod:`streams.core.events`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from streams.core.errors import SchemaError, SignatureError
from streams.core.headers import (
    FHE_MS_HEADER,
    NONCE_HEADER,
    PARTNER_HEADER,
    QUEUED_MS_HEADER,
    REQUEST_DIGEST_HEADER,
    REQUEST_HEADER,
    SIGNATURE_HEADER,
    SIGNED_AT_HEADER,
    Headers,
    header_map,
    header_ms,
)

__all__ = [
    "MAX_ID",
    "FieldValue",
    "Id",
    "Label",
    "Message",
    "PendingRequest",
    "RawRecord",
    "RequestTimings",
    "ScoringRequest",
    "Transaction",
    "Validated",
    "ValidatedLabel",
    "ValidatedTransaction",
    "Verdict",
    "parse_validated",
]


#: Ids are at most a signed 64-bit integer: what Kafka Connect's sinks, SQL ``BIGINT`` and
#: every JSON library downstream can hold without loss.
MAX_ID = 2**63 - 1
#: A transaction, card or terminal id.
Id = Annotated[int, Field(ge=0, le=MAX_ID)]


class RawRecord(Protocol):
    """A record as it came off a topic (a Faust message, a kafka-python record, a test's own):
    what the agents' steps read."""

    @property
    def topic(self) -> str:
        """The topic it came from."""

    @property
    def partition(self) -> int:
        """The partition it came from."""

    @property
    def key(self) -> bytes | None:
        """Its key."""

    @property
    def value(self) -> bytes | None:
        """Its value."""

    @property
    def headers(self) -> Headers:
        """Its headers."""


class Message(BaseModel):
    """A JSON record on a topic: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        """The record's value: compact JSON."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Self:
        """Read a record's value; :class:`SchemaError` names what is wrong (never a value)."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            where = "; ".join(
                ".".join(str(part) for part in error["loc"]) + ": " + error["msg"]
                for error in exc.errors(include_url=False, include_input=False)
            )
            msg = f"not a {cls.__name__} record: {where}"
            raise SchemaError(msg) from exc


# --- inside the partner ---------------------------------------------------------------------
#: The value of a field the feature spec declares: an id, a number or a category.
FieldValue = int | float | str


class Transaction(Message):
    """A valid plaintext card transaction (what :class:`~streams.core.events.TransactionEvent`
    accepted), in its canonical form: the core fields, and the spec's in ``fields``."""

    transaction_id: Id
    timestamp: datetime
    card_id: Id
    amount: float = Field(ge=0)
    partner_id: str
    fields: dict[str, FieldValue] = Field(default_factory=dict)

    def event(self) -> dict[str, Any]:
        """Every field by name (core and declared), as the feature code reads an event."""
        return {
            "transaction_id": self.transaction_id,
            "timestamp": self.timestamp,
            "card_id": self.card_id,
            "amount": self.amount,
            **self.fields,
        }


class Label(Message):
    """A valid confirmed fraud: which transaction, when, and the entities (``fields``) whose
    label windows count it."""

    transaction_id: Id
    timestamp: datetime
    partner_id: str
    fields: dict[str, FieldValue] = Field(default_factory=dict)

    def event(self) -> dict[str, Any]:
        """Every field by name, as the feature code reads an event."""
        return {"transaction_id": self.transaction_id, "timestamp": self.timestamp, **self.fields}


class ValidatedTransaction(Message):
    """On ``validated`` (key: the state key of the entity it visits next, e.g.
    ``terminal_id=42``): a transaction on its way through its entities' states, with the window
    values of those it visited."""

    kind: Literal["transaction"] = "transaction"
    transaction: Transaction
    #: The index, in the spec's entity order, of the entity whose state it updates next.
    stage: int = Field(ge=0)
    #: The window values of each entity visited so far, in order.
    windows: tuple[tuple[float, ...], ...] = ()
    #: False for history that only warms the feature state (the ``fraud.backfill`` header).
    score: bool
    received_ms: float
    features_ms: float
    #: Time buckets of the shared label windows so far that counted the partner's own counts
    #: (the sums had not come): see ``Score.shared_fallback_buckets``.
    fallback_buckets: int = Field(default=0, ge=0)


class ValidatedLabel(Message):
    """On ``validated`` (key: the state key of ``entity``): a confirmed fraud for that entity's
    label windows."""

    kind: Literal["label"] = "label"
    label: Label
    entity: str


Validated = Annotated[ValidatedTransaction | ValidatedLabel, Field(discriminator="kind")]
_VALIDATED: TypeAdapter[ValidatedTransaction | ValidatedLabel] = TypeAdapter(Validated)


def parse_validated(raw: bytes) -> ValidatedTransaction | ValidatedLabel:
    """Read a record of the ``validated`` topic (either kind)."""
    try:
        return _VALIDATED.validate_json(raw)
    except ValidationError as exc:
        msg = f"not a validated record: {exc.error_count()} problems"
        raise SchemaError(msg) from exc


class RequestTimings(Message):
    """When the transaction arrived and what the partner's stages took (ms)."""

    received_ms: float
    features_ms: float
    encrypt_ms: float
    sent_ms: float


class PendingRequest(Message):
    """On ``pending`` (key request id): the plaintext details of a request in flight, kept
    inside the partner until its verdict comes back."""

    request_id: str
    transaction: Transaction
    features: tuple[float, ...]
    key_id: str
    timings: RequestTimings
    #: The SHA-256 of the request's envelope: only a verdict naming it joins these details
    #: (``None`` in details stored before requests were signed: any signed verdict joins).
    request_digest: str | None = None
    shared_fallback_buckets: int = Field(default=0, ge=0)
    #: A candidate model's request (shadow scoring): its score never alerts.
    shadow: bool = False


# --- crossing the trust boundary: ciphertexts, addressing in headers ------------------------
@dataclass(frozen=True)
class ScoringRequest:
    """On the shared ``scoring.requests`` topic (key request id): an encrypted input envelope;
    the partner id, the request id and the partner's signature in headers
    (:class:`~streams.core.signatures.RequestClaim`). Nothing else leaves the partner."""

    partner: str
    request_id: str
    envelope: bytes
    nonce: str = ""
    signed_at_ms: int = 0
    signature: bytes = b""

    @property
    def key(self) -> bytes:
        """The record key: the request id."""
        return self.request_id.encode()

    def headers(self) -> list[tuple[str, bytes]]:
        """The record's headers."""
        return [
            (PARTNER_HEADER, self.partner.encode()),
            (REQUEST_HEADER, self.key),
            (NONCE_HEADER, self.nonce.encode()),
            (SIGNED_AT_HEADER, str(self.signed_at_ms).encode()),
            (SIGNATURE_HEADER, self.signature.hex().encode()),
        ]

    @classmethod
    def from_record(
        cls, key: bytes | None, value: bytes | None, headers: Headers, partners: Collection[str]
    ) -> ScoringRequest:
        """Read a request record; :class:`SchemaError` when it names no partner of
        ``partners`` or its request id header differs from its key, :class:`SignatureError`
        when it is not signed (whether the signature holds is the scorer's to check)."""
        found = header_map(headers)
        partner = found.get(PARTNER_HEADER, "")
        request_id = found.get(REQUEST_HEADER, "")
        if partner not in partners:
            msg = "the request names no partner of this service"
            raise SchemaError(msg)
        if not request_id or key != request_id.encode():
            msg = "the request id header is missing or differs from the record key"
            raise SchemaError(msg)
        signature, signed_at_ms = _signature_headers(found, "request")
        nonce = found.get(NONCE_HEADER, "")
        if not 16 <= len(nonce) <= 64:
            msg = "the request has no nonce header of 16 to 64 characters"
            raise SignatureError(msg)
        return cls(partner, request_id, bytes(value or b""), nonce, signed_at_ms, signature)


def _signature_headers(found: dict[str, str], what: str) -> tuple[bytes, int]:
    """(signature, signed_at_ms) from a request's or verdict's headers."""
    try:
        signature = bytes.fromhex(found.get(SIGNATURE_HEADER, ""))
        signed_at_ms = int(found.get(SIGNED_AT_HEADER, ""))
    except ValueError as exc:
        msg = f"the {what} is unsigned (no hex signature or no signing time in its headers)"
        raise SignatureError(msg) from exc
    if len(signature) != 64 or signed_at_ms <= 0:
        msg = f"the {what} is unsigned (no 64-byte signature or no signing time)"
        raise SignatureError(msg)
    return signature, signed_at_ms


@dataclass(frozen=True)
class Verdict:
    """On ``<partner>.verdicts`` (key request id): the encrypted verdict envelope; partner,
    request id, the scorer's timings and its signature
    (:class:`~streams.core.signatures.VerdictClaim`) in headers."""

    partner: str
    request_id: str
    envelope: bytes
    queued_ms: float | None
    fhe_ms: float | None
    #: The key id it was evaluated under, for the scorer's own log (not written on the wire:
    #: the envelope inside carries it).
    key_id: str | None = None
    #: The SHA-256 of the request's envelope it answers.
    request_digest: str = ""
    signed_at_ms: int = 0
    signature: bytes = b""

    @property
    def key(self) -> bytes:
        """The record key: the request id."""
        return self.request_id.encode()

    def headers(self) -> list[tuple[str, bytes]]:
        """The record's headers (timings with one decimal)."""
        headers = [(PARTNER_HEADER, self.partner.encode()), (REQUEST_HEADER, self.key)]
        if self.queued_ms is not None:
            headers.append((QUEUED_MS_HEADER, f"{self.queued_ms:.1f}".encode()))
        if self.fhe_ms is not None:
            headers.append((FHE_MS_HEADER, f"{self.fhe_ms:.1f}".encode()))
        headers += [
            (REQUEST_DIGEST_HEADER, self.request_digest.encode()),
            (SIGNED_AT_HEADER, str(self.signed_at_ms).encode()),
            (SIGNATURE_HEADER, self.signature.hex().encode()),
        ]
        return headers

    @classmethod
    def from_record(cls, key: bytes | None, value: bytes | None, headers: Headers) -> Verdict:
        """Read a verdict record (timings that are missing or not numbers become ``None``);
        :class:`SignatureError` when it is not signed (whether the signature holds is the
        decryptor's to check)."""
        found = header_map(headers)
        request_id = (key or b"").decode(errors="replace")
        signature, signed_at_ms = _signature_headers(found, "verdict")
        return cls(
            partner=found.get(PARTNER_HEADER, ""),
            request_id=request_id,
            envelope=bytes(value or b""),
            queued_ms=header_ms(found.get(QUEUED_MS_HEADER)),
            fhe_ms=header_ms(found.get(FHE_MS_HEADER)),
            request_digest=found.get(REQUEST_DIGEST_HEADER, ""),
            signed_at_ms=signed_at_ms,
            signature=signature,
        )
