"""The partner's decryptor: join each encrypted verdict with its request's details, decrypt,
score, alert.

Runs inside the partner (it holds the secret key)::

    pending + verdicts (key request id) ─ decrypt_verdicts ─ join table ─ scores, alerts
                                                                       └ shadow scores

Whichever half of a request comes first waits in the ``verdict_join`` table
(:mod:`streams.partner.join_table`). A verdict is taken only when a scorer key the partner pins
signed it for this partner, this request id, its key id, model, ciphertext and the digest of the
request it answers (:mod:`streams.core.signatures`); it joins only the details of that request,
so a transaction processed twice (after a crash) is scored from the features its verdict was
computed from, once: later halves of a scored request are dropped, and entries expire. Each
verdict is decrypted with the key it was made under and compared with its own model's
threshold, so verdicts in flight across a model change score as their model said; those made
under the candidate's keys (shadow scoring) go to the shadow-scores topic only, never to alerts.
:class:`DecryptorSteps` is the per-record work (no Faust; a dict can be its table in a test);
:class:`Decryptor` wires it to the app.
"""

from __future__ import annotations

import base64
import time
from collections.abc import MutableMapping
from typing import Any

import faust

from models.fhe.envelope import open_envelope
from streams.core.messages import PendingRequest, RawRecord, Verdict
from streams.core.outputs import Score, ScoreTimings
from streams.core.signatures import VerdictClaim, digest_of, verify
from streams.core.topics import PARTNER_TABLES, TopicNames
from streams.partner.context import PartnerContext
from streams.partner.join_table import MAX_HALVES, JoinEntry, WaitingVerdict, read_entry
from streams.partner.metrics import PartnerMetrics
from streams.partner.output_check import OutputCheck
from streams.runtime.agents import AgentSet, Encoded, raw_topic, run_agent
from streams.runtime.delivery import deliver
from streams.runtime.faults import fault_point
from streams.runtime.logs import get_logger

__all__ = ["Decryptor", "DecryptorSteps"]

_log = get_logger(__name__)


class DecryptorSteps:
    """The decryptor's work on one record of ``pending`` or ``verdicts``."""

    def __init__(
        self,
        context: PartnerContext,
        pending_topic: str,
        joins: MutableMapping[str, Any],
        ttl_s: float = 86_400.0,
        metrics: PartnerMetrics | None = None,
    ) -> None:
        """Decrypt with ``context``'s keys; ``joins`` is the join table (JSON-ready entries,
        :mod:`streams.partner.join_table`), whose entries expire after ``ttl_s``; count scores
        in ``metrics``."""
        self.context = context
        self.metrics = metrics or PartnerMetrics()
        self.pending_topic = pending_topic
        self.joins = joins
        self.ttl_ms = ttl_s * 1000
        self._sweep_every_ms = min(60_000.0, self.ttl_ms / 10)
        self._swept: dict[int, float] = {}

    def join(self, record: RawRecord) -> Encoded[Score] | None:
        """Add one half of a request; its :class:`Score` (keyed by card) once a verdict and the
        details it was computed from are both there. A verdict whose signature does not hold
        raises (it is dead-lettered); a half of a request already scored is dropped."""
        request_id = (record.key or b"").decode(errors="replace")
        now_ms = time.time() * 1000
        self.sweep(record.partition, now_ms)
        # Checked before anything else: a forged verdict is refused (dead-lettered with its
        # reason) even when its request was scored already.
        is_details = record.topic == self.pending_topic
        half: PendingRequest | WaitingVerdict = (
            PendingRequest.from_bytes(bytes(record.value or b""))
            if is_details
            else self._checked_verdict(record, request_id, now_ms)
        )
        entry = self._stored(request_id) or JoinEntry(partition=record.partition, created_ms=now_ms)
        if entry.done_ms is not None:
            kind = "details" if is_details else "verdict"
            _log.info("duplicate_dropped", request_id=request_id, half=kind)
            return None
        if isinstance(half, PendingRequest):
            entry = entry.model_copy(update={"details": (*entry.details, half)[-MAX_HALVES:]})
        else:
            verdicts = (*entry.verdicts, half)[-MAX_HALVES:]
            entry = entry.model_copy(update={"verdicts": verdicts})
        found = entry.match()
        if found is None:
            self.joins[request_id] = entry.model_dump(mode="json")
            return None
        score = self.score(*found)
        return Encoded(score, str(score.card_id).encode(), score.to_bytes())

    def _checked_verdict(self, record: RawRecord, request_id: str, now_ms: float) -> WaitingVerdict:
        """The verdict, once its signature by a pinned scorer key holds for this partner,
        request id, key id, model, request digest and ciphertext."""
        verdict = Verdict.from_record(record.key, record.value, record.headers)
        envelope = open_envelope(verdict.envelope, "verdict")
        claim = VerdictClaim(
            self.context.partner,
            request_id,
            envelope.key_id,
            envelope.model_version,
            verdict.request_digest,
            digest_of(verdict.envelope),
            verdict.signed_at_ms,
        )
        verify(self.context.scorer_keys, verdict.signature, claim)
        return WaitingVerdict(
            envelope=base64.b64encode(verdict.envelope).decode(),
            key_id=envelope.key_id,
            request_digest=verdict.request_digest,
            queued_ms=verdict.queued_ms,
            fhe_ms=verdict.fhe_ms,
            arrived_ms=now_ms,
            stored_ms=_stored_ms(record),
        )

    def _stored(self, request_id: str) -> JoinEntry | None:
        """The table's entry for ``request_id``; one that cannot be read is dropped (logged)."""
        stored = self.joins.get(request_id)
        if stored is None:
            return None
        entry = read_entry(stored, request_id)
        if entry is None:
            del self.joins[request_id]
        return entry

    def last_done_ms(self, partition: int) -> float:
        """When the latest *done* marker of ``partition`` in the table was set (0 if none)."""
        return max(
            (
                float(stored.get("done_ms") or 0.0)
                for stored in self.joins.values()
                if isinstance(stored, dict) and stored.get("partition") == partition
            ),
            default=0.0,
        )

    def done(self, request_id: str, partition: int) -> None:
        """Mark a request scored (its score delivered): later halves are duplicates."""
        now_ms = time.time() * 1000
        marker = JoinEntry(partition=partition, created_ms=now_ms, done_ms=now_ms)
        self.joins[request_id] = marker.model_dump(mode="json")

    def sweep(self, partition: int, now_ms: float) -> None:
        """Expire ``partition``'s entries older than the TTL (at most once a minute): waiting
        halves whose other half never came (logged) and done markers."""
        if now_ms - self._swept.get(partition, -self.ttl_ms) < self._sweep_every_ms:
            return
        self._swept[partition] = now_ms
        for request_id, stored in list(self.joins.items()):
            if not isinstance(stored, dict) or stored.get("partition") != partition:
                continue
            since = stored.get("done_ms") or stored.get("created_ms") or 0.0
            if now_ms - float(since) <= self.ttl_ms:
                continue
            del self.joins[request_id]
            if stored.get("done_ms") is None:
                _log.warning(
                    "join_expired",
                    request_id=request_id,
                    details=len(stored.get("details") or ()),
                    verdicts=len(stored.get("verdicts") or ()),
                )

    def score(self, details: PendingRequest, verdict: WaitingVerdict) -> Score:
        """Decrypt the verdict, compare with the threshold, account for the time."""
        decrypted = self.context.ring.decrypt(base64.b64decode(verdict.envelope))
        model_version = self.context.ring.keys(details.key_id).client.version
        threshold = self.context.threshold_for(model_version)
        done_ms = time.time() * 1000
        sent = details.timings
        transport_ms = None
        arrived, queued, fhe = verdict.arrived_ms, verdict.queued_ms, verdict.fhe_ms
        if arrived is not None and queued is not None and fhe is not None:
            # Whatever is left: broker hops to and from the scorer, the verdict's transfer.
            transport_ms = round(arrived - sent.sent_ms - queued - fhe, 1)
        tx = details.transaction
        score = float(decrypted.score)
        stored = verdict.stored_ms
        to_verdict_s = None if stored is None else (stored - sent.received_ms) / 1000
        self.metrics.scored(model_version, to_verdict_s)
        return Score(
            transaction_id=tx.transaction_id,
            timestamp=tx.timestamp,
            card_id=tx.card_id,
            amount=tx.amount,
            fields=tx.fields,
            score=score,
            threshold=threshold,
            alert=score >= threshold,
            model_version=model_version,
            key_id=details.key_id,
            request_id=details.request_id,
            features=details.features,
            timings=ScoreTimings(
                features_ms=sent.features_ms,
                encrypt_ms=sent.encrypt_ms,
                queued_ms=None if queued is None else round(queued, 1),
                fhe_ms=fhe,
                decrypt_ms=round(decrypted.seconds * 1000, 3),
                transport_ms=transport_ms,
                end_to_end_ms=round(done_ms - sent.received_ms, 1),
            ),
            scored_at_ms=round(done_ms, 1),
            shared_fallback_buckets=details.shared_fallback_buckets,
            shadow=details.shadow,
        )


def _stored_ms(record: RawRecord) -> float | None:
    """When a Faust message was stored (its timestamp is in seconds), in epoch ms; ``None``
    for a record without a timestamp."""
    stamp = getattr(record, "timestamp", None)
    return float(stamp) * 1000 if isinstance(stamp, int | float) and stamp > 0 else None


class Decryptor:
    """The decryptor's topics, join table and agent on a partner's Faust app."""

    def __init__(
        self,
        app: faust.App,
        names: TopicNames,
        partitions: int,
        context: PartnerContext,
        ttl_s: float = 86_400.0,
        *,
        client_config: dict[str, Any],
        metrics: PartnerMetrics | None = None,
    ) -> None:
        """Declare the topics and the join table on ``app``; ``client_config`` reads the
        outputs back after a takeover (:mod:`streams.partner.output_check`)."""
        partner = context.partner
        self.partner = partner
        self.check = OutputCheck(
            client_config,
            {
                "scores": names.scores(partner),
                "alerts": names.alerts(partner),
                "shadow": names.shadow_scores(partner),
            },
        )
        self.scores = raw_topic(app, names.scores(partner))
        self.shadow_scores = raw_topic(app, names.shadow_scores(partner))
        self.alerts = raw_topic(app, names.alerts(partner))
        self.dead = raw_topic(app, names.deadletter(partner))
        self.joined = raw_topic(
            app, names.pending(partner), names.verdicts(partner), allow_empty=True
        )
        self.steps = DecryptorSteps(
            context,
            names.pending(partner),
            app.Table(PARTNER_TABLES[1], partitions=partitions),
            ttl_s,
            metrics,
        )

    def install(self, app: faust.App, agents: AgentSet) -> None:
        """Attach the agent; a revoked partition is read back again when it returns."""
        agents.add(app, self.decrypt_verdicts, self.joined, self.partner, private=True)

        async def revoked(_app: Any, /, *args: Any, signal: Any, **_: Any) -> None:
            del signal  # mode's signals pass themselves; the revoked set comes first
            self.check.revoked((tp.topic, tp.partition) for tp in args[0])

        app.on_partitions_revoked.connect(revoked)

    async def step(self, record: Any) -> Encoded[Score] | None:
        """Read the outputs back before a partition's first record, then join."""
        if not self.check.checked(record.topic, record.partition):
            # Outputs still to find were sent after this record was (a Faust message's
            # timestamp is in seconds) and after the partition's last done marker was set.
            record_ms = float(record.timestamp) * 1000
            since_ms = max(record_ms, self.steps.last_done_ms(record.partition))
            await self.check.before(record.topic, record.partition, int(since_ms))
        return self.steps.join(record)

    async def _send(self, kind: str, topic: Any, out: Encoded[Score]) -> None:
        """Send one output unless the read-back found it sent before a crash."""
        if self.check.already_sent(kind, out.item.request_id):
            _log.info("output_already_sent", request_id=out.item.request_id, output=kind)
            return
        await deliver(topic, key=out.key, value=out.value)

    async def decrypt_verdicts(self, stream: faust.StreamT[Any]) -> None:
        """Join each verdict with its request's details; decrypt, score, alert."""

        async def forward(record: Any, out: Encoded[Score] | None) -> None:
            if out is None:
                return  # the other half has not arrived yet
            score = out.item
            fault_point("decryptor.before_output")
            if score.shadow:  # the details say so: a switch since then changes nothing
                await self._send("shadow", self.shadow_scores, out)
            else:
                await self._send("scores", self.scores, out)
                if score.alert:
                    await self._send("alerts", self.alerts, out)
            fault_point("decryptor.after_output")
            self.steps.done(score.request_id, record.partition)
            self.check.forget(score.request_id)
            _log.info(
                "verdict_decrypted",
                partner=self.partner,
                transaction_id=score.transaction_id,
                request_id=score.request_id,
                alert=score.alert,
                model=score.model_version,
            )

        await run_agent(stream, self.step, forward, self.dead)
