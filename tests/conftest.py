"""Shared fixtures: one real Kafka broker per test session, unique topics per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.admin import ensure_topics
from streams.connection import kafka_python_config
from streams.local_kafka import LocalKafka
from streams.settings import Settings
from streams.testing import temporary_broker
from streams.topics import TopicNames, topic_specs


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real Apache Kafka broker (KRaft, loopback, free ports), started once per session."""
    with temporary_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture
def make_settings(kafka_broker: LocalKafka, tmp_path: Path) -> Callable[..., Settings]:
    """Factory: settings pointing at the session broker, with a topic root unique to the test."""
    root = f"t{uuid.uuid4().hex[:10]}"

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "broker": kafka_broker.bootstrap,
            "topic_root": root,
            "app_id": root,
            "data_dir": tmp_path / "data",
            "topic_partitions": 2,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def topics_for(make_settings: Callable[..., Settings]) -> Callable[[Settings], TopicNames]:
    """Factory: create every topic of ``settings`` on the broker and return their names."""

    def create(settings: Settings) -> TopicNames:
        names = TopicNames(settings.topic_root)
        ensure_topics(
            kafka_python_config(settings),
            topic_specs(
                names,
                settings.partners,
                partitions=settings.topic_partitions,
                max_message_bytes=settings.max_message_bytes,
            ),
        )
        return names

    return create
