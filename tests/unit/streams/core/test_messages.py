"""The typed records between the agents: what each writes is what the next one reads, and what
is not one of them is refused with a schema error that names no value."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from streams.core.errors import SchemaError, SignatureError
from streams.core.headers import FHE_MS_HEADER, PARTNER_HEADER, QUEUED_MS_HEADER, REQUEST_HEADER
from streams.core.messages import (
    Label,
    PendingRequest,
    RequestTimings,
    ScoringRequest,
    Transaction,
    ValidatedLabel,
    ValidatedTransaction,
    Verdict,
    parse_validated,
)
from streams.core.outputs import Alert, Score, ScoreTimings

WHEN = datetime(2018, 8, 8, 0, 1, 14, tzinfo=UTC)
LABEL = Label(transaction_id=1, timestamp=WHEN, partner_id="a", fields={"terminal_id": 7})
TX = Transaction(
    transaction_id=1236698, timestamp=WHEN, card_id=2765, amount=42.32, partner_id="alpha",
    fields={"terminal_id": 2747, "merchant_category": "grocery", "device_risk": 0.25},
)  # fmt: skip


def score(value: float, *, alert: bool) -> Score:
    timings = ScoreTimings(
        features_ms=0.2, encrypt_ms=3.0, queued_ms=None, fhe_ms=900.0, decrypt_ms=1.0,
        transport_ms=None, end_to_end_ms=950.0,
    )  # fmt: skip
    return Score(
        transaction_id=TX.transaction_id, timestamp=WHEN, card_id=TX.card_id,
        fields=TX.fields, amount=TX.amount, score=value, threshold=0.5, alert=alert,
        model_version="m1", key_id="k1", request_id="r1", features=(1.0,) * 15,
        timings=timings, scored_at_ms=1.0,
    )  # fmt: skip


def test_each_json_record_reads_back_as_written() -> None:
    """Validated, pending and score records round-trip through their bytes; timestamps stay
    UTC and are written with Z."""
    records = [
        ValidatedTransaction(
            transaction=TX,
            stage=1,
            windows=((1.0, 2.0),),
            score=True,
            received_ms=1.0,
            features_ms=0.1,
        ),
        ValidatedLabel(label=LABEL, entity="terminal_id"),
        PendingRequest(
            request_id="r1",
            transaction=TX,
            features=(0.5,) * 15,
            key_id="k1",
            timings=RequestTimings(received_ms=1, features_ms=2, encrypt_ms=3, sent_ms=4),
        ),
        score(0.9, alert=True),
    ]
    for record in records:
        assert type(record).from_bytes(record.to_bytes()) == record
    assert b'"timestamp":"2018-08-08T00:01:14Z"' in records[0].to_bytes()


def test_the_validated_topic_carries_either_kind() -> None:
    """A record of the validated topic is read as the kind it says it is."""
    label = ValidatedLabel(label=LABEL, entity="terminal_id")
    assert parse_validated(label.to_bytes()) == label
    with pytest.raises(SchemaError, match="not a validated record"):
        parse_validated(b'{"kind": "refund"}')


def test_an_alert_is_a_score_at_or_over_the_threshold() -> None:
    """An alert record reads as an Alert; a score that is not an alert does not."""
    assert Alert.from_bytes(score(0.9, alert=True).to_bytes()).score == 0.9
    with pytest.raises(SchemaError, match="not a Alert record: alert"):
        Alert.from_bytes(score(0.1, alert=False).to_bytes())


def test_a_bad_record_is_refused_without_echoing_its_values() -> None:
    """A schema error names the field, never the value (values may be amounts)."""
    with pytest.raises(SchemaError) as caught:
        Score.from_bytes(b'{"transaction_id": 1, "amount": 98765.4321}')
    assert "98765" not in str(caught.value)
    assert "timestamp" in str(caught.value)


def test_a_scoring_request_is_addressed_by_its_headers_and_key() -> None:
    """The request's partner, id, nonce, signing time and signature travel in headers, its key
    is the id; a request naming an unknown partner, with a key other than its id, or without a
    signature or nonce is refused."""
    request = ScoringRequest("alpha", "r1", b"envelope", "n" * 32, 1_700_000_000_000, b"s" * 64)
    read = ScoringRequest.from_record(request.key, request.envelope, request.headers(), {"alpha"})
    assert read == request
    unsigned = ScoringRequest("alpha", "r1", b"envelope")
    with pytest.raises(SignatureError, match="unsigned"):
        ScoringRequest.from_record(unsigned.key, b"", unsigned.headers(), {"alpha"})
    no_nonce = replace(request, nonce="")
    with pytest.raises(SignatureError, match="nonce"):
        ScoringRequest.from_record(no_nonce.key, b"", no_nonce.headers(), {"alpha"})
    with pytest.raises(SchemaError, match="no partner of this service"):
        ScoringRequest.from_record(request.key, b"", request.headers(), {"bravo"})
    with pytest.raises(SchemaError, match="differs from the record key"):
        ScoringRequest.from_record(b"r2", b"", request.headers(), {"alpha"})
    with pytest.raises(SchemaError, match="request id header is missing"):
        ScoringRequest.from_record(b"r1", b"", [(PARTNER_HEADER, b"alpha")], {"alpha"})


def test_a_verdict_carries_its_timings_in_headers() -> None:
    """A verdict's timings survive the headers (one decimal); missing or garbled ones are None;
    its request digest, signing time and signature come back as sent; an unsigned one is
    refused."""
    verdict = Verdict(
        "alpha",
        "r1",
        b"ciphertext",
        queued_ms=12.34,
        fhe_ms=900.0,
        request_digest="d" * 64,
        signed_at_ms=5,
        signature=b"s" * 64,
    )
    read = Verdict.from_record(verdict.key, verdict.envelope, verdict.headers())
    assert (read.partner, read.request_id, read.envelope) == ("alpha", "r1", b"ciphertext")
    assert (read.queued_ms, read.fhe_ms) == (12.3, 900.0)
    assert (read.request_digest, read.signed_at_ms, read.signature) == ("d" * 64, 5, b"s" * 64)
    timings = (QUEUED_MS_HEADER, FHE_MS_HEADER)
    signed = [(name, value) for name, value in verdict.headers() if name not in timings]
    garbled = [*signed, (FHE_MS_HEADER, b"soon")]
    assert Verdict.from_record(b"r1", b"x", garbled).fhe_ms is None
    with pytest.raises(SignatureError, match="unsigned"):
        Verdict.from_record(b"r1", b"x", [(PARTNER_HEADER, b"alpha"), (REQUEST_HEADER, b"r1")])
