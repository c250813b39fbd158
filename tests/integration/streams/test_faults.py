"""The short fault run: real broker, real FHE, each worker killed at an exact point of its work.

Alpha's gateway dies between a transaction's state update and its request, and once restarted
its decryptor dies after an output and before the request's *done* marker; bravo's decryptor dies
between decryption and output, the scorer during an evaluation (``FRAUD_FAULT_POINTS``). Each is
restarted, as Kubernetes would, with the next fault of its plan or none. Every transaction is then
scored exactly once, alerted at most once, and its score and features are the batch
computation's. The long run with
broker faults is ``docs/reliability.md``'s.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest

from models.data.handbook import read_transactions
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.batch_scores import batch_scores
from streams.qa.data_feed import by_partner, send_records, transaction_record
from streams.qa.replay_plan import ReplayMessage
from streams.qa.supervisor import Pipeline, WorkerProcess, running_pipeline
from streams.qa.testing import consume_records
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTNERS = ("alpha", "bravo")
DAY = date(2018, 8, 8)
PER_PARTNER = 24
#: Where each worker dies, at which hit, one plan per life.
PLAN = {
    ("partner", "alpha"): ("gateway.before_request=5", "decryptor.after_output=3"),
    ("partner", "bravo"): ("decryptor.before_output=4",),
    ("scorer", None): ("scorer.during_evaluation=7",),
}


def _restart_dead(pipeline: Pipeline, log_dir: Path, restarts: Counter[str]) -> None:
    """Replace every worker that died by a new one with its next fault, if any (a pod
    restart)."""
    for index, worker in enumerate(pipeline.scorers):
        if worker.returncode is not None:
            restarts["scorer"] += 1
            log = log_dir / f"scorer-{restarts['scorer']}.log"
            pipeline.scorers[index] = _again(worker, log, restarts["scorer"])
    for partner, worker in list(pipeline.partners.items()):
        if worker.returncode is not None:
            restarts[partner] += 1
            log = log_dir / f"partner-{partner}-{restarts[partner]}.log"
            pipeline.partners[partner] = _again(worker, log, restarts[partner])


def _again(dead: WorkerProcess, log: Path, life: int) -> WorkerProcess:
    plans = PLAN[(dead.role, dead.partner)]
    worker = WorkerProcess(
        dead.settings.model_copy(update={"web_port": free_port()}),
        dead.role,
        log,
        partner=dead.partner,
        extra_env={"FRAUD_FAULT_POINTS": plans[life]} if life < len(plans) else {},
    )
    worker.start()
    return worker


def test_workers_killed_at_their_fault_points_lose_nothing_and_score_once(
    kafka_broker: LocalKafka,
    tmp_path: Path,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> None:
    """Four kills, four restarts: one score per transaction, no duplicate alert, every score
    and feature vector the batch computation's."""
    root = f"t{uuid.uuid4().hex[:10]}"
    settings = Settings(
        broker=kafka_broker.bootstrap,
        topic_root=root,
        app_id=root,
        data_dir=tmp_path / "data",
        topic_partitions=2,
        model_dir=tiny_model.directory,
        partners=PARTNERS,
        session_timeout=6.0,
    )
    names = TopicNames(root)
    client = kafka_python_config(settings)
    ensure_declared_topics(settings, PARTNERS)
    chosen = {
        p: txs[:PER_PARTNER]
        for p, txs in by_partner(read_transactions(start=DAY, end=DAY), PARTNERS).items()
    }
    records = [transaction_record(names, tx, p) for p, txs in chosen.items() for tx in txs]
    key_dirs = {p: keys.key_dir for p, keys in partner_keys.items()}
    restarts: Counter[str] = Counter()
    log_dir = tmp_path / "logs"
    scores: list[dict[str, object]] = []
    alerts: list[dict[str, object]] = []
    with running_pipeline(
        settings,
        key_dirs,
        log_dir,
        role_env=lambda role, partner: {"FRAUD_FAULT_POINTS": PLAN[(role, partner)][0]},
    ) as pipeline:
        send_records(client, records)
        deadline = time.monotonic() + 420
        while len({s["transaction_id"] for s in scores}) < len(records):
            assert time.monotonic() < deadline, (restarts, len(scores), pipeline.logs())
            _restart_dead(pipeline, log_dir, restarts)
            scores = _read(client, [names.scores(p) for p in PARTNERS])
            time.sleep(2)
        time.sleep(8)  # anything scored twice would come now
        scores = _read(client, [names.scores(p) for p in PARTNERS])
        alerts = _read(client, [names.alerts(p) for p in PARTNERS])
        killed = "\n".join(
            path.read_text(errors="replace") for path in sorted(log_dir.glob("*.log"))
        )
    assert restarts == {"alpha": 2, "bravo": 1, "scorer": 1}
    for plans in PLAN.values():
        for plan in plans:
            assert f'"point": "{plan.partition("=")[0]}"' in killed, plan
    # The request alpha's decryptor had sent when it died was read back, not sent again.
    assert '"output_already_sent"' in killed
    per_transaction = Counter(int(str(s["transaction_id"])) for s in scores)
    assert len(per_transaction) == len(records)
    assert max(per_transaction.values()) == 1, "a transaction was scored twice"
    alerted = Counter(int(str(a["transaction_id"])) for a in alerts)
    assert not alerted or max(alerted.values()) == 1
    assert set(alerted) == {int(str(s["transaction_id"])) for s in scores if s["alert"]}
    expected = batch_scores(
        [ReplayMessage(r.topic, r.key, r.value, tuple(r.headers)) for r in records],
        tiny_model.directory,
    )
    for score in scores:
        key = (_partner_of(score, chosen), int(str(score["transaction_id"])))
        assert tuple(score["features"]) == pytest.approx(expected.features[key])  # type: ignore[arg-type]
        assert score["score"] == pytest.approx(expected.outcomes[key].score, abs=1e-9)


def _partner_of(score: dict[str, object], chosen: dict[str, list]) -> str:  # type: ignore[type-arg]
    tx_id = int(str(score["transaction_id"]))
    return next(p for p, txs in chosen.items() if any(t.transaction_id == tx_id for t in txs))


def _read(client: dict[str, object], topics: list[str]) -> list[dict[str, object]]:
    """Every record of ``topics`` now."""
    found = consume_records(client, topics, expected=10**6, timeout=3)
    return [orjson.loads(record.value) for record in found]
