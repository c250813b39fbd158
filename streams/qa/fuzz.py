"""The fuzz run: thousands of bad inputs through the real agents, on a real broker, in real FHE.

``fraudstream bench fuzz`` (and, with a few hundred inputs, the test suite) starts a throw-away
broker, a scorer and two partner gateways (alpha, bravo) with fresh keys, and then:

1. warms one of alpha's cards with its history and has one of its transactions scored (its
   request and verdict are the genuine ones that replays and alterations start from);
2. sends the bad inputs of :mod:`streams.qa.bad_inputs`, seeded, to alpha's transactions, labels,
   verdicts and keys topics and to the shared requests topic, and checks damaged recordings;
3. sends the card's next real transaction, and checks that it gets exactly the features of the
   batch computation and the score of a bare FHE evaluation of them;
4. checks that every bad input was refused with a reason of this project (a dead letter on
   alpha's or the scorer's dead-letter topic, or a refusal in the scorer's log for key-registry
   records), that no worker died and that every consumer group consumed everything.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaProducer

from models.data.handbook import HandbookTransaction, partner_of, read_transactions
from models.features.batch import compute_features, rows_frame
from models.features.spec import handbook_spec
from models.fhe.artifacts import ClientArtifact, ServerArtifact
from models.fhe.client.keys import PartnerKeys
from models.fhe.server import ScoringServer
from streams.broker.admin import ensure_declared_topics, wait_consumed
from streams.broker.connection import kafka_python_config
from streams.core.dead_letters import read_headers
from streams.core.errors import BrokerError, ConfigError
from streams.core.messages import ScoringRequest
from streams.core.outputs import Score
from streams.core.settings import Settings
from streams.core.topics import SCORING_SCOPE, TopicNames, faust_app_id
from streams.qa.bad_inputs import FAMILIES, BadInput, Forger
from streams.qa.data_feed import (
    handbook_row,
    send_records,
    transaction_event,
    transaction_record,
)
from streams.qa.fuzz_report import FuzzReport, damaged_recordings, project_error_names
from streams.qa.supervisor import Pipeline, new_log_dir, running_pipeline
from streams.qa.testing import consume_records, temporary_broker

__all__ = ["FUZZ_LOG_ROOT", "run_fuzz"]

FUZZ_LOG_ROOT = Path(".fraudstream/fuzz")
_DAYS = (date(2018, 8, 1), date(2018, 8, 8))


def run_fuzz(
    settings: Settings,
    model_dir: Path,
    *,
    count: int,
    seed: int,
    say: Callable[[str], None],
    log_root: Path = FUZZ_LOG_ROOT,
) -> FuzzReport:
    """Run ``count`` bad inputs (and a few damaged recordings) as the module says."""
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311  (repeatable test inputs, not a secret)
    report = FuzzReport(seed)
    log_dir = new_log_dir(log_root)
    with (
        tempfile.TemporaryDirectory(prefix="fraudstream-fuzz-") as tmp,
        temporary_broker(Path(tmp) / "kafka") as kafka,
    ):
        work = Path(tmp)
        partners = ("alpha", "bravo")
        run = settings.model_copy(
            update={
                "broker": kafka.bootstrap,
                "partners": partners,
                "data_dir": work / "data",
                "model_dir": model_dir,
                "topic_partitions": 2,
                "key_wait": 5.0,
            }
        )
        ensure_declared_topics(run)
        client = ClientArtifact.load(model_dir)
        report.model = client.version
        keys = {p: PartnerKeys.generate(client, work / "keys" / p, p) for p in partners}
        say(f"broker at {kafka.bootstrap}; keys made; worker logs in {log_dir}")
        with running_pipeline(run, {p: k.key_dir for p, k in keys.items()}, log_dir) as pipeline:
            _fuzz(run, pipeline, keys, count, rng, report, say)
        damaged_recordings(work / "recordings", max(6, count // 100), rng, report)
        _count_key_refusals(log_dir, report)
    report.seconds = time.monotonic() - started
    return report


def _fuzz(  # noqa: PLR0917  (private: the run's parts)  # long: the run's steps, in order
    run: Settings,
    pipeline: Pipeline,
    keys: dict[str, PartnerKeys],
    count: int,
    rng: random.Random,
    report: FuzzReport,
    say: Callable[[str], None],
) -> None:
    names, client = TopicNames(run.topic_root), kafka_python_config(run)
    history, first, after = _card(run.partners)
    send_records(client, [transaction_record(names, tx, "alpha", backfill=True) for tx in history])
    send_records(client, [transaction_record(names, first, "alpha")])
    score = _score_of(client, names, first.transaction_id)
    say(f"warm-up transaction {first.transaction_id} scored; sending {count} bad inputs")
    forger = Forger(
        rng=rng,
        names=names,
        partner="alpha",
        other="bravo",
        card=_event(first),
        card_clock=history[-1].timestamp,
        key_id=keys["alpha"].key_id,
        model_version=keys["alpha"].client.version,
        signer=keys["alpha"].signer(),
        other_signer=keys["bravo"].signer(),
        request=_genuine_request(client, names, score),
        verdict=_genuine_verdict(client, names, score),
        max_event_bytes=run.max_event_bytes,
    )
    bad = _bad_inputs(forger, count)
    _send(client, bad, run.max_message_bytes)
    for item in bad:
        report.sent[item.topic.split(".")[-2]] += 1
        report.kinds[item.kind] += 1
    send_records(client, [transaction_record(names, after, "alpha")])
    good = _score_of(client, names, after.transaction_id, timeout=600)
    say("the good transaction after them is scored; checking every refusal")
    _check_good(good, [*history, first, after], keys["alpha"], run.model_dir, report)
    _wait_consumed(client, run, names, report)
    _collect_dead_letters(client, names, report)
    report.crashed = [w.log_path.name for w in pipeline.workers if w.returncode is not None]


def _card(partners: tuple[str, ...]) -> tuple[list[HandbookTransaction], Any, Any]:
    """An alpha card with a history: (history, a first one to score, the one to score after)."""
    by_card: dict[int, list[HandbookTransaction]] = {}
    for tx in read_transactions(start=_DAYS[0], end=_DAYS[1]):
        if partner_of(tx.card_id, partners) == "alpha":
            by_card.setdefault(tx.card_id, []).append(tx)
    busiest = max(by_card.values(), key=len)
    if len(busiest) < 4:
        msg = "the bundled data has no alpha card with four transactions in the fuzz's week"
        raise ConfigError(msg)
    return busiest[:-2], busiest[-2], busiest[-1]


def _event(tx: HandbookTransaction) -> dict[str, Any]:
    return transaction_event(tx, "alpha")


def _score_of(client: dict[str, Any], names: TopicNames, tx_id: int, timeout: float = 300) -> Score:
    for record in consume_records(client, [names.scores("alpha")], expected=10**9, timeout=timeout):
        score = Score.from_bytes(record.value)
        if score.transaction_id == tx_id:
            return score
    msg = f"transaction {tx_id} was not scored within {timeout:.0f} s"
    raise BrokerError(msg)


def _genuine_request(client: dict[str, Any], names: TopicNames, score: Score) -> ScoringRequest:
    for record in consume_records(client, [names.scoring_requests()], expected=10**9, timeout=60):
        if record.key == score.request_id.encode():
            return ScoringRequest.from_record(record.key, record.value, record.headers, {"alpha"})
    msg = "the warm-up request is not on the requests topic"
    raise BrokerError(msg)


def _genuine_verdict(
    client: dict[str, Any], names: TopicNames, score: Score
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    for record in consume_records(client, [names.verdicts("alpha")], expected=10**9, timeout=60):
        if record.key == score.request_id.encode():
            return bytes(record.key), bytes(record.value), list(record.headers)
    msg = "the warm-up verdict is not on alpha's verdicts topic"
    raise BrokerError(msg)


def _bad_inputs(forger: Forger, count: int) -> list[BadInput]:
    made: list[BadInput] = []
    for share, make in FAMILIES.values():
        made += [make(forger) for _ in range(round(count * share))]
    forger.rng.shuffle(made)
    return made


def _send(client: dict[str, Any], bad: list[BadInput], max_bytes: int) -> None:
    producer = KafkaProducer(**client, acks="all", max_request_size=max_bytes, linger_ms=20)
    try:
        futures = [producer.send(b.topic, key=b.key, value=b.value, headers=b.headers) for b in bad]
        producer.flush()
        for future in futures:
            future.get(timeout=60)
    finally:
        producer.close()


def _check_good(
    good: Score,
    sent: list[HandbookTransaction],
    keys: PartnerKeys,
    model_dir: Path,
    report: FuzzReport,
) -> None:
    """The good transaction's features against the batch path over everything alpha sent, and
    its score against a bare FHE evaluation of those batch features."""
    spec = handbook_spec()
    frame = rows_frame([handbook_row(tx) for tx in sent], spec)
    frame["label"] = 0  # the stream was sent no label
    batch = compute_features(frame, spec).iloc[-1][list(spec.feature_names)].to_numpy(np.float64)
    report.good_features_diff = float(np.max(np.abs(batch - np.array(good.features))))
    server = ScoringServer(ServerArtifact.load(model_dir))
    server.add_evaluation_keys(keys.key_id, keys.evaluation_keys())
    expected = keys.decrypt(server.evaluate(keys.encrypt(batch)).envelope).score
    report.good_score_diff = abs(float(expected) - good.score)


def _wait_consumed(
    client: dict[str, Any], run: Settings, names: TopicNames, report: FuzzReport
) -> None:
    groups = {
        faust_app_id(run.app_id, "partner", "alpha"): [
            names.transactions("alpha"),
            names.labels("alpha"),
            names.validated("alpha"),
            names.pending("alpha"),
            names.verdicts("alpha"),
        ],
        faust_app_id(run.app_id, "scorer"): [names.scoring_requests()],
    }
    for group, topics in groups.items():
        try:
            wait_consumed(client, group, topics, timeout=300)
        except BrokerError:
            report.stuck.append(group)


def _collect_dead_letters(client: dict[str, Any], names: TopicNames, report: FuzzReport) -> None:
    known = project_error_names()
    family_of = {
        names.transactions("alpha"): "transactions",
        # A transaction too late for its card's state is refused there, a hop after validation.
        names.validated("alpha"): "transactions",
        names.labels("alpha"): "labels",
        names.verdicts("alpha"): "verdicts",
        names.scoring_requests(): "requests",
    }
    topics = [names.deadletter("alpha"), names.deadletter(SCORING_SCOPE)]
    expected = sum(report.sent[f] for f in ("transactions", "labels", "verdicts", "requests"))
    for record in consume_records(client, topics, expected=expected, timeout=120):
        letter = read_headers(record.headers)
        report.error_classes[letter.error_class] += 1
        if letter.error_class not in known or not letter.reason:
            report.unexpected.append(f"{letter.topic}: {letter.error_class}")
            continue
        report.refused[family_of.get(letter.topic, letter.topic)] += 1


def _count_key_refusals(log_dir: Path, report: FuzzReport) -> None:
    """Key-registry records are refused by the scorer's follower, which logs each."""
    text = "".join(path.read_text() for path in log_dir.glob("scorer-*.log"))
    report.refused["keys"] = text.count("key_registry_record_refused")
