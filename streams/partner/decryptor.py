"""The partner's decryptor: join each encrypted verdict with its request's details, decrypt,
score, alert.

Runs inside the partner (it holds the secret key)::

    pending + verdicts (key request id) ─ decrypt_verdicts ─ join table ─ scores, alerts

Whichever half of a request comes first waits in the ``verdict_join`` table. A transaction
processed twice (after a crash) sends the same request id: the first details stay, so whichever
verdict comes joins the features it was computed from. :class:`DecryptorSteps` is the per-record
work (no Faust; a dict can be its table in a test); :class:`Decryptor` wires it to the app.
"""

from __future__ import annotations

import base64
import time
from collections.abc import MutableMapping
from typing import Any

import faust
from pydantic import ValidationError

from streams.core.headers import FHE_MS_HEADER, QUEUED_MS_HEADER, header_ms
from streams.core.messages import (
    Message,
    PendingRequest,
    RawRecord,
    Score,
    ScoreTimings,
    Verdict,
)
from streams.core.topics import PARTNER_TABLES, TopicNames
from streams.partner.context import PartnerContext
from streams.runtime.agents import AgentSet, Encoded, raw_topic, run_agent
from streams.runtime.delivery import deliver
from streams.runtime.logs import get_logger

__all__ = ["Decryptor", "DecryptorSteps", "JoinEntry"]

_log = get_logger(__name__)


class JoinEntry(Message):
    """What the join table holds for a request id until both halves are there."""

    details: PendingRequest | None = None
    #: The verdict envelope, base64 (the table's changelog is JSON).
    verdict: str | None = None
    queued_ms: float | None = None
    fhe_ms: float | None = None
    arrived_ms: float | None = None


class DecryptorSteps:
    """The decryptor's work on one record of ``pending`` or ``verdicts``."""

    def __init__(
        self, context: PartnerContext, pending_topic: str, joins: MutableMapping[str, Any]
    ) -> None:
        """Decrypt with ``context``'s keys; ``joins`` is the join table (JSON-ready entries)."""
        self.context = context
        self.pending_topic = pending_topic
        self.joins = joins

    def join(self, record: RawRecord) -> Encoded[Score] | None:
        """Add one half of a request; its :class:`Score` (keyed by card) once both halves are
        there."""
        request_id = (record.key or b"").decode(errors="replace")
        entry = self._stored(request_id)
        if record.topic == self.pending_topic:
            if entry.details is None:
                details = PendingRequest.from_bytes(bytes(record.value or b""))
                entry = entry.model_copy(update={"details": details})
        else:
            verdict = Verdict.from_record(record.key, record.value, record.headers)
            entry = entry.model_copy(
                update={
                    "verdict": base64.b64encode(verdict.envelope).decode(),
                    "queued_ms": verdict.queued_ms,
                    "fhe_ms": verdict.fhe_ms,
                    "arrived_ms": time.time() * 1000,
                }
            )
        if entry.details is None or entry.verdict is None:
            self.joins[request_id] = entry.model_dump(mode="json")
            return None
        score = self.score(entry.details, entry)
        return Encoded(score, str(score.card_id).encode(), score.to_bytes())

    def _stored(self, request_id: str) -> JoinEntry:
        """The table's entry for ``request_id`` (empty if none). An entry of the format before
        the typed records (its scorer headers under ``scorer``) is read as it was meant; one
        that cannot be read at all is dropped with a warning rather than blocking the request
        for good (its other half, if it was there, is then waited for again)."""
        stored = self.joins.get(request_id)
        if stored is None:
            return JoinEntry()
        if isinstance(stored, dict) and "scorer" in stored:
            stored = _upgraded(stored)
        try:
            return JoinEntry.model_validate(stored)
        except ValidationError:
            _log.warning("join_entry_unreadable", request_id=request_id)
            del self.joins[request_id]
            return JoinEntry()

    def forget(self, request_id: str) -> None:
        """Drop a joined request from the table."""
        if request_id in self.joins:
            del self.joins[request_id]

    def score(self, details: PendingRequest, entry: JoinEntry) -> Score:
        """Decrypt the verdict, compare with the threshold, account for the time."""
        decrypted = self.context.ring.decrypt(base64.b64decode(entry.verdict or ""))
        done_ms = time.time() * 1000
        sent = details.timings
        transport_ms = None
        arrived, queued, fhe = entry.arrived_ms, entry.queued_ms, entry.fhe_ms
        if arrived is not None and queued is not None and fhe is not None:
            # Whatever is left: broker hops to and from the scorer, the verdict's transfer.
            transport_ms = round(arrived - sent.sent_ms - queued - fhe, 1)
        tx = details.transaction
        score = float(decrypted.score)
        return Score(
            transaction_id=tx.transaction_id,
            timestamp=tx.timestamp,
            card_id=tx.card_id,
            terminal_id=tx.terminal_id,
            amount=tx.amount,
            score=score,
            threshold=self.context.threshold,
            alert=score >= self.context.threshold,
            model_version=self.context.model_version,
            key_id=details.key_id,
            request_id=details.request_id,
            features=details.features,
            timings=ScoreTimings(
                features_ms=sent.features_ms,
                encrypt_ms=sent.encrypt_ms,
                queued_ms=None if entry.queued_ms is None else round(entry.queued_ms, 1),
                fhe_ms=entry.fhe_ms,
                decrypt_ms=round(decrypted.seconds * 1000, 3),
                transport_ms=transport_ms,
                end_to_end_ms=round(done_ms - sent.received_ms, 1),
            ),
            scored_at_ms=round(done_ms, 1),
        )


def _upgraded(stored: dict[str, Any]) -> dict[str, Any]:
    """An entry written before the typed records: the scorer's headers under ``scorer``."""
    entry = {k: v for k, v in stored.items() if k != "scorer"}
    headers = stored.get("scorer") or {}
    entry["queued_ms"] = header_ms(headers.get(QUEUED_MS_HEADER))
    entry["fhe_ms"] = header_ms(headers.get(FHE_MS_HEADER))
    return entry


class Decryptor:
    """The decryptor's topics, join table and agent on a partner's Faust app."""

    def __init__(
        self, app: faust.App, names: TopicNames, partitions: int, context: PartnerContext
    ) -> None:
        """Declare the topics and the join table on ``app``."""
        partner = context.partner
        self.partner = partner
        self.scores = raw_topic(app, names.scores(partner))
        self.alerts = raw_topic(app, names.alerts(partner))
        self.dead = raw_topic(app, names.deadletter(partner))
        self.joined = raw_topic(
            app, names.pending(partner), names.verdicts(partner), allow_empty=True
        )
        self.steps = DecryptorSteps(
            context,
            names.pending(partner),
            app.Table(PARTNER_TABLES[2], partitions=partitions),
        )

    def install(self, app: faust.App, agents: AgentSet) -> None:
        """Attach the agent."""
        agents.add(app, self.decrypt_verdicts, self.joined, self.partner)

    async def decrypt_verdicts(self, stream: faust.StreamT[Any]) -> None:
        """Join each verdict with its request's details; decrypt, score, alert."""

        async def forward(_record: Any, out: Encoded[Score] | None) -> None:
            if out is None:
                return  # the other half has not arrived yet
            score = out.item
            await deliver(self.scores, key=out.key, value=out.value)
            if score.alert:
                await deliver(self.alerts, key=out.key, value=out.value)
            self.steps.forget(score.request_id)
            _log.info(
                "verdict_decrypted",
                partner=self.partner,
                transaction_id=score.transaction_id,
                request_id=score.request_id,
                alert=score.alert,
            )

        await run_agent(stream, self.steps.join, forward, self.dead)
