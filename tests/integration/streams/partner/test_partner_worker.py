"""The validating partner agent on the real broker: good events flow, bad ones are dead-lettered.

One worker subprocess (exactly as deployed: ``python -m streams worker``) per test, unique topics.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import psutil
import pytest
from kafka import KafkaProducer

from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import wait_for_group
from streams.broker.connection import kafka_python_config
from streams.broker.ports import free_port
from streams.core.dead_letters import read_headers
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.data_feed import OutgoingRecord, send_records
from streams.qa.supervisor import WorkerProcess, wait_ready
from streams.qa.testing import consume_records
from tests.support.commands import fraudstream
from tests.support.models import TinyModel
from tests.support.scores import a_score

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Amounts chosen to be easy to spot in a log: none of them may ever appear there.
AMOUNTS = [4321.98, 1234.57, 2345.68, 3456.79, 5678.91, 6789.12, 7891.23, 8912.34]


def event(i: int, **changes: object) -> bytes:
    base = {
        "transaction_id": 1000 + i,
        "timestamp": f"2018-08-08T00:{i:02d}:00Z",
        "card_id": 596,
        "terminal_id": 3156,
        "amount": AMOUNTS[i % len(AMOUNTS)],
        "partner_id": "alpha",
    }
    return orjson.dumps({**base, **changes})


# (kind, raw value, expected error class, words the reason must contain)
MALFORMED = [
    ("not_json", b"amount=9876.54; card=596", "MalformedEventError", "Invalid JSON"),
    (
        "missing_field",
        orjson.dumps({"transaction_id": 7, "amount": 9876.54}),
        "SchemaError",
        "card_id: Field required",
    ),
    ("wrong_type", event(0, card_id="596", amount=9876.54), "SchemaError", "valid integer"),
    ("negative_amount", event(0, amount=-9876.54), "SchemaError", "greater than or equal to 0"),
    ("absurd_amount", event(0, amount=98765432.1), "SchemaError", "plausible maximum"),
    (
        "unknown_partner",
        event(0, partner_id="zulu", amount=9876.54),
        "SchemaError",
        "not the partner of this topic",
    ),
    (
        "oversized",
        event(0, amount=9876.54).replace(b"}", b',"pad":"' + b"x" * 8000 + b'"}'),
        "OversizedEventError",
        "exceeds the limit",
    ),
    ("empty", b"", "MalformedEventError", "empty value"),
    # Sent under key 596 like the others, but for another card: card state is kept by card.
    ("key_not_card", event(0, card_id=597, amount=9876.54), "SchemaError", "must be the card id"),
]


@pytest.fixture
def partner_worker(
    make_settings: Callable[..., Settings],
    topics_for: Callable[[Settings], TopicNames],
    tmp_path: Path,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> Iterator[tuple[Settings, TopicNames, WorkerProcess]]:
    """A running partner worker for ``alpha`` on fresh topics, its live alerts page on."""
    settings = make_settings(
        web_port=free_port(),
        alerts_page_port=free_port(),
        model_dir=tiny_model.directory,
        key_dir=partner_keys["alpha"].key_dir,
    )
    names = topics_for(settings)
    worker = WorkerProcess(settings, "partner", tmp_path / "worker.log", partner="alpha")
    worker.start()
    try:
        wait_for_group(
            kafka_python_config(settings),
            worker.group_id,
            timeout=90,
            alive=lambda: worker.returncode is None,
        )
        yield settings, names, worker
    finally:
        assert worker.stop() == 0, worker.log_text()[-3000:]


def test_bad_events_are_dead_lettered_and_the_stream_moves_on(
    partner_worker: tuple[Settings, TopicNames, WorkerProcess],
) -> None:
    """Each kind of malformed event reaches the dead-letter topic with its reason and source
    position; the valid event after each one is still processed, in order; no amount is logged."""
    settings, names, worker = partner_worker
    client = kafka_python_config(settings)
    producer = KafkaProducer(**client, acks="all")
    sent_valid: list[bytes] = []
    sent_bad: dict[int, tuple[str, bytes, str, str]] = {}
    offset = 0
    for i, (kind, value, error_class, needle) in enumerate(MALFORMED):
        # One key: one partition, so offsets and order are known.
        producer.send(names.transactions("alpha"), key=b"596", value=value).get(30)
        sent_bad[offset] = (kind, value, error_class, needle)
        good = event(i + 1)
        producer.send(names.transactions("alpha"), key=b"596", value=good).get(30)
        sent_valid.append(good)
        offset += 2
    producer.close()

    # Each valid transaction visits its card's state, then its terminal's (two records).
    both = list(consume_records(client, [names.validated("alpha")], expected=2 * len(sent_valid)))
    dead = list(consume_records(client, [names.deadletter("alpha")], expected=len(sent_bad)))
    validated = [r for r in both if r.key == b"card_id=596"]
    onward = [r for r in both if r.key == b"terminal_id=3156"]
    assert len(validated) == len(onward) == len(sent_valid)

    assert [orjson.loads(r.value)["transaction"]["transaction_id"] for r in validated] == [
        orjson.loads(v)["transaction_id"] for v in sent_valid
    ]
    # In canonical form (the spec's fields apart), then on to the terminal with the card's
    # window values.
    first = orjson.loads(validated[0].value)
    sent = orjson.loads(sent_valid[0])
    assert first["transaction"] == {
        **{k: v for k, v in sent.items() if k != "terminal_id"},
        "fields": {"terminal_id": sent["terminal_id"]},
    }
    assert len(orjson.loads(onward[0].value)["windows"][0]) == 6

    assert len(dead) == len(sent_bad)
    for record in dead:
        letter = read_headers(record.headers)
        kind, value, error_class, needle = sent_bad[letter.offset]
        assert letter.topic == names.transactions("alpha"), kind
        assert letter.error_class == error_class, kind
        assert needle in letter.reason, kind
        assert record.value == value or (value == b"" and record.value in (b"", None)), kind
        assert record.key == b"596", kind

    log = worker.log_text()
    assert '"event_dead_lettered"' in log
    assert '"transaction_validated"' in log
    for amount in [*AMOUNTS, 9876.54, 98765432.1]:
        assert str(amount) not in log, f"amount {amount} leaked into the worker log"


def test_valid_events_of_many_cards_are_all_processed(
    partner_worker: tuple[Settings, TopicNames, WorkerProcess],
) -> None:
    """Events spread over all partitions are each validated exactly once."""
    settings, names, _ = partner_worker
    client = kafka_python_config(settings)
    producer = KafkaProducer(**client, acks="all")
    for i in range(40):
        producer.send(names.transactions("alpha"), key=str(i).encode(), value=event(i, card_id=i))
    producer.flush()
    producer.close()
    # Each visits its card's state, then its terminal's: two records, and never a third.
    records = list(consume_records(client, [names.validated("alpha")], expected=81, timeout=20))
    for entity in (b"card_id=", b"terminal_id="):
        mine = [r for r in records if (r.key or b"").startswith(entity)]
        ids = sorted(orjson.loads(r.value)["transaction"]["transaction_id"] for r in mine)
        assert ids == [1000 + i for i in range(40)], entity


def test_labels_are_validated_and_bad_ones_dead_lettered(
    partner_worker: tuple[Settings, TopicNames, WorkerProcess],
) -> None:
    """A fraud label goes on to its terminal's partition; a malformed one is dead-lettered."""
    settings, names, _ = partner_worker
    client = kafka_python_config(settings)
    good = orjson.dumps(
        {
            "transaction_id": 1001,
            "timestamp": "2018-08-01T10:00:00Z",
            "terminal_id": 3156,
            "partner_id": "alpha",
        }
    )
    bad = orjson.dumps({"transaction_id": 1002, "partner_id": "alpha"})
    producer = KafkaProducer(**client, acks="all")
    producer.send(names.labels("alpha"), key=b"596", value=bad).get(30)
    producer.send(names.labels("alpha"), key=b"596", value=good).get(30)
    producer.close()
    (passed,) = consume_records(client, [names.validated("alpha")], expected=1)
    assert passed.key == b"terminal_id=3156"
    label = orjson.loads(good)
    assert orjson.loads(passed.value) == {
        "kind": "label",
        "label": {
            "transaction_id": label["transaction_id"],
            "timestamp": label["timestamp"],
            "partner_id": "alpha",
            "fields": {"terminal_id": 3156},
        },
        "entity": "terminal_id",
    }
    (dead,) = consume_records(client, [names.deadletter("alpha")], expected=1)
    letter = read_headers(dead.headers)
    assert letter.topic == names.labels("alpha")
    assert "timestamp: Field required" in letter.reason
    assert dead.value == bad


def test_the_worker_serves_the_alerts_page_on_its_own_port(
    partner_worker: tuple[Settings, TopicNames, WorkerProcess],
) -> None:
    """With FRAUD_ALERTS_PAGE_PORT the worker serves the live alerts page there (not on its web
    port): it reads the partner's scores topic, a score written there shows up."""
    settings, names, _ = partner_worker
    page = f"http://{settings.web_host}:{settings.alerts_page_port}/"
    send_records(
        kafka_python_config(settings),
        [OutgoingRecord(names.scores("alpha"), b"42", a_score(4001, 0.25).to_bytes())],
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(page + "recent.json", timeout=5) as response:  # noqa: S310
                window = json.loads(response.read())
        except OSError:
            window = {"scores": []}
        if window["scores"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [row["cells"][1] for row in window["scores"]] == ["4001"]
    with urllib.request.urlopen(page, timeout=5) as response:
        assert b"Alerts of partner alpha" in response.read()
    web = f"http://{settings.web_host}:{settings.web_port}/recent.json"
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(web, timeout=5)


def test_the_worker_listens_on_its_web_host_only(
    partner_worker: tuple[Settings, TopicNames, WorkerProcess],
) -> None:
    """Its web server (probes, /metrics) and its alerts page listen on FRAUD_WEB_HOST (here
    127.0.0.1, the default), never on every interface (Faust's own default)."""
    settings, _, worker = partner_worker
    wait_ready(worker, timeout=90)
    assert worker.pid is not None
    listening = {
        (conn.laddr.ip, conn.laddr.port)
        for proc in [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(True)]
        for conn in proc.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }
    assert {port for _, port in listening} >= {settings.web_port, settings.alerts_page_port}
    assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening


def test_deadletters_lists_and_resends_what_the_worker_refused(
    partner_worker: tuple[Settings, TopicNames, WorkerProcess],
) -> None:
    """`fraudstream deadletters`: the worker's dead letters are listed by reason (JSON lines,
    no values); a re-send puts the original record, with its own headers, back on its topic; the
    worker refuses it again, and the new dead letter names the one it was re-sent from."""
    settings, names, _ = partner_worker
    client = kafka_python_config(settings)
    producer = KafkaProducer(**client, acks="all")
    bad = event(0, amount=-9876.54)
    producer.send(names.transactions("alpha"), key=b"596", value=bad,
                  headers=[("fraud.trace", b"t-1")]).get(30)  # fmt: skip
    producer.send(names.transactions("alpha"), key=b"596", value=b"").get(30)
    producer.close()
    assert len(list(consume_records(client, [names.deadletter("alpha")], expected=2))) == 2
    env = {
        "FRAUD_BROKER": settings.broker,
        "FRAUD_TOPIC_ROOT": names.root,
        "FRAUD_PARTNERS": ",".join(settings.partners),
    }

    listed = fraudstream("deadletters", "list", "--scope", "alpha", "--json", env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["error_class"] for r in rows] == ["SchemaError", "MalformedEventError"]
    assert rows[0]["source_topic"] == names.transactions("alpha")
    assert rows[0]["value_bytes"] == len(bad)
    assert "9876.54" not in listed.stdout
    only = fraudstream("deadletters", "list", "--scope", "alpha", "--reason", "empty", env=env)
    assert "MalformedEventError: empty value" in only.stdout
    assert "1 dead letters in" in only.stdout

    resent = fraudstream("deadletters", "resend", "--scope", "alpha", "--reason",
                         "greater than or equal", env=env)  # fmt: skip
    assert resent.returncode == 0, resent.stdout + resent.stderr
    assert f"re-sent 1 to {names.transactions('alpha')}" in resent.stdout
    # On the dead-letter topic now: the two dead letters, the marker of the re-send, and the
    # re-sent record refused again (the last two in either order).
    dead = list(consume_records(client, [names.deadletter("alpha")], expected=4))
    (mark,) = [r for r in dead if "fraudstream.resent" in dict(r.headers)]
    assert (
        dict(mark.headers)["fraudstream.resent"] == f"{dead[0].topic}:0@{dead[0].offset}".encode()
    )
    again = [r for r in dead if r is not mark][2]
    assert again.value == bad
    assert read_headers(again.headers).error_class == "SchemaError"
    headers = dict(again.headers)
    assert headers["fraud.trace"] == b"t-1"
    assert headers["fraudstream.resent_from"] == f"{dead[0].topic}:0@{dead[0].offset}".encode()
    # A second resend skips the one already sent back (it would be scored twice); the refusal
    # of the re-sent record is a dead letter of its own, sent back unless asked otherwise.
    twice = fraudstream("deadletters", "resend", "--scope", "alpha", "--reason",
                        "greater than or equal", "--dry-run", env=env)  # fmt: skip
    assert "1 dead letters would be re-sent" in twice.stdout, twice.stdout
    assert "(re-sent)" not in twice.stdout
    shown = fraudstream("deadletters", "list", "--scope", "alpha", env=env)
    assert shown.stdout.count("(re-sent)") == 1
    outside = fraudstream("deadletters", "resend", "--scope", "alpha", "--all", "--to",
                          "fraud.scoring.requests.v1", env=env)  # fmt: skip
    assert outside.returncode == 2
    assert "is not a topic of this scope" in outside.stderr

    unfiltered = fraudstream("deadletters", "resend", "--scope", "alpha", env=env)
    assert unfiltered.returncode == 2
    assert "--all" in unfiltered.stderr
    unknown = fraudstream("deadletters", "list", "--scope", "zulu", env=env)
    assert unknown.returncode == 2
    assert "'zulu' is not a scope here" in unknown.stderr
