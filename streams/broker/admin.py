"""Topic administration and group readiness with kafka-python (synchronous tools).

:func:`ensure_topics` is idempotent: it creates what is missing and checks that existing topics
have at least the configured partition count (their other settings are left as they are).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from streams.broker.connection import kafka_python_config
from streams.core.errors import BrokerError
from streams.core.settings import WorkerSettings
from streams.core.topics import TopicSpec, declared_topics

__all__ = [
    "admin_client",
    "assigned_consumer",
    "ensure_declared_topics",
    "ensure_topics",
    "group_lag",
    "keys_topic_consumer",
    "wait_consumed",
    "wait_for_group",
]


def admin_client(client_config: dict[str, Any], timeout: float = 30.0) -> KafkaAdminClient:
    """An admin client; a clear :class:`BrokerError` when the broker cannot be reached."""
    try:
        return KafkaAdminClient(
            **client_config,
            client_id="fraudstream-admin",
            request_timeout_ms=int(timeout * 1000),
        )
    except (KafkaError, OSError) as exc:
        servers = client_config.get("bootstrap_servers")
        msg = f"cannot reach Kafka at {servers}: {exc} (is the broker up? `fraudstream kafka up`)"
        raise BrokerError(msg) from exc


def assigned_consumer(
    client_config: dict[str, Any],
    topics: Iterable[str],
    *,
    from_end: bool = False,
    hint: str = "",
    **options: Any,
) -> Any:
    """A kafka-python consumer without a group (reading moves nobody's offsets), assigned every
    partition of ``topics`` at their beginning (or end). A missing topic is a
    :class:`BrokerError` saying which, followed by ``hint``."""

    try:
        consumer = KafkaConsumer(
            **client_config, group_id=None, enable_auto_commit=False, **options
        )
    except (KafkaError, OSError) as exc:
        servers = client_config.get("bootstrap_servers")
        msg = f"cannot reach Kafka at {servers}: {exc} (is the broker up? is FRAUD_BROKER right?)"
        raise BrokerError(msg) from exc
    partitions = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if not ids:
            consumer.close()
            msg = f"topic {topic} does not exist{hint}"
            raise BrokerError(msg)
        partitions += [TopicPartition(topic, p) for p in sorted(ids)]
    consumer.assign(partitions)
    if from_end:
        consumer.seek_to_end(*partitions)
    else:
        consumer.seek_to_beginning(*partitions)
    return consumer


def ensure_topics(
    client_config: dict[str, Any],
    specs: Iterable[TopicSpec],
    *,
    replication: int = 1,
) -> list[str]:
    """Create the topics of ``specs`` that do not exist yet; return the names created."""
    wanted = {spec.name: spec for spec in specs}
    admin = admin_client(client_config)
    try:
        existing = set(admin.list_topics())
        missing = [spec for name, spec in wanted.items() if name not in existing]
        if missing:
            request = {
                spec.name: {
                    "num_partitions": spec.partitions,
                    "replication_factor": replication,
                    "configs": spec.config,
                }
                for spec in missing
            }
            # Another process may create the same topics at the same moment: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(request, wait_for_metadata=True)
        described = admin.describe_topics(list(wanted))
    except (TopicAuthorizationFailedError, ClusterAuthorizationFailedError) as exc:
        user = client_config.get("sasl_plain_username") or "this client"
        msg = (
            f"the broker does not let {user} create or describe these topics "
            f"({type(exc).__name__}): topics are created by an admin (on the secure local broker: "
            '`eval "$(fraudstream kafka env --user admin)"`)'
        )
        raise BrokerError(msg) from None
    except KafkaError as exc:
        msg = f"could not create topics: {exc}"
        raise BrokerError(msg) from exc
    finally:
        admin.close()
    for topic in described:
        spec = wanted[topic["name"]]
        if len(topic["partitions"]) < spec.partitions:
            msg = (
                f"topic {spec.name} has {len(topic['partitions'])} partitions, "
                f"{spec.partitions} are configured"
            )
            raise BrokerError(msg)
    return [spec.name for spec in missing]


def ensure_declared_topics(
    settings: WorkerSettings, partners: Iterable[str] | None = None
) -> list[str]:
    """Create the topics ``settings`` declare (:func:`~streams.core.topics.declared_topics`)
    that do not exist yet, with its replication factor; return the names created."""
    return ensure_topics(
        kafka_python_config(settings),
        declared_topics(settings, partners),
        replication=settings.topic_replication,
    )


def wait_for_group(
    client_config: dict[str, Any],
    group_id: str,
    *,
    members: int = 1,
    timeout: float = 60.0,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Block until consumer group ``group_id`` is Stable with at least ``members`` members.

    ``alive`` is polled too: when the process expected to join has died, fail at once.
    """
    admin = admin_client(client_config)
    deadline = time.monotonic() + timeout
    state = "unknown"
    try:
        while time.monotonic() < deadline:
            if not alive():
                msg = f"the worker of consumer group {group_id} exited before joining it"
                raise BrokerError(msg)
            try:
                group = admin.describe_groups([group_id]).get(group_id, {})
            except KafkaError:
                group = {}
            state = str(group.get("group_state", "unknown"))
            if state == "Stable" and len(group.get("members", [])) >= members:
                return
            time.sleep(0.5)
    finally:
        admin.close()
    msg = f"consumer group {group_id} not stable after {timeout:.0f} s (last state {state})"
    raise BrokerError(msg)


def group_lag(client_config: dict[str, Any], group_id: str, topics: Iterable[str]) -> int:
    """Records of ``topics`` not yet committed by consumer group ``group_id``."""

    admin = admin_client(client_config)
    consumer = KafkaConsumer(**client_config, group_id=None, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions)
        committed = admin.list_group_offsets({group_id: partitions}).get(group_id, {})
        return sum(
            max(0, ends[tp] - max(committed[tp].offset if tp in committed else 0, 0))
            for tp in partitions
        )
    finally:
        consumer.close()
        admin.close()


def wait_consumed(
    client_config: dict[str, Any],
    group_id: str,
    topics: Iterable[str],
    *,
    timeout: float = 300.0,
    progress: Callable[[int], None] = lambda _: None,
) -> None:
    """Block until consumer group ``group_id`` has committed everything on ``topics``."""
    topics = list(topics)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lag = group_lag(client_config, group_id, topics)
        progress(lag)
        if lag == 0:
            return
        time.sleep(0.5)
    msg = f"consumer group {group_id} still has unprocessed records after {timeout:.0f} s"
    raise BrokerError(msg)


def keys_topic_consumer(client_config: dict[str, Any], topics: Sequence[str]) -> Any:
    """A group-less consumer of keys topics, with fetch sizes for their 1 MiB chunks."""
    return assigned_consumer(
        client_config,
        topics,
        hint=" (a partner's evaluation keys): run `fraudstream topics create`",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
