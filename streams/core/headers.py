"""Names and helpers shared by the partner's agents and the scorer: headers on the wire.

Pure: no I/O, no model code. A scoring request carries the partner id, the request id (also its
key) and the partner's signature in headers; a verdict carries them back with the scorer's
timings and signature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "BACKFILL_HEADER",
    "EVENT_TIME_HEADER",
    "FHE_MS_HEADER",
    "NONCE_HEADER",
    "PARTNER_HEADER",
    "QUEUED_MS_HEADER",
    "REQUEST_DIGEST_HEADER",
    "REQUEST_HEADER",
    "SIGNATURE_HEADER",
    "SIGNED_AT_HEADER",
    "Headers",
    "header_map",
    "header_ms",
]

PARTNER_HEADER = "fraud.partner"
REQUEST_HEADER = "fraud.request_id"
#: On a transaction: update the feature state, do not score (history that warms the state).
BACKFILL_HEADER = "fraud.backfill"
#: On a replayed event: its event time (ms since the epoch, ASCII), which paces replays. Kafka's
#: own timestamp is left to the broker: old timestamps would fall to the topics' retention.
EVENT_TIME_HEADER = "fraud.event_time_ms"
#: On a verdict: milliseconds the request waited on the topic, and the FHE evaluation's.
QUEUED_MS_HEADER = "fraud.queued_ms"
FHE_MS_HEADER = "fraud.fhe_ms"
#: On a request and a verdict: the sender's Ed25519 signature (hex) and when it signed (ms since
#: the epoch); on a request, its random nonce; on a verdict, the SHA-256 of the request's
#: envelope it answers (:mod:`streams.core.signatures`).
SIGNATURE_HEADER = "fraud.signature"
SIGNED_AT_HEADER = "fraud.signed_at_ms"
NONCE_HEADER = "fraud.nonce"
REQUEST_DIGEST_HEADER = "fraud.request_sha256"


#: Kafka headers as the clients give them: a list of pairs (Faust, kafka-python) or a mapping.
Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


def header_map(headers: Headers) -> dict[str, str]:
    """Kafka headers as a str-to-str dict (null and undecodable values are dropped)."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    found: dict[str, str] = {}
    for name, value in items:
        try:
            found[name] = bytes(value).decode()
        except (UnicodeDecodeError, TypeError):  # TypeError: a null value (Kafka allows it)
            continue
    return found


def header_ms(text: str | None) -> float | None:
    """A timing header's milliseconds; ``None`` when it is missing or not a number."""
    try:
        return None if text is None else float(text)
    except ValueError:
        return None
