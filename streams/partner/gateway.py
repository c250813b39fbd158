"""The partner's gateway: validate, compute features, encrypt, request a score.

Everything here runs inside the partner's trust boundary. The flow, all on the partner's topics
except the shared request topic::

    transactions (key card) ─ validate_transactions ─┐  card state table (by card)
    labels                  ─ validate_labels ───────┤
                                                     ▼
    validated (key terminal) ─ request_scores ─ terminal state table (by terminal)
        ├─ pending (key request id): the plaintext details, kept for the verdict
        └─ scoring requests (key request id): partner id, request id, ciphertext → the scorer

:class:`GatewaySteps` holds the per-record work (no Faust, no awaiting: testable on its own with
dicts as tables); :class:`Gateway` declares the topics, tables and agents on the Faust app and
does the sending. A transaction with the header ``fraud.backfill: 1`` updates the feature state
but is not scored: that is how history warms the state (onboarding, replays).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any

import faust

from models.features.incremental import CardState, TerminalState, epoch_seconds, features_of
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
from streams.runtime.agents import AgentSet, Encoded, raw_topic, run_agent
from streams.runtime.delivery import deliver
from streams.runtime.logs import get_logger

__all__ = ["Gateway", "GatewaySteps"]

_log = get_logger(__name__)


def _now_ms() -> float:
    return time.time() * 1000


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class GatewaySteps:
    """The gateway's work on one record; raises on a bad one (the agent dead-letters it).

    ``cards`` and ``terminals`` are the state tables (Faust tables in a worker, dicts in a test):
    JSON-ready state by card id and by terminal id.
    """

    def __init__(
        self,
        context: PartnerContext,
        limits: EventLimits,
        cards: MutableMapping[str, Any],
        terminals: MutableMapping[str, Any],
    ) -> None:
        """Work for ``context``'s partner; only its own events are valid."""
        self.context = context
        self.limits = replace(limits, partners=frozenset({context.partner}))
        self.cards = cards
        self.terminals = terminals

    def validate_transaction(self, record: RawRecord) -> Encoded[ValidatedTransaction]:
        """Validate a transaction, update its card's state: the validated record, keyed by its
        terminal. Nothing changes when it is refused."""
        received_ms = _now_ms()
        started = time.perf_counter()
        tx = parse_transaction(record.value, self.limits).canonical()
        card = str(tx.card_id)
        if record.key != card.encode():
            msg = "record key: must be the card id (feature state is kept by card)"
            raise SchemaError(msg)
        state = CardState.from_json(self.cards[card]) if card in self.cards else CardState()
        card_values = state.observe(epoch_seconds(tx.timestamp), tx.amount)
        backfill = header_map(record.headers).get(BACKFILL_HEADER) == "1"
        validated = ValidatedTransaction(
            transaction=tx,
            card_features=tuple(card_values),
            score=not backfill,
            received_ms=received_ms,
            features_ms=_ms_since(started),
        )
        out = Encoded(validated, str(tx.terminal_id).encode(), validated.to_bytes())
        self.cards[card] = state.to_json()
        return out

    def validate_label(self, record: RawRecord) -> Encoded[ValidatedLabel]:
        """Validate a fraud label: the validated record, keyed by its terminal."""
        label = parse_label(record.value, self.limits).canonical()
        validated = ValidatedLabel(label=label)
        return Encoded(validated, str(label.terminal_id).encode(), validated.to_bytes())

    def request(self, record: RawRecord) -> tuple[Encoded[PendingRequest], ScoringRequest] | None:
        """Update the terminal's state; for a transaction to score, its features encrypted:
        (the details kept inside, the request sent out). ``None`` for labels and history."""
        started = time.perf_counter()
        item = parse_validated(bytes(record.value or b""))
        terminal = (record.key or b"").decode()
        state = (
            TerminalState.from_json(self.terminals[terminal])
            if terminal in self.terminals
            else TerminalState()
        )
        if isinstance(item, ValidatedLabel):
            state.add_fraud(epoch_seconds(item.label.timestamp))
            self.terminals[terminal] = state.to_json()
            return None
        tx = item.transaction
        terminal_values = state.observe(epoch_seconds(tx.timestamp))
        self.terminals[terminal] = state.to_json()
        if not item.score:
            return None
        features = features_of(tx.timestamp, tx.amount, list(item.card_features), terminal_values)
        features_ms = item.features_ms + _ms_since(started)
        encrypt_started = time.perf_counter()
        envelope = self.context.ring.encrypt(features)
        encrypt_ms = _ms_since(encrypt_started)
        request_id = request_id_of(
            self.context.request_secret, self.context.partner, tx.transaction_id
        )
        request = self.context.signed_request(request_id, envelope)
        pending = PendingRequest(
            request_id=request_id,
            transaction=tx,
            features=tuple(features),
            key_id=self.context.key_id,
            request_digest=digest_of(envelope),
            timings=RequestTimings(
                received_ms=item.received_ms,
                features_ms=features_ms,
                encrypt_ms=encrypt_ms,
                sent_ms=_now_ms(),
            ),
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
    ) -> None:
        """Declare the topics and the card and terminal state tables on ``app``."""
        partner = context.partner
        self.partner = partner
        # allow_empty: an empty record is malformed: dead-letter it, do not skip it.
        self.transactions = raw_topic(app, names.transactions(partner), allow_empty=True)
        self.labels = raw_topic(app, names.labels(partner), allow_empty=True)
        self.validated = raw_topic(app, names.validated(partner))
        self.pending = raw_topic(app, names.pending(partner))
        self.requests = raw_topic(app, names.scoring_requests())
        self.dead = raw_topic(app, names.deadletter(partner))
        cards, terminals, _ = PARTNER_TABLES
        self.steps = GatewaySteps(
            context,
            limits,
            app.Table(cards, partitions=partitions),
            app.Table(terminals, partitions=partitions),
        )

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

        await run_agent(stream, self.steps.validate_transaction, forward, self.dead)

    async def validate_labels(self, stream: faust.StreamT[Any]) -> None:
        """Validate each fraud label and pass it on to its terminal's partition."""

        async def forward(_record: Any, out: Encoded[ValidatedLabel]) -> None:
            await deliver(self.validated, key=out.key, value=out.value)
            _log.info(
                "label_validated",
                partner=self.partner,
                transaction_id=out.item.label.transaction_id,
            )

        await run_agent(stream, self.steps.validate_label, forward, self.dead)

    async def request_scores(self, stream: faust.StreamT[Any]) -> None:
        """Add the terminal features, encrypt, keep the details, send the scoring request."""

        async def forward(
            _record: Any, result: tuple[Encoded[PendingRequest], ScoringRequest] | None
        ) -> None:
            if result is None:
                return
            pending, request = result
            details = pending.item
            # The details are stored before the request leaves: a verdict always finds them.
            await deliver(self.pending, key=pending.key, value=pending.value)
            await deliver(
                self.requests, key=request.key, value=request.envelope, headers=request.headers()
            )
            _log.info(
                "score_requested",
                partner=self.partner,
                transaction_id=details.transaction.transaction_id,
                request_id=details.request_id,
                encrypt_ms=details.timings.encrypt_ms,
            )

        await run_agent(stream, self.steps.request, forward, self.dead)
