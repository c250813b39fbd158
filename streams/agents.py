"""Agents: the only code that awaits I/O. Named verb_object, each with an explicit topic.

Every agent runs with ``concurrency=1``: with more, faust can commit an offset past a record still
being processed (faust-streaming issue #606) and lose it on a crash.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import faust

from streams.app import Runtime
from streams.codec import CODEC_NAME
from streams.deadletter import dead_letter
from streams.delivery import deliver
from streams.errors import EventError
from streams.logs import get_logger
from streams.records import parse_transaction

__all__ = ["install_partner_agents"]

_log = get_logger(__name__)


def install_partner_agents(
    app: faust.App, runtime: Runtime, partner: str
) -> faust.types.AgentT[Any]:
    """Attach the partner gateway's agents to ``app``; return the validating agent."""
    names = runtime.names
    source = app.topic(
        names.transactions(partner),
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,  # an empty record is malformed: dead-letter it, do not skip it
    )
    validated = app.topic(
        names.validated(partner), key_serializer="raw", value_serializer=CODEC_NAME
    )
    dead = app.topic(names.deadletter(partner), key_serializer="raw", value_serializer="raw")

    # Only this partner's events belong on this partner's topic.
    limits = replace(runtime.limits, partners=frozenset({partner}))

    async def validate_transactions(stream: faust.StreamT[Any]) -> None:
        """Validate each plaintext event; forward it in canonical form or dead-letter it."""
        async for event in stream.events():
            message = event.message
            try:
                transaction = parse_transaction(message.value, limits)
            except EventError as exc:
                await dead_letter(dead, event, exc)
                continue
            except Exception as exc:  # noqa: BLE001  (a bad record must never stop the partition)
                await dead_letter(dead, event, exc)
                continue
            await deliver(validated, key=message.key, value=transaction.to_wire())
            _log.info(
                "transaction_validated",
                partner=partner,
                transaction_id=transaction.transaction_id,
                partition=message.partition,
                offset=message.offset,
            )

    agent: faust.types.AgentT[Any] = app.agent(
        source, name=f"validate_transactions.{partner}", concurrency=1
    )(validate_transactions)
    return agent
