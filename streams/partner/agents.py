"""The partner's agents: the gateway (validate, features, encrypt, request) and the decryptor.

Everything here runs inside the partner's trust boundary. The flow, all on the partner's topics
except the shared request topic::

    transactions (key card) ─ validate_transactions ─┐  card state table (by card)
    labels                  ─ validate_labels ───────┤
                                                     ▼
    validated (key terminal) ─ request_scores ─ terminal state table (by terminal)
        ├─ pending (key request id): the plaintext details, kept for the verdict
        └─ scoring requests (key request id): partner id, request id, ciphertext → the scorer
    pending + verdicts (key request id) ─ decrypt_verdicts ─ join table ─ scores, alerts

Agents are named verb_object, each with an explicit topic, and run with ``concurrency=1``: with
more, faust can commit an offset past a record still being processed (faust-streaming issue #606).
No agent raises on a record: a bad one is dead-lettered (faust acks an event even when the agent
raised) and every output is awaited until the broker stored it
(:func:`~streams.runtime.delivery.deliver`).

A transaction with the header ``fraud.backfill: 1`` updates the feature state but is not scored:
that is how history warms the state (onboarding, replays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import faust
import orjson

from models.features.incremental import CardState, TerminalState, epoch_seconds, features_of
from models.fhe.client.keys import KeyRing
from streams.core.errors import SchemaError
from streams.core.events import parse_label, parse_transaction
from streams.core.headers import (
    BACKFILL_HEADER,
    FHE_MS_HEADER,
    PARTNER_HEADER,
    QUEUED_MS_HEADER,
    REQUEST_HEADER,
    header_map,
)
from streams.core.topics import PARTNER_TABLES
from streams.runtime.app import Runtime
from streams.runtime.dead_letters import dead_letter
from streams.runtime.delivery import deliver
from streams.runtime.logs import get_logger
from streams.runtime.web import add_web_pages

__all__ = ["PartnerAgents", "PartnerContext", "install_partner_agents", "request_id_of"]

_log = get_logger(__name__)


@dataclass(frozen=True)
class PartnerContext:
    """What a partner's agents hold: its keys, its threshold and its request-id secret."""

    partner: str
    ring: KeyRing
    threshold: float
    request_secret: bytes

    @property
    def model_version(self) -> str:
        """The model the partner's keys are for."""
        return self.ring.current.client.version


def request_id_of(secret: bytes, partner: str, transaction_id: int) -> str:
    """An opaque request id: the same for a transaction processed twice (after a crash), and
    meaningless to the scorer (a keyed hash with a secret only the partner holds)."""
    message = f"{partner}:{transaction_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def _now_ms() -> float:
    return time.time() * 1000


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class PartnerAgents:
    """The partner's topics, tables and agents; each agent's per-record work is a method that
    raises on a bad record, and the agent loop dead-letters what it raises."""

    def __init__(self, app: faust.App, runtime: Runtime, context: PartnerContext) -> None:
        """Declare the topics and tables on ``app``."""
        names = runtime.names
        partner = context.partner
        self.context = context
        self.partner = partner
        self.pending_topic_name = names.pending(partner)
        # Only this partner's events belong on this partner's topics.
        self.limits = replace(runtime.limits, partners=frozenset({partner}))

        def raw(*topic_names: str, **options: Any) -> Any:
            return app.topic(*topic_names, key_serializer="raw", value_serializer="raw", **options)

        # allow_empty: an empty record is malformed: dead-letter it, do not skip it.
        self.transactions = raw(names.transactions(partner), allow_empty=True)
        self.labels = raw(names.labels(partner), allow_empty=True)
        self.validated = raw(names.validated(partner))
        self.pending = raw(names.pending(partner))
        self.requests = raw(names.scoring_requests())
        self.scores = raw(names.scores(partner))
        self.alerts = raw(names.alerts(partner))
        self.dead = raw(names.deadletter(partner))
        self.joined = raw(names.pending(partner), names.verdicts(partner), allow_empty=True)

        cards, terminals, joins = PARTNER_TABLES
        self.cards = app.Table(cards, partitions=runtime.partitions)
        self.terminals = app.Table(terminals, partitions=runtime.partitions)
        self.joins = app.Table(joins, partitions=runtime.partitions)

    def install(self, app: faust.App) -> dict[str, faust.types.AgentT[Any]]:
        """Attach the four agents; return them by name."""
        agents: dict[str, faust.types.AgentT[Any]] = {}
        for function, source in (
            (self.validate_transactions, self.transactions),
            (self.validate_labels, self.labels),
            (self.request_scores, self.validated),
            (self.decrypt_verdicts, self.joined),
        ):
            name = f"{function.__name__}.{self.partner}"
            agents[name] = app.agent(source, name=name, concurrency=1)(function)
        add_web_pages(
            app,
            lambda: {
                "ready": all(agent.started for agent in agents.values()),
                "partner": self.partner,
                "key_id": self.context.ring.current.key_id,
                "model": self.context.model_version,
            },
        )
        return agents

    # --- validate_transactions ---------------------------------------------------------------
    async def validate_transactions(self, stream: faust.StreamT[Any]) -> None:
        """Validate each plaintext transaction, compute its card features, pass it on."""
        async for event in stream.events():
            message = event.message
            try:
                terminal, item = self._card_step(message)
            except Exception as exc:  # noqa: BLE001  (a bad record must never stop the partition)
                await dead_letter(self.dead, event, exc)
                continue
            await deliver(self.validated, key=terminal, value=orjson.dumps(item))
            _log.info(
                "transaction_validated",
                partner=self.partner,
                transaction_id=item["transaction"]["transaction_id"],
                backfill=not item["score"],
                partition=message.partition,
                offset=message.offset,
            )

    def _card_step(self, message: Any) -> tuple[bytes, dict[str, Any]]:
        received_ms = _now_ms()
        started = time.perf_counter()
        tx = parse_transaction(message.value, self.limits)
        card = str(tx.card_id)
        if message.key != card.encode():
            msg = "record key: must be the card id (feature state is kept by card)"
            raise SchemaError(msg)
        state = CardState.from_json(self.cards[card]) if card in self.cards else CardState()
        card_values = state.observe(epoch_seconds(tx.timestamp), tx.amount)
        backfill = header_map(message.headers).get(BACKFILL_HEADER) == "1"
        self.cards[card] = state.to_json()
        item = {
            "kind": "transaction",
            "transaction": tx.to_wire(),
            "card_features": card_values,
            "score": not backfill,
            "received_ms": received_ms,
            "features_ms": _ms_since(started),
        }
        return str(tx.terminal_id).encode(), item

    # --- validate_labels ---------------------------------------------------------------------
    async def validate_labels(self, stream: faust.StreamT[Any]) -> None:
        """Validate each fraud label and pass it on to its terminal's partition."""
        async for event in stream.events():
            try:
                label = parse_label(event.message.value, self.limits)
            except Exception as exc:  # noqa: BLE001
                await dead_letter(self.dead, event, exc)
                continue
            item = {"kind": "label", "label": label.to_wire()}
            await deliver(
                self.validated, key=str(label.terminal_id).encode(), value=orjson.dumps(item)
            )
            _log.info("label_validated", partner=self.partner, transaction_id=label.transaction_id)

    # --- request_scores ----------------------------------------------------------------------
    async def request_scores(self, stream: faust.StreamT[Any]) -> None:
        """Add the terminal features, encrypt, keep the details, send the scoring request."""
        async for event in stream.events():
            try:
                request = self._terminal_step(event.message)
            except Exception as exc:  # noqa: BLE001
                await dead_letter(self.dead, event, exc)
                continue
            if request is None:
                continue
            details, ciphertext = request
            key = details["request_id"].encode()
            # The details are stored before the request leaves: a verdict always finds them.
            await deliver(self.pending, key=key, value=orjson.dumps(details))
            await deliver(
                self.requests,
                key=key,
                value=ciphertext,
                headers=[(PARTNER_HEADER, self.partner.encode()), (REQUEST_HEADER, key)],
            )
            _log.info(
                "score_requested",
                partner=self.partner,
                transaction_id=details["transaction"]["transaction_id"],
                request_id=details["request_id"],
                encrypt_ms=details["timings"]["encrypt_ms"],
            )

    def _terminal_step(self, message: Any) -> tuple[dict[str, Any], bytes] | None:
        started = time.perf_counter()
        item = orjson.loads(message.value)
        terminal = message.key.decode()
        state = (
            TerminalState.from_json(self.terminals[terminal])
            if terminal in self.terminals
            else TerminalState()
        )
        if item["kind"] == "label":
            state.add_fraud(_epoch(item["label"]["timestamp"]))
            self.terminals[terminal] = state.to_json()
            return None
        tx = item["transaction"]
        when = datetime.fromisoformat(tx["timestamp"])
        terminal_values = state.observe(epoch_seconds(when))
        self.terminals[terminal] = state.to_json()
        if not item["score"]:
            return None
        features = features_of(when, tx["amount"], item["card_features"], terminal_values)
        features_ms = item["features_ms"] + _ms_since(started)
        encrypt_started = time.perf_counter()
        ciphertext = self.context.ring.encrypt(features)
        encrypt_ms = _ms_since(encrypt_started)
        request_id = request_id_of(self.context.request_secret, self.partner, tx["transaction_id"])
        details = {
            "request_id": request_id,
            "transaction": tx,
            "features": features,
            "key_id": self.context.ring.current.key_id,
            "timings": {
                "received_ms": item["received_ms"],
                "features_ms": features_ms,
                "encrypt_ms": encrypt_ms,
                "sent_ms": _now_ms(),
            },
        }
        return details, ciphertext

    # --- decrypt_verdicts --------------------------------------------------------------------
    async def decrypt_verdicts(self, stream: faust.StreamT[Any]) -> None:
        """Join each verdict with its request's details; decrypt, score, alert."""
        async for event in stream.events():
            message = event.message
            request_id = (message.key or b"").decode(errors="replace")
            try:
                result = self._join_step(message, request_id)
            except Exception as exc:  # noqa: BLE001
                await dead_letter(self.dead, event, exc)
                continue
            if result is None:
                continue  # the other half has not arrived yet
            key = str(result["card_id"]).encode()
            await deliver(self.scores, key=key, value=orjson.dumps(result))
            if result["alert"]:
                await deliver(self.alerts, key=key, value=orjson.dumps(result))
            if request_id in self.joins:
                del self.joins[request_id]
            _log.info(
                "verdict_decrypted",
                partner=self.partner,
                transaction_id=result["transaction_id"],
                request_id=request_id,
                alert=result["alert"],
            )

    def _join_step(self, message: Any, request_id: str) -> dict[str, Any] | None:
        entry: dict[str, Any] = dict(self.joins[request_id]) if request_id in self.joins else {}
        if message.topic == self.pending_topic_name:
            # A transaction processed twice (after a crash) sends the same request id: the first
            # details stay, so whichever verdict comes joins the features it was computed from.
            entry.setdefault("details", orjson.loads(message.value))
        else:
            entry["verdict"] = base64.b64encode(bytes(message.value or b"")).decode()
            entry["scorer"] = header_map(message.headers)
            entry["arrived_ms"] = _now_ms()
        if "details" not in entry or "verdict" not in entry:
            self.joins[request_id] = entry
            return None
        return _decrypt(self.context, entry)


def install_partner_agents(
    app: faust.App, runtime: Runtime, context: PartnerContext
) -> dict[str, faust.types.AgentT[Any]]:
    """Attach the partner's agents and tables to ``app``; return the agents by name."""
    return PartnerAgents(app, runtime, context).install(app)


def _epoch(timestamp: str) -> int:
    return epoch_seconds(datetime.fromisoformat(timestamp))


def _decrypt(context: PartnerContext, entry: dict[str, Any]) -> dict[str, Any]:
    """The score record of a joined request: decrypt, compare with the threshold, time it."""
    details = entry["details"]
    decrypted = context.ring.decrypt(base64.b64decode(entry["verdict"]))
    scorer = entry.get("scorer", {})
    tx = details["transaction"]
    timings = dict(details["timings"])
    sent_ms = timings.pop("sent_ms")
    received_ms = timings.pop("received_ms")
    fhe_ms = float(scorer.get(FHE_MS_HEADER, "nan"))
    queued_ms = float(scorer.get(QUEUED_MS_HEADER, "nan"))
    done_ms = _now_ms()
    timings.update(
        {
            "queued_ms": round(queued_ms, 1),
            "fhe_ms": fhe_ms,
            "decrypt_ms": round(decrypted.seconds * 1000, 3),
            # Whatever is left: broker hops to and from the scorer, and the verdict's transfer.
            "transport_ms": round(entry["arrived_ms"] - sent_ms - queued_ms - fhe_ms, 1),
            "end_to_end_ms": round(done_ms - received_ms, 1),
        }
    )
    return {
        "transaction_id": tx["transaction_id"],
        "timestamp": tx["timestamp"],
        "card_id": tx["card_id"],
        "terminal_id": tx["terminal_id"],
        "amount": tx["amount"],
        "score": decrypted.score,
        "threshold": context.threshold,
        "alert": decrypted.score >= context.threshold,
        "model_version": context.model_version,
        "key_id": details["key_id"],
        "request_id": details["request_id"],
        "features": details["features"],
        "timings": timings,
        "scored_at_ms": round(done_ms, 1),
    }
