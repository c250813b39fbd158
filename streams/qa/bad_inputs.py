"""Bad inputs for the fuzz run: every way a record on a topic of the system can be wrong.

Each generator makes one :class:`BadInput` from a seeded :class:`random.Random`, so a run is
repeated by its seed. Every input is bad by construction (it must be refused, never scored):
malformed and out-of-range events and labels, events of another partner or dated where no window
can place them, unsigned, forged, stale or replayed scoring requests and broken envelopes,
verdicts not signed by the pinned scorer key or altered, key-registry records that are unsigned,
oversized, misnamed or forged revocations. :data:`FAMILIES` says which topic each family goes to
and which share of a run it takes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.fhe.envelope import seal
from models.fhe.proof import Ed25519Signer, key_id_of, revocation_message
from streams.core.headers import (
    NONCE_HEADER,
    PARTNER_HEADER,
    REQUEST_HEADER,
    SIGNATURE_HEADER,
    SIGNED_AT_HEADER,
)
from streams.core.key_chunks import CHUNK_BYTES, MAX_CHUNKS, chunk_records
from streams.core.messages import ScoringRequest
from streams.core.signatures import RequestClaim, digest_of, sign
from streams.core.topics import TopicNames

__all__ = ["FAMILIES", "BadInput", "Forger"]

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class BadInput:
    """One record to send, and what kind of bad it is."""

    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def _stranger() -> Ed25519Signer:
    """A signer nobody registered or pinned."""
    return Ed25519Signer(Ed25519PrivateKey.generate())


@dataclass
class Forger:
    """Makes bad inputs aimed at ``partner``'s topics and the shared ones.

    ``card`` is a valid event of the partner (a dict, as its gateway reads it) on a card whose
    state's clock (its second-newest event) is ``card_clock``; ``request`` a scoring request
    the scorer has already evaluated and ``verdict`` (key, value, headers) its verdict, both
    genuine: replays and alterations start from them. ``signer`` and ``other_signer`` are the
    partner's and another partner's registry signers.
    """

    rng: random.Random
    names: TopicNames
    partner: str
    other: str
    card: dict[str, Any]
    card_clock: datetime
    key_id: str
    model_version: str
    signer: Any
    other_signer: Any
    request: ScoringRequest
    verdict: tuple[bytes, bytes, Headers]
    max_event_bytes: int

    # --- events -------------------------------------------------------------------------------
    def _event(self, changes: dict[str, Any], drop: str | None = None) -> dict[str, Any]:
        event = {**self.card, **changes}
        if drop is not None:
            del event[drop]
        return event

    def transaction(self) -> BadInput:
        """A transaction the gateway must refuse."""
        how = self.rng.choice(list(_TRANSACTION_FAULTS))
        event, key = _TRANSACTION_FAULTS[how](self)
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        card_key = key if key is not None else str(self.card["card_id"]).encode()
        return BadInput(
            f"transaction/{how}", self.names.transactions(self.partner), card_key, value, []
        )

    def label(self) -> BadInput:
        """A label the gateway must refuse."""
        label = {k: self.card[k] for k in ("transaction_id", "timestamp", "terminal_id")}
        label["partner_id"] = self.partner
        how = self.rng.choice(
            ["not_json", "missing", "extra", "wrong_type", "other_partner", "future", "id_range"]
        )
        field = self.rng.choice(list(label))
        faults: dict[str, Callable[[], Any]] = {
            "not_json": lambda: self.rng.randbytes(self.rng.randint(1, 64)) + b"\xff",
            "missing": lambda: {k: v for k, v in label.items() if k != field},
            "extra": lambda: {**label, "note": "x"},
            "wrong_type": lambda: {**label, field: [label[field]]},
            "other_partner": lambda: {**label, "partner_id": self.other},
            "future": lambda: {**label, "timestamp": _far_future(self.rng)},
            "id_range": lambda: {**label, "terminal_id": 2**63 + self.rng.randint(0, 10**6)},
        }
        made = faults[how]()
        value = made if isinstance(made, bytes) else json.dumps(made).encode()
        return BadInput(f"label/{how}", self.names.labels(self.partner), b"0", value, [])

    # --- scoring requests --------------------------------------------------------------------
    def request_record(self) -> BadInput:
        """A scoring request the scorer must refuse before any FHE work (or, for a garbage
        ciphertext under a valid envelope and signature, in the FHE library)."""
        how = self.rng.choice(list(_REQUEST_FAULTS))
        request, headers = _REQUEST_FAULTS[how](self)
        return BadInput(
            f"request/{how}", self.names.scoring_requests(), request.key, request.envelope, headers
        )

    def _signed(
        self,
        envelope: bytes,
        *,
        signer: Any = None,
        key_id: str | None = None,
        at_ms: int | None = None,
    ) -> ScoringRequest:
        request_id = f"fuzz-{self.rng.getrandbits(64):016x}"
        nonce = f"{self.rng.getrandbits(128):032x}"
        at_ms = at_ms if at_ms is not None else int(time.time() * 1000)
        claim = RequestClaim(
            self.partner,
            request_id,
            key_id or self.key_id,
            self.model_version,
            digest_of(envelope),
            nonce,
            at_ms,
        )
        signature = sign(signer or self.signer, claim)
        return ScoringRequest(self.partner, request_id, envelope, nonce, at_ms, signature)

    # --- verdicts ----------------------------------------------------------------------------
    def verdict_record(self) -> BadInput:
        """A verdict the partner's decryptor must refuse (never decrypt)."""
        key, value, headers = self.verdict
        how = self.rng.choice(
            [
                "unsigned",
                "random_signature",
                "not_pinned",
                "replaced",
                "not_an_envelope",
                "other_request",
            ]
        )
        found = dict(headers)
        if how == "unsigned":
            headers = [(k, v) for k, v in headers if k != SIGNATURE_HEADER]
        elif how == "random_signature":
            headers = _with(headers, SIGNATURE_HEADER, self.rng.randbytes(64).hex().encode())
        elif how == "not_pinned":
            headers = _with(headers, SIGNATURE_HEADER, _stranger().sign(b"x").hex().encode())
        elif how == "replaced":
            value = seal("verdict", self.model_version, self.key_id, self.rng.randbytes(64))
        elif how == "not_an_envelope":
            value = self.rng.randbytes(self.rng.randint(0, 200))
        else:  # the genuine verdict, re-addressed to another request id
            key = f"fuzz-{self.rng.getrandbits(64):016x}".encode()
            found[REQUEST_HEADER] = key
            headers = list(found.items())
        return BadInput(f"verdict/{how}", self.names.verdicts(self.partner), key, value, headers)

    # --- key registry ------------------------------------------------------------------------
    def key_record(self) -> BadInput:
        """A keys-topic record every scorer must refuse (logged with its reason)."""
        topic = self.names.evaluation_keys(self.partner)
        how = self.rng.choice(
            [
                "no_headers",
                "bad_signature",
                "bad_key_id",
                "too_many_chunks",
                "oversized",
                "other_partner",
                "unsigned_tombstone",
                "forged_revocation",
            ]
        )
        stranger = _stranger()
        data = self.rng.randbytes(256)
        (key, chunk, headers), *_ = chunk_records(
            self.partner, key_id_of(stranger.public_key), self.model_version, data, stranger
        )
        value: bytes | None = chunk
        if how == "no_headers":
            return BadInput(f"keys/{how}", topic, key, data, [])
        if how == "bad_signature":
            headers = _with(headers, "fraud.signature", self.rng.randbytes(64).hex().encode())
        elif how == "bad_key_id":
            headers = _with(headers, "fraud.key_id", b"../../etc/passwd")
        elif how == "too_many_chunks":
            headers = _with(headers, "fraud.chunks", str(MAX_CHUNKS + 1).encode())
        elif how == "oversized":
            value = b"\x00" * (CHUNK_BYTES + 1)
        elif how == "other_partner":
            headers = _with(headers, "fraud.partner", self.other.encode())
        elif how == "unsigned_tombstone":
            value, headers = None, []
        else:  # a revocation of the partner's real key id, signed by a stranger
            value = None
            signature = stranger.sign(revocation_message(self.partner, self.key_id))
            headers = [
                ("fraud.partner", self.partner.encode()),
                ("fraud.key_id", self.key_id.encode()),
                ("fraud.public_key", stranger.public_key.hex().encode()),
                ("fraud.signature", signature.hex().encode()),
            ]
        return BadInput(f"keys/{how}", topic, key, value, headers)


def _with(headers: Headers, name: str, value: bytes) -> Headers:
    return [(k, value if k == name else v) for k, v in headers]


def _far_future(rng: random.Random) -> str:
    ahead = timedelta(seconds=rng.choice([3600, 86_400 * 30, 86_400 * 3650]))
    return (datetime.now(UTC) + ahead).isoformat()


def _transaction_faults() -> dict[str, Callable[[Forger], tuple[Any, bytes | None]]]:
    """How a transaction can be bad: (event dict or raw bytes, record key or None)."""
    return {
        "not_json": lambda f: (f.rng.randbytes(f.rng.randint(1, 64)) + b"\xff", None),
        "empty": lambda _f: (b"", None),
        "not_an_object": lambda f: (f.rng.choice([b"[1, 2]", b'"x"', b"null", b"12"]), None),
        "missing_field": lambda f: (f._event({}, drop=f.rng.choice(list(f.card))), None),
        "extra_field": lambda f: (f._event({"merchant": "m"}), None),
        "wrong_type": lambda f: (f._event({f.rng.choice(list(f.card)): [1]}), None),
        "id_out_of_range": lambda f: (
            f._event(
                {
                    f.rng.choice(["transaction_id", "terminal_id"]): f.rng.choice(
                        [2**63, 2**64 + 1, -1]
                    )
                }
            ),
            None,
        ),
        "bad_amount": lambda f: (
            f.rng.choice(
                [
                    f._event({"amount": -1.0}),
                    f._event({"amount": 1e12}),
                    json.dumps(f.card).replace(str(f.card["amount"]), "NaN").encode(),
                    f._event({"amount": "12.5"}),
                ]
            ),
            None,
        ),
        "bad_timestamp": lambda f: (
            f._event(
                {
                    "timestamp": f.rng.choice(
                        ["2018-08-08T00:00:00", "yesterday", "", "9999-12-31T23:59:59Z"]
                    )
                }
            ),
            None,
        ),
        "ahead_of_the_clock": lambda f: (f._event({"timestamp": _far_future(f.rng)}), None),
        "too_late_for_its_card": lambda f: (
            f._event(
                {
                    "timestamp": (
                        f.card_clock - timedelta(hours=f.rng.randint(25, 9600))
                    ).isoformat(),
                    "transaction_id": f.rng.getrandbits(40),
                }
            ),
            None,
        ),
        "other_partner": lambda f: (f._event({"partner_id": f.other}), None),
        "key_is_not_the_card": lambda f: (f._event({}), str(f.card["card_id"] + 1).encode()),
        "oversized": lambda f: (
            json.dumps(f.card).encode() + b" " * (f.max_event_bytes + 1),
            None,
        ),
    }


def _request_faults() -> dict[str, Callable[[Forger], tuple[ScoringRequest, Headers]]]:
    """How a scoring request can be bad: (request, the headers actually sent)."""

    def sent(request: ScoringRequest) -> tuple[ScoringRequest, Headers]:
        return request, request.headers()

    def good_envelope(f: Forger) -> bytes:
        return f.request.envelope

    return {
        "unsigned": lambda f: (f.request, f.request.headers()[:2]),
        "random_signature": lambda f: sent(
            replace(f._signed(good_envelope(f)), signature=f.rng.randbytes(64))
        ),
        "signed_by_another_partner": lambda f: sent(
            f._signed(good_envelope(f), signer=f.other_signer)
        ),
        "stale": lambda f: sent(
            f._signed(good_envelope(f), at_ms=int((time.time() - 3 * 86_400) * 1000))
        ),
        "signed_ahead": lambda f: sent(
            f._signed(good_envelope(f), at_ms=int((time.time() + 86_400) * 1000))
        ),
        "replayed": lambda f: sent(f.request),
        "not_an_envelope": lambda f: sent(f._signed(f.rng.randbytes(f.rng.randint(0, 300)))),
        "truncated": lambda f: sent(f._signed(good_envelope(f)[: f.rng.randint(5, 60)])),
        "a_verdict_not_a_request": lambda f: sent(
            f._signed(seal("verdict", f.model_version, f.key_id, b"x"))
        ),
        "other_model": lambda f: sent(f._signed(seal("input", "0" * 12, f.key_id, b"x"))),
        "unknown_key": lambda f: sent(
            f._signed(seal("input", f.model_version, "f" * 32, b"x"), key_id="f" * 32)
        ),
        "unknown_partner": lambda f: (
            f.request,
            _with(f.request.headers(), PARTNER_HEADER, b"zulu"),
        ),
        "id_not_the_key": lambda f: (
            f.request,
            _with(f.request.headers(), REQUEST_HEADER, b"another"),
        ),
        "no_nonce": lambda f: (f.request, _with(f.request.headers(), NONCE_HEADER, b"")),
        "bad_signing_time": lambda f: (
            f.request,
            _with(f.request.headers(), SIGNED_AT_HEADER, b"soon"),
        ),
        "garbage_ciphertext": lambda f: sent(
            f._signed(seal("input", f.model_version, f.key_id, f.rng.randbytes(64)))
        ),
    }


_TRANSACTION_FAULTS = _transaction_faults()
_REQUEST_FAULTS = _request_faults()

#: family -> (share of a run, the Forger method that makes one input).
FAMILIES: dict[str, tuple[float, Callable[[Forger], BadInput]]] = {
    "transactions": (0.40, Forger.transaction),
    "labels": (0.10, Forger.label),
    "requests": (0.25, Forger.request_record),
    "verdicts": (0.15, Forger.verdict_record),
    "keys": (0.10, Forger.key_record),
}
