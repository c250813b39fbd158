"""The encrypted pipeline end to end on the real broker, with real FHE on the tiny model.

Two partner gateways and one scorer run as subprocesses (``python -m streams worker``), exactly as
deployed. Transactions are real ones of the bundled data.
"""

from __future__ import annotations

import json
import os
import struct
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from models.data.handbook import HandbookTransaction, read_transactions
from models.errors import CiphertextError, KeyMismatchError
from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from models.fhe.envelope import MAGIC, open_envelope, seal
from models.training.fitting import ProtocolData
from streams.broker.admin import ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.broker.local_kafka import LocalKafka
from streams.core.dead_letters import read_headers
from streams.core.headers import (
    NONCE_HEADER,
    PARTNER_HEADER,
    REQUEST_HEADER,
    SIGNATURE_HEADER,
    SIGNED_AT_HEADER,
)
from streams.core.outputs import Score
from streams.core.settings import Settings
from streams.core.signatures import RequestClaim, digest_of, sign
from streams.core.topics import PARTNER_TABLES, TopicNames
from streams.partner.key_publisher import publish_evaluation_keys
from streams.qa.data_feed import OutgoingRecord, by_partner, send_records, transaction_record
from streams.qa.supervisor import Pipeline, WorkerProcess, running_pipeline, wait_ready
from streams.qa.testing import consume_records
from tests.support.commands import fraudstream
from tests.support.models import TinyModel
from tests.support.paths import AUDIT_HOOK_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTNERS = ("alpha", "bravo")
DAY = date(2018, 8, 8)


@dataclass
class Running:
    settings: Settings
    names: TopicNames
    pipeline: Pipeline
    client: dict[str, object]
    audit_prefix: Path


@pytest.fixture(scope="module")
def running(
    kafka_broker: LocalKafka,
    tmp_path_factory: pytest.TempPathFactory,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> Iterator[Running]:
    """One scorer (two evaluations at once) and two partner gateways on fresh topics, shared by
    this module's tests. The scorer runs with an audit hook recording every file it opens and
    module it imports."""
    root = f"t{uuid.uuid4().hex[:10]}"
    work = tmp_path_factory.mktemp("pipeline")
    settings = Settings(
        broker=kafka_broker.bootstrap,
        topic_root=root,
        app_id=root,
        data_dir=work / "data",
        topic_partitions=2,
        model_dir=tiny_model.directory,
        partners=PARTNERS,
        key_wait=3.0,
        # Two requests evaluated at once (one thread each): every test of this module runs
        # through the scorer's concurrent path, where verdicts leave in the requests' order.
        scorer_processes=2,
        scorer_threads=1,
    )
    names = TopicNames(root)
    client = kafka_python_config(settings)
    ensure_declared_topics(settings, PARTNERS)
    audit_prefix = work / "audit" / "scorer"
    audit_prefix.parent.mkdir()
    scorer_env = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(AUDIT_HOOK_DIR), os.environ.get("PYTHONPATH")])
        ),
        "FRAUDSTREAM_AUDIT_LOG": str(audit_prefix),
    }
    key_dirs = {p: keys.key_dir for p, keys in partner_keys.items()}
    with running_pipeline(settings, key_dirs, work / "logs", scorer_env=scorer_env) as pipeline:
        yield Running(settings, names, pipeline, client, audit_prefix)


def day_transactions(per_partner: int) -> dict[str, list[HandbookTransaction]]:
    """The first transactions of the day per partner, and one fraud each."""
    grouped = by_partner(read_transactions(start=DAY, end=DAY), PARTNERS)
    return {
        p: [*txs[: per_partner - 1], next(tx for tx in txs if tx.is_fraud)]
        for p, txs in grouped.items()
    }


def read_scores(running: Running, ids: set[int], timeout: float = 120) -> dict[str, list[dict]]:
    """The score records of the transactions ``ids``, by partner (waits until all arrived)."""
    topics = [running.names.scores(p) for p in PARTNERS]
    found: dict[str, list[dict]] = {p: [] for p in PARTNERS}
    seen = 0
    for record in consume_records(running.client, topics, expected=10**6, timeout=timeout):
        score = orjson.loads(record.value)
        if score["transaction_id"] in ids:
            found[record.topic.split(".")[-3]].append(score)
            seen += 1
            if seen == len(ids):
                break
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
    scores = read_scores(running, {tx.transaction_id for txs in chosen.values() for tx in txs})
    assert sum(len(s) for s in scores.values()) == total, running.pipeline.logs()
    # Exactly one each: nothing more arrives.
    everything = consume_records(
        running.client, [running.names.scores(p) for p in PARTNERS], expected=total + 1, timeout=5
    )
    assert len(list(everything)) == total
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
                running.client,
                [running.names.verdicts(partner)],
                expected=len(chosen[partner]) + 1,  # one more than sent: a duplicate would show
                timeout=10,
            )
        )
        assert len(verdicts) == len(chosen[partner])
        for record in verdicts:
            partner_keys[partner].decrypt(record.value)
            with pytest.raises(KeyMismatchError):
                partner_keys[other].decrypt(record.value)


def send_request(
    running: Running,
    key: bytes,
    value: bytes,
    headers: dict[str, str] | None = None,
    *,
    signer: PartnerKeys | None,
    nonce: str | None = None,
    signed_at_ms: int | None = None,
) -> None:
    """Send a request as a partner's gateway does: signed by ``signer`` (its key id's registry
    key) over the envelope's key id, unless ``signer`` is ``None``."""
    headers = (
        {PARTNER_HEADER: "alpha", REQUEST_HEADER: key.decode()} if headers is None else headers
    )
    if signer is not None:
        nonce = nonce or uuid.uuid4().hex
        signed_at_ms = signed_at_ms or int(datetime.now(UTC).timestamp() * 1000)
        try:
            key_id = open_envelope(value, "input").key_id
        except CiphertextError:
            key_id = signer.key_id
        claim = RequestClaim(
            headers.get(PARTNER_HEADER, ""),
            headers.get(REQUEST_HEADER, ""),
            key_id,
            signer.client.version,
            digest_of(value),
            nonce,
            signed_at_ms,
        )
        headers = {
            **headers,
            NONCE_HEADER: nonce,
            SIGNED_AT_HEADER: str(signed_at_ms),
            SIGNATURE_HEADER: sign(signer.signer(), claim).hex(),
        }
    producer = KafkaProducer(**running.client, acks="all")
    producer.send(
        running.names.scoring_requests(),
        key=key,
        value=value,
        headers=[(k, v.encode()) for k, v in headers.items()],
    ).get(30)
    producer.close()


def wait_for_verdict(running: Running, partner: str, request_id: str) -> bytes:
    for record in consume_records(
        running.client, [running.names.verdicts(partner)], expected=10**6, timeout=120
    ):
        if record.key == request_id.encode():
            return bytes(record.value)
    msg = f"no verdict for {request_id}\n{running.pipeline.logs()}"
    raise AssertionError(msg)


def test_bad_requests_are_dead_lettered_and_scoring_continues(
    running: Running,
    tiny_model: TinyModel,
    protocol_data: ProtocolData,
    partner_keys: dict[str, PartnerKeys],
) -> None:
    """Each kind of bad request (unaddressed, unsigned, forged, replayed, stale, not a
    ciphertext of this model under a key of its partner) reaches the scorer's dead-letter topic
    with its reason; a good request sent after all of them is scored."""
    alpha, bravo = partner_keys["alpha"], partner_keys["bravo"]
    good = alpha.encrypt(protocol_data.x_test[0])
    version = alpha.client.version
    header_end = 8 + struct.unpack(">I", good[4:8])[0]
    corrupted = good[:-1] + bytes([good[-1] ^ 0xFF])
    garbage_payload = seal("input", version, alpha.key_id, b"\x00" * 64)
    cases = [
        ("no_partner", {REQUEST_HEADER: "r1"}, good, "SchemaError", "names no partner"),
        (
            "unknown_partner",
            {PARTNER_HEADER: "zulu", REQUEST_HEADER: "r2"},
            good,
            "SchemaError",
            "names no partner",
        ),
        (
            "id_mismatch",
            {PARTNER_HEADER: "alpha", REQUEST_HEADER: "other"},
            good,
            "SchemaError",
            "differs from the record key",
        ),
        ("not_an_envelope", None, b"amount=12.50", "CiphertextError", "bad magic"),
        ("empty", None, b"", "CiphertextError", "not a ciphertext envelope"),
        ("corrupted", None, corrupted, "CiphertextError", "digest mismatch"),
        (
            "other_model",
            None,
            seal("input", "0" * 12, alpha.key_id, good[header_end:]),
            "ModelMismatchError",
            "which this scorer does not serve",
        ),
        (
            "unknown_key",
            None,
            seal("input", version, "f" * 16, good[header_end:]),
            "KeyMaterialError",
            "no evaluation keys for key id ffffffffffffffff",
        ),
        (
            "other_partners_key",
            {PARTNER_HEADER: "bravo", REQUEST_HEADER: "r9"},
            good,
            "KeyMaterialError",
            "belongs to another partner",
        ),
        ("garbage_ciphertext", None, garbage_payload, "CiphertextError", "not a valid input"),
        ("unsigned", None, good, "SignatureError", "unsigned"),
        ("forged", None, good, "SignatureError", "signature does not hold"),
        ("stale", None, good, "SignatureError", "s ago"),
        (
            "replayed",
            {PARTNER_HEADER: "alpha", REQUEST_HEADER: "once"},
            good,
            "SignatureError",
            "replay",
        ),
    ]
    signers = {"unsigned": None, "forged": bravo}
    day_ms = 86_400_000
    stale_ms = int(datetime.now(UTC).timestamp() * 1000) - 2 * day_ms
    send_request(running, b"once", good, signer=alpha, nonce="n" * 32)  # scored: then replayed
    keys = {}
    for index, (kind, headers, value, _, _) in enumerate(cases):
        key = (headers or {}).get(REQUEST_HEADER, f"bad-{index}")
        if kind == "id_mismatch":
            key = "bad-mismatch"
        keys[key] = kind
        send_request(
            running,
            key.encode(),
            value,
            headers,
            signer=signers.get(kind, alpha),
            nonce="n" * 32 if kind == "replayed" else None,
            signed_at_ms=stale_ms if kind == "stale" else None,
        )
    send_request(running, b"good-after-bad", good, signer=alpha)

    verdict = wait_for_verdict(running, "alpha", "good-after-bad")
    expected = tiny_model.fitted.predict_clear(protocol_data.x_test[:1])[0]
    assert alpha.decrypt(verdict).score == pytest.approx(expected, abs=1e-12)

    dead = list(
        consume_records(
            running.client, [running.names.deadletter("scoring")], expected=len(cases), timeout=30
        )
    )
    by_kind = {keys[r.key.decode()]: (r, read_headers(r.headers)) for r in dead}
    assert set(by_kind) == {case[0] for case in cases}
    for kind, _, value, error_class, needle in cases:
        record, letter = by_kind[kind]
        assert letter.error_class == error_class, (kind, letter)
        assert needle in letter.reason, (kind, letter.reason)
        assert letter.topic == running.names.scoring_requests()
        assert (record.value or b"") == value, kind


def test_a_new_key_is_picked_up_and_the_old_one_still_served(
    running: Running,
    tiny_model: TinyModel,
    protocol_data: ProtocolData,
    partner_keys: dict[str, PartnerKeys],
    tmp_path: Path,
) -> None:
    """Key rotation without restarting the scorer: a partner publishes a new key id, the scorer
    picks it up, and requests under both the new and the old key are served; once the partner
    revokes the new key (`fraudstream keys revoke`) the scorer drops it and refuses requests
    under it with the reason."""
    old = partner_keys["alpha"]
    new = PartnerKeys.generate(ClientArtifact.load(tiny_model.directory), tmp_path / "k", "alpha")
    assert publish_evaluation_keys(
        running.client,
        running.names.evaluation_keys("alpha"),
        partner="alpha",
        key_id=new.key_id,
        model_version=new.client.version,
        keys=new.evaluation_keys(),
        signer=new.signer(),
        max_message_bytes=running.settings.max_message_bytes,
    )
    scorer = running.pipeline.scorers[0]
    wait_ready(scorer, timeout=60, until=lambda state: new.key_id in state["key_ids"])
    x = protocol_data.x_test[1]
    send_request(running, b"rotated-new", new.encrypt(x), signer=new)
    send_request(running, b"rotated-old", old.encrypt(x), signer=old)
    expected = tiny_model.fitted.predict_clear(protocol_data.x_test[1:2])[0]
    assert new.decrypt(wait_for_verdict(running, "alpha", "rotated-new")).score == pytest.approx(
        expected, abs=1e-12
    )
    assert old.decrypt(wait_for_verdict(running, "alpha", "rotated-old")).score == pytest.approx(
        expected, abs=1e-12
    )
    # Then the partner revokes the new key: the scorer drops it and refuses requests under it.
    env = {"FRAUD_BROKER": running.settings.broker, "FRAUD_TOPIC_ROOT": running.names.root}
    revoked = fraudstream("keys", "revoke", "--key-dir", str(new.key_dir), env=env, timeout=120)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert f"key id {new.key_id} of alpha revoked" in revoked.stdout
    wait_ready(scorer, timeout=60, until=lambda state: new.key_id not in state["key_ids"])
    send_request(running, b"after-revoke", new.encrypt(x), signer=new)
    letter = next(
        read_headers(r.headers)
        for r in consume_records(
            running.client, [running.names.deadletter("scoring")], expected=10**6, timeout=60
        )
        if r.key == b"after-revoke"
    )
    assert letter.reason == f"key id {new.key_id} was revoked by its owner"


#: Distinctive values, so that finding one anywhere means it leaked.
PRIVATE_CARDS = {"alpha": 7_345_901, "bravo": 7_345_902}
PRIVATE_TERMINALS = {"alpha": 8_123_457, "bravo": 8_123_458}
PRIVATE_AMOUNTS = [4321.98, 1234.57, 2345.68]


def private_events(names: TopicNames) -> list[OutgoingRecord]:
    records = []
    for p_index, partner in enumerate(PARTNERS):
        for i, amount in enumerate(PRIVATE_AMOUNTS):
            tx = HandbookTransaction(
                transaction_id=9_900_000 + 10 * p_index + i,
                timestamp=datetime(2018, 8, 8, 10, i, tzinfo=UTC),
                card_id=PRIVATE_CARDS[partner],
                terminal_id=PRIVATE_TERMINALS[partner],
                amount=amount,
                is_fraud=False,
            )
            records.append(transaction_record(names, tx, partner))
    return records


def test_the_scorer_never_sees_plaintext_nor_a_secret_key(
    running: Running, partner_keys: dict[str, PartnerKeys]
) -> None:
    """Every message the scorer reads or writes, every scorer log line: no amount, card id,
    terminal id or (non-integer) feature value. The scorer's processes never open a file of a
    partner's key folder and never import the key module."""
    ids = {9_900_000 + 10 * p + i for p in range(2) for i in range(len(PRIVATE_AMOUNTS))}
    send_records(running.client, private_events(running.names))
    scores = read_scores(running, ids)
    features = {v for s in scores.values() for score in s for v in score["features"]}
    secret_numbers = {*PRIVATE_AMOUNTS, *(v for v in features if v != int(v))}
    stamps = {datetime(2018, 8, 8, 10, i, tzinfo=UTC) for i in range(len(PRIVATE_AMOUNTS))}
    texts = {
        *(str(v) for v in [*PRIVATE_CARDS.values(), *PRIVATE_TERMINALS.values()]),
        *(stamp.isoformat().replace("+00:00", "") for stamp in stamps),
        *(str(int(stamp.timestamp())) for stamp in stamps),
        *(repr(v) for v in secret_numbers),
        *(f"{v:.2f}" for v in secret_numbers),
    }
    packed = {struct.pack(fmt, v) for v in secret_numbers for fmt in ("<d", ">d", "<f", ">f")}

    names = running.names
    key_topics = {names.evaluation_keys(p) for p in PARTNERS}
    scorer_topics = [
        names.scoring_requests(),
        *key_topics,
        names.deadletter("scoring"),
        *(names.verdicts(p) for p in PARTNERS),
    ]
    scanned = 0
    for record in consume_records(running.client, scorer_topics, expected=10**6, timeout=15):
        scanned += 1
        visible = (record.key or b"") + b"".join(
            k.encode() + bytes(v) for k, v in record.headers or []
        )
        value = bytes(record.value or b"")
        if value.startswith(MAGIC):  # an envelope: its header is text
            end = 8 + struct.unpack(">I", value[4:8])[0]
            visible += value[:end]
            assert set(orjson.loads(value[8:end])) == {"kind", "model", "key", "sha256"}
        for text in texts:
            assert text.encode() not in visible, (record.topic, text)
            if record.topic not in key_topics:  # keys were made before any transaction
                assert text.encode() not in value, (record.topic, text)
        if record.topic not in key_topics:
            # (30 MB of random-looking key bytes hold a given 4-byte float by chance ~1% of runs.)
            for pattern in packed:
                assert pattern not in value, (record.topic, pattern)
    assert scanned > 10

    scorer = running.pipeline.scorers[0]
    log = scorer.log_text()
    assert '"request_scored"' in log
    for text in texts:
        assert text not in log, f"{text} appears in the scorer's log"
    metrics = web_page(scorer, "/metrics")
    received = (
        f'fraudstream_messages_received_per_topic_total{{topic="{names.scoring_requests()}"}}'
    )
    assert received in metrics
    for text in texts:
        assert text not in metrics, f"{text} appears in the scorer's metrics"

    audit = "".join(p.read_text() for p in running.audit_prefix.parent.glob("scorer.*"))
    opened = [line.split("\t", 1)[1] for line in audit.splitlines() if line.startswith("open\t")]
    imported = {
        line.split("\t", 1)[1] for line in audit.splitlines() if line.startswith("import\t")
    }
    assert "models.fhe.server" in imported, "the audit hook did not see the FHE processes"
    # (streams.scorer.worker itself is imported by name, which the "import" audit event misses.)
    assert "streams.scorer.agent" in imported, "the audit hook did not see the scorer start"
    forbidden = ("models.fhe.client", "streams.partner")
    assert not [name for name in imported if name.startswith(forbidden)]
    key_folders = [str(keys.key_dir.parent) for keys in partner_keys.values()]
    assert opened
    assert not [path for path in opened if any(path.startswith(k) for k in key_folders)]


def web_page(worker: WorkerProcess, path: str) -> str:
    url = f"http://{worker.settings.web_host}:{worker.settings.web_port}{path}"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, (url, response.status)
        return str(response.read().decode())


def _own_metrics(text: str) -> dict[str, float]:
    """The project's own families on a /metrics page: a counter's total, a histogram's count,
    a gauge's value (summed over labels)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in {family.name, f"{family.name}_total", f"{family.name}_count"}:
                found[family.name] = found.get(family.name, 0.0) + sample.value
    return found


def test_every_worker_answers_its_probes_and_metrics(running: Running) -> None:
    """The pages the Helm chart's probes and ServiceMonitor use: /ready, /live, /metrics; none of
    Faust's table or router pages (a gateway's tables hold its plaintext history); and nothing in
    a partner's metrics that depends on a decrypted result (what it sends, event runtimes, its
    scores and alerts topics), though the scorer's show what it sends."""
    for worker in running.pipeline.workers:
        assert json.loads(web_page(worker, "/ready"))["ready"] is True
        assert json.loads(web_page(worker, "/live")) == {"alive": True}
        metrics = web_page(worker, "/metrics")
        assert "fraudstream_messages_received_total " in metrics
        own = _own_metrics(metrics)
        assert "# TYPE fraudstream_dead_letters_total counter" in metrics
        if worker.role == "scorer":
            assert "fraudstream_topic_messages_sent_total{" in metrics
            assert own["fraudstream_verdicts"] > 0
            assert own["fraudstream_fhe_evaluation_seconds"] == own["fraudstream_verdicts"]
            assert own["fraudstream_request_wait_seconds"] == own["fraudstream_verdicts"]
            assert own["fraudstream_evaluation_keys_held"] >= len(PARTNERS)
            continue
        assert own["fraudstream_scoring_requests"] > 0
        assert own["fraudstream_scores"] > 0
        assert own["fraudstream_end_to_end_seconds"] == own["fraudstream_scores"]
        assert not [name for name in own if "alert" in name]
        assert "fraudstream_messages_received_per_topic_total{" in metrics
        for hidden in ("messages_sent", "sent_messages", "send_latency", "events_runtime"):
            assert hidden not in metrics, hidden
        for partner in PARTNERS:
            for topic in (running.names.scores(partner), running.names.alerts(partner)):
                assert topic not in metrics, topic
    gateway = running.pipeline.partners["alpha"]
    cards = PARTNER_TABLES[0]
    card = next(iter(PRIVATE_CARDS.values()))
    for path in (f"/table/{cards}/", f"/table/{cards}/{card}/", "/router/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            web_page(gateway, path)
        assert refused.value.code == 404, path


def test_alerts_command_shows_the_partners_scores(running: Running) -> None:
    """`fraudstream alerts --partner alpha --scores` prints one row per score of alpha."""
    scored = [
        orjson.loads(r.value)
        for r in consume_records(
            running.client, [running.names.scores("alpha")], expected=10**6, timeout=5
        )
    ]
    assert scored
    env = {
        "FRAUD_BROKER": running.settings.broker,
        "FRAUD_TOPIC_ROOT": running.names.root,
        "FRAUD_PARTNERS": ",".join([*running.settings.partners, "zulu"]),
    }
    result = fraudstream("alerts", "--partner", "alpha", "--scores", env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "transaction time" in result.stdout
    for score in scored:
        assert str(score["transaction_id"]) in result.stdout
    assert f"{len(scored)} scores from" in result.stdout
    alerts = fraudstream("alerts", "--partner", "alpha", env=env, timeout=120)
    assert f"{sum(s['alert'] for s in scored)} alerts from" in alerts.stdout
    as_json = fraudstream("alerts", "--partner", "alpha", "--scores", "--json", env=env)
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    rows = [Score.model_validate_json(line) for line in as_json.stdout.splitlines()]
    assert sorted(r.transaction_id for r in rows) == sorted(s["transaction_id"] for s in scored)
    assert f"{len(scored)} scores from" in as_json.stderr
    # zulu is a partner of the settings, but no topic of it exists; yankee is not a partner.
    missing = fraudstream("alerts", "--partner", "zulu", env=env, timeout=120)
    assert missing.returncode == 1
    assert "does not exist" in missing.stdout
    assert "transaction time" not in missing.stdout  # no table header before the error
    unknown = fraudstream("alerts", "--partner", "yankee", env=env, timeout=120)
    assert unknown.returncode == 2
    assert "'yankee' is not a partner here" in unknown.stderr
