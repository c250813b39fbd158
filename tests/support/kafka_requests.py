"""Single Kafka requests sent as one principal, to see what the broker itself answers.

A client library asks for metadata before it fetches or produces, and a topic the principal may
not describe never reaches the fetch: these helpers send the Fetch or Produce request straight to
the broker (aiokafka's connection and protocol classes), so a test sees the broker's own answer to
the read or the write. Connections take kafka-python's keyword arguments
(:meth:`streams.broker.local_kafka.LocalKafka.client_config`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka.conn import AIOKafkaConnection, create_conn
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from kafka.errors import for_code

__all__ = [
    "connect_error",
    "fetch_error",
    "produce_error",
    "subscribe_error",
    "tls_connect_error",
]

_T = TypeVar("_T")


def _run(config: dict[str, Any], use: Callable[[AIOKafkaConnection], Awaitable[_T]]) -> _T:
    """Connect with ``config`` (SASL_SSL, as its user), run ``use`` on the connection, close."""

    async def main() -> _T:
        host, port = str(config["bootstrap_servers"]).rsplit(":", 1)
        context = ssl.create_default_context(cafile=config.get("ssl_cafile"))
        connection = await create_conn(
            host,
            int(port),
            security_protocol=config["security_protocol"],
            sasl_mechanism=config.get("sasl_mechanism", "PLAIN"),
            sasl_plain_username=config.get("sasl_plain_username"),
            sasl_plain_password=config.get("sasl_plain_password"),
            ssl_context=context if "SSL" in config["security_protocol"] else None,
            request_timeout_ms=10_000,
        )
        try:
            return await use(connection)
        finally:
            connection.close()

    return asyncio.run(main())


def _settled(answer: Callable[[], type[Exception]], timeout: float = 15.0) -> type[Exception]:
    """``answer()`` once it is not a retriable error (a topic just created has no leader for a
    moment), or the retriable error after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        error = answer()
        if not getattr(error, "retriable", False) or time.monotonic() > deadline:
            return error
        time.sleep(0.2)


def fetch_error(config: dict[str, Any], topic: str, partition: int = 0) -> type[Exception]:
    """The error class the broker answers a Fetch of ``topic`` with (``NoError`` when it reads)."""

    async def fetch(connection: AIOKafkaConnection) -> int:
        request = FetchRequest(100, 1, 1 << 20, 0, [(topic, [(partition, 0, 1 << 20)])])
        response = await connection.send(request)
        ((_, partitions),) = response.topics
        return int(partitions[0][1])

    return _settled(lambda: for_code(_run(config, fetch)))


def produce_error(
    config: dict[str, Any], topic: str, value: bytes = b"probe", partition: int = 0
) -> type[Exception]:
    """The error class the broker answers a Produce of one record to ``topic`` with (``NoError``
    when it stored it)."""
    batch = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 16)
    batch.append(0, timestamp=None, key=b"probe", value=value, headers=[])
    data = bytes(batch.build())

    async def produce(connection: AIOKafkaConnection) -> int:
        response = await connection.send(
            ProduceRequest(None, -1, 10_000, [(topic, [(partition, data)])])
        )
        ((_, partitions),) = response.topics
        return int(partitions[0][1])

    return _settled(lambda: for_code(_run(config, produce)))


def connect_error(config: dict[str, Any]) -> BaseException | None:
    """What connecting (and authenticating) with ``config`` and asking for the cluster's metadata
    raises; None when the broker answers."""

    async def metadata(connection: AIOKafkaConnection) -> None:
        await connection.send(MetadataRequest([]))

    try:
        _run(config, metadata)
    except Exception as exc:  # noqa: BLE001  (the point is to see which)
        return exc
    return None


def tls_connect_error(port: int, context: ssl.SSLContext) -> BaseException | None:
    """What a TLS connection to ``127.0.0.1:port`` with ``context`` (its CA, its client
    certificate or none) raises when it sends a request (ApiVersions); None when the broker
    answers."""

    async def main() -> None:
        connection = await create_conn(
            "127.0.0.1", port, security_protocol="SSL", ssl_context=context,
            request_timeout_ms=10_000,
        )  # fmt: skip
        connection.close()

    try:
        asyncio.run(main())
    except Exception as exc:  # noqa: BLE001  (the point is to see which)
        return exc
    return None


def subscribe_error(config: dict[str, Any], topic: str) -> BaseException | None:
    """What starting an aiokafka consumer (the workers' client) of ``topic`` raises, with no
    consumer group; None when it starts."""
    from aiokafka import AIOKafkaConsumer  # noqa: PLC0415

    async def main() -> None:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=config["bootstrap_servers"],
            group_id=None,
            security_protocol=config["security_protocol"],
            sasl_mechanism=config.get("sasl_mechanism", "PLAIN"),
            sasl_plain_username=config.get("sasl_plain_username"),
            sasl_plain_password=config.get("sasl_plain_password"),
            ssl_context=ssl.create_default_context(cafile=config.get("ssl_cafile")),
            request_timeout_ms=10_000,
        )
        try:
            await consumer.start()
        finally:
            await consumer.stop()

    try:
        asyncio.run(main())
    except Exception as exc:  # noqa: BLE001
        return exc
    return None
