"""The decryptor's join table: each request's halves (details, verdicts) until they meet.

One entry per request id (the table is keyed and partitioned like the ``pending`` and
``verdicts`` topics). A request id may see more than one of each half: a transaction processed
twice after a crash sends its details and a request twice (two ciphertexts, two digests), and a
verdict may be delivered twice. A verdict joins only details whose request digest it names (the
features it was computed from, under the same key id); the first such pair is scored, and the
entry then stays as a *done* marker so that any later half is dropped as a duplicate, not
scored again. Entries expire after the join TTL (waiting halves and done markers alike), so the
table holds at most (requests per second x TTL) entries; at most :data:`MAX_HALVES` of each half
are kept per request id.

Faust writes a table change to the changelog partition of the record being processed, so an
entry is only ever written or expired while a record of its own partition is processed (the
entry remembers its partition).
"""

from __future__ import annotations

import base64

from pydantic import ValidationError

from models.fhe.envelope import open_envelope
from streams.core.errors import FraudStreamError
from streams.core.headers import FHE_MS_HEADER, QUEUED_MS_HEADER
from streams.core.messages import Message, PendingRequest
from streams.runtime.logs import get_logger

__all__ = ["MAX_HALVES", "JoinEntry", "WaitingVerdict", "read_entry"]

_log = get_logger(__name__)
#: Most details and most verdicts kept for one request id.
MAX_HALVES = 4


class WaitingVerdict(Message):
    """A verdict whose signature held, waiting for its details."""

    #: The verdict envelope, base64 (the table's changelog is JSON).
    envelope: str
    key_id: str
    #: The request digest it answers (``None``: stored before verdicts were signed).
    request_digest: str | None
    queued_ms: float | None = None
    fhe_ms: float | None = None
    arrived_ms: float | None = None
    #: When the verdict was stored on the verdicts topic (its record's timestamp, epoch ms).
    stored_ms: float | None = None


class JoinEntry(Message):
    """What the join table holds for one request id."""

    details: tuple[PendingRequest, ...] = ()
    verdicts: tuple[WaitingVerdict, ...] = ()
    #: The partition of the records it was made from (expiry runs per partition).
    partition: int = -1
    created_ms: float = 0.0
    #: When the request was scored: later halves are duplicates.
    done_ms: float | None = None

    def match(self) -> tuple[PendingRequest, WaitingVerdict] | None:
        """The first details and verdict that belong together, if any."""
        for details in self.details:
            for verdict in self.verdicts:
                if _belong(details, verdict):
                    return details, verdict
        return None

    def expired(self, now_ms: float, ttl_ms: float) -> bool:
        """Whether the entry is older than ``ttl_ms`` (from its scoring, or its creation)."""
        since = self.done_ms if self.done_ms is not None else self.created_ms
        return now_ms - since > ttl_ms


def _belong(details: PendingRequest, verdict: WaitingVerdict) -> bool:
    if details.key_id != verdict.key_id:
        return False
    if details.request_digest is None or verdict.request_digest is None:
        return True  # one half predates the signed requests: the request id alone binds them
    return details.request_digest == verdict.request_digest


def read_entry(stored: object, request_id: str) -> JoinEntry | None:
    """The entry from its table value (``None`` when it cannot be read: logged and dropped, so
    that the request can still complete). Entries of earlier formats are upgraded."""
    if isinstance(stored, dict) and ("verdict" in stored or "scorer" in stored):
        stored = _upgraded(stored)
    try:
        return JoinEntry.model_validate(stored)
    except ValidationError:
        _log.warning("join_entry_unreadable", request_id=request_id)
        return None


def _upgraded(stored: dict[str, object]) -> dict[str, object]:
    """An entry written before verdicts were signed: one ``details``, one ``verdict`` (base64)
    with its timings beside it (or, earlier still, the scorer's headers under ``scorer``). It
    was accepted by this partner's own decryptor, so it keeps its place."""
    details = stored.get("details")
    entry: dict[str, object] = {"details": [details] if details else []}
    verdict = stored.get("verdict")
    if isinstance(verdict, str):
        headers = stored.get("scorer")
        timings = headers if isinstance(headers, dict) else stored
        entry["verdicts"] = [
            {
                "envelope": verdict,
                "key_id": _key_id_of(verdict),
                "request_digest": None,
                "queued_ms": _number(timings.get("queued_ms", timings.get(QUEUED_MS_HEADER))),
                "fhe_ms": _number(timings.get("fhe_ms", timings.get(FHE_MS_HEADER))),
                "arrived_ms": _number(stored.get("arrived_ms")),
            }
        ]
    return entry


def _key_id_of(verdict_b64: str) -> str | None:
    """The key id an old entry's verdict envelope names (``None``: unreadable; the entry then
    fails validation and is dropped)."""
    try:
        return open_envelope(base64.b64decode(verdict_b64), "verdict").key_id
    except (ValueError, FraudStreamError):
        return None


def _number(value: object) -> float | None:
    try:
        return None if value is None else float(str(value))
    except ValueError:
        return None
