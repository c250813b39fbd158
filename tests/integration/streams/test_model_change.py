"""A model change under load: real broker, real FHE, two model versions, nothing lost.

The scorer serves the current tiny model and a candidate (``FRAUD_OTHER_MODEL_DIRS``). Alpha
first shadow-scores the candidate (``FRAUD_SHADOW_KEY_DIR``): every transaction also gets a
candidate score on ``shadow-scores``, never an alert. Then, while its transactions are in flight,
alpha's worker is restarted on the candidate (its old keys kept to decrypt verdicts in flight),
and later rolled back the same way; bravo stays on the current model throughout. Asserted:
nothing dead-lettered anywhere, one score per transaction, every score names its model and
equals the batch computation of that model, alerts are exactly the scores over their model's
threshold, and transactions sent after each change are scored by the model changed to.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from models.data.handbook import read_transactions
from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.cli.shadow import shadow as cli_shadow
from streams.core.outputs import Score
from streams.core.settings import Settings
from streams.core.topics import SCORING_SCOPE, TopicNames
from streams.partner.shadow_report import compare_shadow
from streams.qa.batch_scores import batch_scores
from streams.qa.data_feed import OutgoingRecord, by_partner, send_records, transaction_record
from streams.qa.replay_plan import ReplayMessage
from streams.qa.supervisor import Pipeline, WorkerProcess, running_pipeline, wait_ready
from streams.qa.testing import consume_records
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTNERS = ("alpha", "bravo")
DAY = date(2018, 8, 8)
#: Transactions per partner in each phase: shadow, switch (sent just before the restart), after
#: the switch, after the rollback.
PHASES = (("shadow", 8), ("switching", 8), ("switched", 6), ("rolled back", 6))


def _read(client: dict[str, Any], topics: list[str]) -> list[Any]:
    """Every record of ``topics`` now."""
    return list(consume_records(client, topics, expected=10**6, timeout=3))


def _scores(client: dict[str, Any], topics: list[str]) -> list[Score]:
    return [Score.from_bytes(r.value) for r in _read(client, topics)]


def _wait_scored(client: dict[str, Any], names: TopicNames, ids: set[int], pipe: Pipeline) -> None:
    deadline = time.monotonic() + 240
    while True:
        seen = {s.transaction_id for s in _scores(client, [names.scores(p) for p in PARTNERS])}
        if ids <= seen:
            return
        assert time.monotonic() < deadline, (len(ids - seen), pipe.logs())
        time.sleep(1.5)


def _restart_alpha(pipeline: Pipeline, log: Path, **update: Any) -> None:
    """Stop alpha's worker (SIGTERM) and start it again with ``update`` over its settings, as
    a rolling update of its deployment would; return once it is ready."""
    old = pipeline.partners["alpha"]
    old.stop()
    worker = WorkerProcess(
        old.settings.model_copy(update={**update, "web_port": free_port()}),
        "partner",
        log,
        partner="alpha",
    )
    worker.start()
    pipeline.partners["alpha"] = worker
    wait_ready(worker, timeout=120)


def test_a_partner_shadow_scores_then_switches_model_and_rolls_back_under_load(  # long: phases
    kafka_broker: LocalKafka,
    tmp_path: Path,
    tiny_model: TinyModel,
    candidate_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> None:
    """Shadow, switch while transactions are in flight, roll back: 0 dead letters, 0 lost,
    0 twice, each score its model's."""
    current, candidate = tiny_model.directory, candidate_model.directory
    v1, v2 = ClientArtifact.load(current).version, ClientArtifact.load(candidate).version
    assert v1 != v2
    new_keys = PartnerKeys.generate(ClientArtifact.load(candidate), tmp_path / "alpha-v2", "alpha")
    old_keys = partner_keys["alpha"].key_dir
    root = f"t{uuid.uuid4().hex[:10]}"
    settings = Settings(
        broker=kafka_broker.bootstrap,
        topic_root=root,
        app_id=root,
        data_dir=tmp_path / "data",
        topic_partitions=2,
        model_dir=current,
        other_model_dirs=(candidate,),
        partners=PARTNERS,
        session_timeout=6.0,
    )
    names = TopicNames(root)
    client = kafka_python_config(settings)
    ensure_declared_topics(settings, PARTNERS)
    grouped = by_partner(read_transactions(start=DAY, end=DAY), PARTNERS)
    phases: dict[str, list[OutgoingRecord]] = {}
    sent: dict[str, set[int]] = {}  # every partner's transaction ids, per phase
    alpha: dict[str, set[int]] = {}  # alpha's
    partner_of: dict[int, str] = {}
    start = 0
    for phase, count in PHASES:
        chosen = {p: txs[start : start + count] for p, txs in grouped.items()}
        phases[phase] = [transaction_record(names, t, p) for p, ts in chosen.items() for t in ts]
        sent[phase] = {t.transaction_id for ts in chosen.values() for t in ts}
        alpha[phase] = {t.transaction_id for t in chosen["alpha"]}
        partner_of.update({t.transaction_id: p for p, ts in chosen.items() for t in ts})
        start += count
    log_dir = tmp_path / "logs"
    with running_pipeline(
        settings,
        {p: keys.key_dir for p, keys in partner_keys.items()},
        log_dir,
        role_settings=lambda role, partner: (
            {"shadow_key_dir": new_keys.key_dir} if partner == "alpha" else {}
        ),
    ) as pipeline:
        for phase, records in phases.items():
            send_records(client, records)
            if phase == "switching":  # the restart while these are in flight
                _restart_alpha(
                    pipeline,
                    log_dir / "alpha-switched.log",
                    key_dir=new_keys.key_dir,
                    previous_key_dirs=(old_keys,),
                    shadow_key_dir=None,
                    model_dir=candidate,
                    other_model_dirs=(current,),
                )
            _wait_scored(client, names, sent[phase], pipeline)
            if phase == "switched":
                _restart_alpha(
                    pipeline,
                    log_dir / "alpha-rolled-back.log",
                    key_dir=old_keys,
                    previous_key_dirs=(new_keys.key_dir,),
                    model_dir=current,
                    other_model_dirs=(candidate,),
                )
        time.sleep(8)  # anything scored twice would come now
        dead = _read(client, [names.deadletter(p) for p in (*PARTNERS, SCORING_SCOPE)])
        scores = _scores(client, [names.scores(p) for p in PARTNERS])
        alerts = _scores(client, [names.alerts(p) for p in PARTNERS])
        shadows = _scores(client, [names.shadow_scores(p) for p in PARTNERS])

    assert dead == [], [dict(r.headers) for r in dead]
    everything = [r for records in phases.values() for r in records]
    per_transaction = Counter(s.transaction_id for s in scores)
    assert len(per_transaction) == len(everything)
    assert max(per_transaction.values()) == 1, "a transaction was scored twice"
    model_of = {s.transaction_id: s.model_version for s in scores}
    assert {model_of[t] for t in alpha["shadow"]} == {v1}
    assert {model_of[t] for t in alpha["switching"]} <= {v1, v2}
    assert {model_of[t] for t in alpha["switched"]} == {v2}
    assert {model_of[t] for t in alpha["rolled back"]} == {v1}
    assert {model_of[t] for t in partner_of if partner_of[t] == "bravo"} == {v1}

    messages = [ReplayMessage(r.topic, r.key, r.value, tuple(r.headers)) for r in everything]
    expected = {v1: batch_scores(messages, current), v2: batch_scores(messages, candidate)}
    for score in [*scores, *shadows]:
        outcome = expected[score.model_version].outcomes[
            (partner_of[score.transaction_id], score.transaction_id)
        ]
        assert score.score == pytest.approx(outcome.score, abs=1e-9)
        assert score.threshold == outcome.threshold
        assert score.alert == (score.score >= score.threshold)
    alerted = sorted(a.transaction_id for a in alerts)
    assert alerted == sorted(s.transaction_id for s in scores if s.alert)

    # Shadow scoring: one candidate score per alpha transaction of the shadow phase (and of the
    # switching phase's that alpha took before its restart), never an alert.
    shadowed = Counter(s.transaction_id for s in shadows)
    assert max(shadowed.values()) == 1
    assert alpha["shadow"] <= set(shadowed) <= alpha["shadow"] | alpha["switching"]
    assert {s.model_version for s in shadows} == {v2}
    assert all(a.model_version == v1 for a in alerts if a.transaction_id in alpha["shadow"])
    report = compare_shadow(scores, shadows)
    assert report.compared == len(shadowed)
    assert (report.current_models, report.candidate_models) == ([v1], [v2])
    shown = CliRunner().invoke(
        cli_shadow,
        ["--partner", "alpha", "--json", "--broker", kafka_broker.bootstrap],
        env={"FRAUD_TOPIC_ROOT": root, "FRAUD_PARTNERS": ",".join(PARTNERS)},
    )
    assert shown.exit_code == 0, shown.output
    assert orjson.loads(shown.output.strip().splitlines()[-1]) == report.as_dict()
