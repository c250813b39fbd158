"""The partner's gateway: validate, compute features, encrypt, request a score.

Everything here runs inside the partner's trust boundary. The model's feature spec says which
fields an event carries and which entities (card, terminal, ...) keep windows; a transaction
visits each entity's state in turn, on the partner's ``validated`` topic keyed by that entity's
state key (so one entity value's state lives in one partition), and leaves encrypted::

    transactions (key card) ─ validate_transactions ─┐
    labels                  ─ validate_labels ───────┤ (one record per label-window entity)
                                                     ▼
    validated (key card_id=…) ─ request_scores ─ entity state table ─▶ validated (key terminal_id=…)
    validated (key terminal_id=…) ─ request_scores ─ entity state table, then the last entity:
        ├─ pending (key request id): the plaintext details, kept for the verdict
        └─ scoring requests (key request id): partner id, request id, ciphertext → the scorer

:class:`GatewaySteps` holds the per-record work (no Faust, no awaiting: testable on its own with
a dict as the table); :class:`Gateway` declares the topics, the table and agents on the Faust app
and does the sending. A transaction with the header ``fraud.backfill: 1`` updates the feature
state but is not scored: that is how history warms the state (onboarding, replays).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any

import faust

from models.features.incremental import EntityState, FeatureRow, epoch_seconds
from streams.core.errors import SchemaError
from streams.core.events import EventLimits, parse_label, parse_transaction
from streams.core.headers import BACKFILL_HEADER, header_map
from streams.core.messages import (
    PendingRequest,
    RawRecord,
    RequestTimings,
    ScoringRequest,
    ValidatedLabel,
    ValidatedTransaction,
    parse_validated,
)
from streams.core.signatures import digest_of
from streams.core.topics import PARTNER_TABLES, TopicNames
from streams.partner.context import PartnerContext, request_id_of
from streams.partner.metrics import PartnerMetrics
from streams.partner.state_sweep import StateSweep
from streams.runtime.agents import AgentSet, Encoded, raw_topic, run_agent
from streams.runtime.delivery import deliver
from streams.runtime.faults import fault_point
from streams.runtime.logs import get_logger

__all__ = ["Gateway", "GatewaySteps", "RequestStep"]

_log = get_logger(__name__)

#: What one record of ``validated`` becomes: the transaction on to its next entity, or its
#: details and its request once every entity was visited, or nothing (labels, history).
RequestStep = Encoded[ValidatedTransaction] | tuple[Encoded[PendingRequest], ScoringRequest] | None


def _now_ms() -> float:
    return time.time() * 1000


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class GatewaySteps:
    """The gateway's work on one record; raises on a bad one (the agent dead-letters it).

    ``states`` is the entity state table (a Faust table in a worker, a dict in a test):
    JSON-ready :class:`~models.features.incremental.EntityState` by state key.
    """

    def __init__(
        self,
        context: PartnerContext,
        limits: EventLimits,
        states: MutableMapping[str, Any],
    ) -> None:
        """Work for ``context``'s partner; only its own events, with its model's fields, are
        valid."""
        self.context = context
        self.features = context.features
        self.limits = replace(
            limits, partners=frozenset({context.partner}), spec=self.features.spec
        )
        self.states = states
        horizons = {entity: plan.horizon for entity, plan in self.features.plans.items()}
        self.sweep = StateSweep(states, horizons)

    def _key(self, stage: int, event: dict[str, Any]) -> bytes:
        """The record key that takes a transaction to the entity of ``stage`` (its card's
        partition once every entity was visited)."""
        entities = self.features.entities
        if stage < len(entities):
            return self.features.state_key(entities[stage], event).encode()
        return f"card_id={event['card_id']}".encode()

    def validate_transaction(self, record: RawRecord) -> Encoded[ValidatedTransaction]:
        """Validate a transaction: the validated record, keyed for its first entity."""
        received_ms = _now_ms()
        started = time.perf_counter()
        tx = parse_transaction(record.value, self.limits).canonical()
        if record.key != str(tx.card_id).encode():
            msg = "record key: must be the card id (feature state is kept by card)"
            raise SchemaError(msg)
        backfill = header_map(record.headers).get(BACKFILL_HEADER) == "1"
        validated = ValidatedTransaction(
            transaction=tx,
            stage=0,
            score=not backfill,
            received_ms=received_ms,
            features_ms=_ms_since(started),
        )
        return Encoded(validated, self._key(0, tx.event()), validated.to_bytes())

    def validate_label(self, record: RawRecord) -> list[Encoded[ValidatedLabel]]:
        """Validate a fraud label: one validated record per entity with label windows, keyed
        by that entity's state key."""
        label = parse_label(record.value, self.limits).canonical()
        event = label.event()
        out = []
        for entity in self.features.spec.label_entities:
            validated = ValidatedLabel(label=label, entity=entity)
            key = self.features.state_key(entity, event).encode()
            out.append(Encoded(validated, key, validated.to_bytes()))
        return out

    def _state(self, key: str) -> EntityState:
        stored = self.states.get(key)
        return EntityState() if stored is None else EntityState.from_json(stored)

    def _add_fraud(self, item: ValidatedLabel, partition: int) -> None:
        """Count a label's fraud in its entity's state."""
        if item.entity not in self.features.spec.label_entities:
            msg = f"label: {item.entity} has no label windows in the model's spec"
            raise SchemaError(msg)
        key = self.features.state_key(item.entity, item.label.event())
        state = self._state(key)
        state.add_fraud(epoch_seconds(item.label.timestamp), int(item.label.transaction_id))
        self.states[key] = self.sweep.stamp(state.to_json(), partition)

    def _visit(self, entity: str, event: dict[str, Any], partition: int) -> FeatureRow:
        """Add the transaction to its ``entity`` state; that entity's window values."""
        key = self.features.state_key(entity, event)
        state = self._state(key)
        self.context.refresh_sums()
        values = self.features.observe(entity, state, event)
        self.states[key] = self.sweep.stamp(state.to_json(), partition)
        self.sweep.advance(partition, epoch_seconds(event["timestamp"]))
        return values

    def request(self, record: RawRecord) -> RequestStep:
        """Update one entity's state. A transaction goes on to its next entity; after the last
        one, a transaction to score is encrypted: (the details kept inside, the request sent
        out). ``None`` for labels and history. Nothing changes when it is refused."""
        started = time.perf_counter()
        item = parse_validated(bytes(record.value or b""))
        features = self.features
        partition = int(getattr(record, "partition", 0) or 0)
        if isinstance(item, ValidatedLabel):
            self._add_fraud(item, partition)
            return None
        tx, stage = item.transaction, item.stage
        event = tx.event()
        windows, fallback = item.windows, item.fallback_buckets
        if stage < len(features.entities):
            values = self._visit(features.entities[stage], event, partition)
            windows, fallback = (*windows, tuple(values)), fallback + values.fallback_buckets
            stage += 1
        features_ms = item.features_ms + _ms_since(started)
        if stage < len(features.entities):
            onward = item.model_copy(
                update={
                    "stage": stage,
                    "windows": windows,
                    "features_ms": features_ms,
                    "fallback_buckets": fallback,
                }
            )
            return Encoded(onward, self._key(stage, event), onward.to_bytes())
        if not item.score:
            return None
        vector = features.vector(
            event, {e: list(v) for e, v in zip(features.entities, windows, strict=True)}
        )
        encrypt_started = time.perf_counter()
        envelope = self.context.ring.encrypt(vector)
        encrypt_ms = _ms_since(encrypt_started)
        request_id = request_id_of(
            self.context.request_secret, self.context.partner, tx.transaction_id
        )
        request = self.context.signed_request(request_id, envelope)
        pending = PendingRequest(
            request_id=request_id,
            transaction=tx,
            features=tuple(vector),
            key_id=self.context.key_id,
            request_digest=digest_of(envelope),
            shared_fallback_buckets=fallback,
            timings=RequestTimings(
                received_ms=item.received_ms,
                features_ms=features_ms,
                encrypt_ms=encrypt_ms,
                sent_ms=_now_ms(),
            ),
        )
        return Encoded(pending, request.key, pending.to_bytes()), request

    def shadow_request(
        self, details: PendingRequest
    ) -> tuple[Encoded[PendingRequest], ScoringRequest] | None:
        """The same transaction's request under the candidate model's keys, when the partner
        shadow-scores one (``None`` otherwise): the same features, encrypted with the
        candidate's keys, under a request id of its own."""
        keys = self.context.shadow
        if keys is None:
            return None
        started = time.perf_counter()
        envelope = keys.encrypt(list(details.features))
        request_id = request_id_of(
            self.context.request_secret,
            self.context.partner,
            details.transaction.transaction_id,
            shadow_key=keys.key_id,
        )
        request = self.context.signed_request(request_id, envelope, keys)
        timings = details.timings.model_copy(
            update={"encrypt_ms": _ms_since(started), "sent_ms": _now_ms()}
        )
        pending = details.model_copy(
            update={
                "request_id": request_id,
                "key_id": keys.key_id,
                "request_digest": digest_of(envelope),
                "timings": timings,
                "shadow": True,
            }
        )
        return Encoded(pending, request.key, pending.to_bytes()), request


class Gateway:
    """The gateway's topics, tables and agents on a partner's Faust app."""

    def __init__(
        self,
        app: faust.App,
        names: TopicNames,
        partitions: int,
        limits: EventLimits,
        context: PartnerContext,
        *,
        metrics: PartnerMetrics | None = None,
    ) -> None:
        """Declare the topics and the entity state table on ``app``; count the requests sent
        in ``metrics``."""
        partner = context.partner
        self.metrics = metrics or PartnerMetrics()
        self.partner = partner
        # allow_empty: an empty record is malformed: dead-letter it, do not skip it.
        self.transactions = raw_topic(app, names.transactions(partner), allow_empty=True)
        self.labels = raw_topic(app, names.labels(partner), allow_empty=True)
        self.validated = raw_topic(app, names.validated(partner))
        self.pending = raw_topic(app, names.pending(partner))
        self.requests = raw_topic(app, names.scoring_requests())
        self.dead = raw_topic(app, names.deadletter(partner))
        states, _ = PARTNER_TABLES
        self.steps = GatewaySteps(context, limits, app.Table(states, partitions=partitions))

    def install(self, app: faust.App, agents: AgentSet) -> None:
        """Attach the three agents (one per source topic, ``concurrency=1``)."""
        agents.add(app, self.validate_transactions, self.transactions, self.partner)
        agents.add(app, self.validate_labels, self.labels, self.partner)
        agents.add(app, self.request_scores, self.validated, self.partner)

    async def validate_transactions(self, stream: faust.StreamT[Any]) -> None:
        """Validate each plaintext transaction, compute its card features, pass it on."""

        async def forward(record: Any, out: Encoded[ValidatedTransaction]) -> None:
            await deliver(self.validated, key=out.key, value=out.value)
            _log.info(
                "transaction_validated",
                partner=self.partner,
                transaction_id=out.item.transaction.transaction_id,
                backfill=not out.item.score,
                partition=record.partition,
                offset=record.offset,
            )

        await run_agent(stream, self.steps.validate_transaction, forward, self.dead, overlap=True)

    async def validate_labels(self, stream: faust.StreamT[Any]) -> None:
        """Validate each fraud label and pass it on to its entities' partitions."""

        async def forward(_record: Any, outs: list[Encoded[ValidatedLabel]]) -> None:
            for out in outs:
                await deliver(self.validated, key=out.key, value=out.value)
                _log.info(
                    "label_validated",
                    partner=self.partner,
                    transaction_id=out.item.label.transaction_id,
                    entity=out.item.entity,
                )

        await run_agent(stream, self.steps.validate_label, forward, self.dead, overlap=True)

    async def request_scores(self, stream: faust.StreamT[Any]) -> None:
        """Update each entity's state in turn; after the last, encrypt, keep the details, send
        the scoring request."""

        async def forward(_record: Any, result: RequestStep) -> None:
            if result is None:
                return
            if isinstance(result, Encoded):
                await deliver(self.validated, key=result.key, value=result.value)
                return
            fault_point("gateway.before_request")
            shadow = self.steps.shadow_request(result[0].item)
            for pending, request in (result, shadow) if shadow else (result,):
                # Both are stored before the record is committed; the decryptor's join keeps
                # whichever half comes first.
                await deliver(self.pending, key=pending.key, value=pending.value)
                await deliver(
                    self.requests,
                    key=request.key,
                    value=request.envelope,
                    headers=request.headers(),
                )
                self.metrics.requested(self._model_of(pending.item))
                _log.info(
                    "score_requested",
                    partner=self.partner,
                    transaction_id=pending.item.transaction.transaction_id,
                    request_id=pending.item.request_id,
                    key_id=pending.item.key_id,
                    encrypt_ms=pending.item.timings.encrypt_ms,
                )

        await run_agent(stream, self.steps.request, forward, self.dead, overlap=True)

    def _model_of(self, pending: PendingRequest) -> str:
        """The model a request was made for (the candidate's, for a shadow request)."""
        shadow = self.steps.context.shadow
        keys = shadow if pending.shadow and shadow is not None else self.steps.context.ring.current
        return keys.client.version
