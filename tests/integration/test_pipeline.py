"""The encrypted pipeline end to end on the real broker, with real FHE on the tiny model.

Two partner gateways and one scorer run as subprocesses (``python -m streams worker``), exactly as
deployed. Transactions are real ones of the bundled data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pytest

from models.dataset import HandbookTransaction, read_transactions
from models.errors import KeyMismatchError
from models.keys import PartnerKeys
from streams.connection import kafka_python_config
from streams.feed import by_partner, send_records, transaction_record
from streams.settings import Settings
from streams.supervise import Pipeline, running_pipeline
from streams.testing import consume_records
from streams.topics import TopicNames
from tests.conftest import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTNERS = ("alpha", "bravo")
DAY = date(2018, 8, 8)


@dataclass
class Running:
    settings: Settings
    names: TopicNames
    pipeline: Pipeline
    client: dict[str, object]


@pytest.fixture
def running(
    make_settings: Callable[..., Settings],
    topics_for: Callable[[Settings], TopicNames],
    tmp_path: Path,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> Iterator[Running]:
    settings = make_settings(model_dir=tiny_model.directory, partners=PARTNERS, key_wait=3.0)
    names = topics_for(settings)
    key_dirs = {p: keys.key_dir for p, keys in partner_keys.items()}
    with running_pipeline(settings, key_dirs, tmp_path / "logs") as pipeline:
        yield Running(settings, names, pipeline, kafka_python_config(settings))


def day_transactions(per_partner: int) -> dict[str, list[HandbookTransaction]]:
    """The first transactions of the day per partner, and one fraud each."""
    grouped = by_partner(read_transactions(start=DAY, end=DAY), PARTNERS)
    return {
        p: [*txs[: per_partner - 1], next(tx for tx in txs if tx.is_fraud)]
        for p, txs in grouped.items()
    }


def read_scores(running: Running, expected: int, timeout: float = 120) -> dict[str, list[dict]]:
    topics = [running.names.scores(p) for p in PARTNERS]
    found: dict[str, list[dict]] = {p: [] for p in PARTNERS}
    for record in consume_records(running.client, topics, expected=expected, timeout=timeout):
        found[record.topic.split(".")[-3]].append(orjson.loads(record.value))
    return found


def test_every_transaction_gets_one_score_on_its_own_partner_topic(
    running: Running, tiny_model: TinyModel, partner_keys: dict[str, PartnerKeys]
) -> None:
    """Two partners, a few transactions each: exactly one score per transaction on its own
    partner's topic, equal to the quantized clear model's score on the same features; alerts
    are exactly the scores at or over the threshold; verdicts decrypt only with their own
    partner's keys."""
    chosen = day_transactions(per_partner=3)
    send_records(
        running.client,
        [transaction_record(running.names, tx, p) for p, txs in chosen.items() for tx in txs],
    )
    total = sum(len(txs) for txs in chosen.values())
    scores = read_scores(running, expected=total)
    assert sum(len(s) for s in scores.values()) == total, running.pipeline.logs()
    threshold = tiny_model.fitted.threshold
    for partner, txs in chosen.items():
        got = scores[partner]
        assert sorted(s["transaction_id"] for s in got) == sorted(tx.transaction_id for tx in txs)
        features = np.array([s["features"] for s in got])
        expected = tiny_model.fitted.predict_clear(features)
        assert [s["score"] for s in got] == pytest.approx(list(expected), abs=1e-12)
        assert all(s["threshold"] == threshold for s in got)
        assert all(s["alert"] == (s["score"] >= threshold) for s in got)
        alerts = [
            orjson.loads(r.value)["transaction_id"]
            for r in consume_records(
                running.client, [running.names.alerts(partner)], expected=total, timeout=3
            )
        ]
        assert sorted(alerts) == sorted(s["transaction_id"] for s in got if s["alert"])

    # The verdicts on each partner's topic open only with that partner's keys.
    for partner in PARTNERS:
        other = next(p for p in PARTNERS if p != partner)
        verdicts = list(
            consume_records(
                running.client, [running.names.verdicts(partner)], expected=3, timeout=10
            )
        )
        assert len(verdicts) == len(chosen[partner])
        for record in verdicts:
            partner_keys[partner].decrypt(record.value)
            with pytest.raises(KeyMismatchError):
                partner_keys[other].decrypt(record.value)
