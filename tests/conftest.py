"""Shared fixtures: one real Kafka broker and one tiny FHE model per session, unique topics per
test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models.fhe.artifacts import ClientArtifact, save_artifacts
from models.fhe.client.keys import PartnerKeys
from models.training.fitting import (
    ModelSpec,
    ProtocolData,
    compile_model,
    fit_model,
    load_protocol_data,
)
from streams.broker.admin import ensure_declared_topics
from streams.broker.local_kafka import LocalKafka
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.supervisor import with_scorer_key
from streams.qa.testing import temporary_broker
from tests.support.models import TinyModel


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real Apache Kafka broker (KRaft, loopback, free ports), started once per session."""
    with temporary_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture(scope="session")
def scorer_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's scorer signing key lives (made on first use)."""
    return tmp_path_factory.mktemp("scorer-key")


@pytest.fixture
def make_settings(
    kafka_broker: LocalKafka, tmp_path: Path, scorer_key_dir: Path
) -> Callable[..., Settings]:
    """Factory: settings pointing at the session broker, with a topic root unique to the test,
    the session's scorer signing key and its public key pinned."""
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
        return with_scorer_key(Settings(**values), scorer_key_dir)  # type: ignore[arg-type]

    return make


@pytest.fixture
def topics_for(make_settings: Callable[..., Settings]) -> Callable[[Settings], TopicNames]:
    """Factory: create every topic of ``settings`` on the broker and return their names."""

    def create(settings: Settings) -> TopicNames:
        names = TopicNames(settings.topic_root)
        ensure_declared_topics(settings)
        return names

    return create


@pytest.fixture(scope="session")
def protocol_data() -> ProtocolData:
    """Features of the handbook protocol's train and test weeks (batch path), computed once."""
    return load_protocol_data()


def _compiled(
    spec: ModelSpec, protocol_data: ProtocolData, tmp_path_factory: pytest.TempPathFactory
) -> TinyModel:
    fitted = fit_model(spec, protocol_data, say=lambda _: None)
    compile_model(fitted, protocol_data, say=lambda _: None)
    root = tmp_path_factory.mktemp("artifacts")
    directory = save_artifacts(
        fitted.model,
        fitted.binning,
        fitted.threshold,
        {"spec": spec.to_json()},
        root,
        spec=protocol_data.spec,
    )
    return TinyModel(fitted, directory)


@pytest.fixture(scope="session")
def tiny_model(protocol_data: ProtocolData, tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """One compiled tiny FHE model per session: XGBoost, 3 trees of depth 2, 2 bits."""
    return _compiled(
        ModelSpec(kind="xgb", n_bits=2, depth=2, trees=3), protocol_data, tmp_path_factory
    )


@pytest.fixture(scope="session")
def candidate_model(
    protocol_data: ProtocolData, tmp_path_factory: pytest.TempPathFactory
) -> TinyModel:
    """A second tiny model with the same features (another version): XGBoost, 2 trees of depth
    2, 2 bits, for model changes."""
    return _compiled(
        ModelSpec(kind="xgb", n_bits=2, depth=2, trees=2), protocol_data, tmp_path_factory
    )


@pytest.fixture(scope="session")
def partner_keys(
    tiny_model: TinyModel, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, PartnerKeys]:
    """Keys of the tiny model for partners alpha and bravo (made once per session)."""
    client = ClientArtifact.load(tiny_model.directory)
    root = tmp_path_factory.mktemp("partner-keys")
    return {p: PartnerKeys.generate(client, root / p, p) for p in ("alpha", "bravo")}
