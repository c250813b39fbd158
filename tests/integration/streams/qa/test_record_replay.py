"""``fraudstream record`` and ``replay`` on the real broker: selections, round trips, pacing, and
bad recordings refused before anything is sent."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams.broker.admin import ensure_topics
from streams.broker.local_kafka import LocalKafka
from streams.core.errors import RecordingError
from streams.core.topics import TopicSpec
from streams.qa.recorder import RecordPlan, record_to_file
from streams.qa.recording_file import RecordedMessage, read_recording
from streams.qa.replay import send_replay
from streams.qa.replay_plan import ReplayMessage, load_recording
from streams.qa.testing import consume_records
from tests.support.commands import fraudstream

pytestmark = [pytest.mark.integration]


@pytest.fixture
def topic_root(kafka_broker: LocalKafka) -> Callable[[str], str]:
    """Factory: a ``<fresh root>.alpha.<entity>.v1`` topic with 2 partitions."""

    def make(entity: str) -> str:
        root = f"t{uuid.uuid4().hex[:10]}"
        name = f"{root}.alpha.{entity}.v1"
        ensure_topics({"bootstrap_servers": kafka_broker.bootstrap}, [TopicSpec(name, 2)])
        return name

    return make


def produce(broker: LocalKafka, topic: str, count: int, start_ms: int, start: int = 0) -> None:
    """``count`` messages keyed by card (``i % 3``), 1 s apart from ``start_ms``, one header,
    a binary value."""
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for i in range(start, start + count):
        producer.send(
            topic,
            key=str(i % 3).encode(),
            value=bytes([i]) + b"\xff\x00binary",
            headers=[("n", str(i).encode())],
            timestamp_ms=start_ms + 1000 * i,
        )
    producer.flush()
    producer.close()


def body(path: Path) -> list[RecordedMessage]:
    return [m for m in read_recording(path) if isinstance(m, RecordedMessage)]


def numbers(path: Path) -> list[int]:
    return sorted(int(dict(m.headers)["n"]) for m in body(path))


def test_record_selects_by_offset_time_and_count(
    kafka_broker: LocalKafka, topic_root: Callable[[str], str], tmp_path: Path
) -> None:
    topic = topic_root("transactions")
    now = int(time.time() * 1000) - 60_000
    produce(kafka_broker, topic, 12, now)
    client = {"bootstrap_servers": kafka_broker.bootstrap}

    def run(name: str, **plan: object) -> Path:
        path = tmp_path / f"{name}.rec.gz"
        record_to_file(client, RecordPlan(topics=(topic,), **plan), path)  # type: ignore[arg-type]
        return path

    everything = run("all")
    assert numbers(everything) == list(range(12))
    sent = body(everything)
    assert {m.value for m in sent} == {bytes([i]) + b"\xff\x00binary" for i in range(12)}
    for partition in (0, 1):  # each partition in offset order
        offsets = [m.offset for m in sent if m.partition == partition]
        assert offsets == sorted(offsets)
    assert all(m.offset >= 2 for m in body(run("offset", from_offset=2)))
    assert len(body(run("offset", from_offset=2))) == 12 - 4
    assert numbers(run("from", from_time_ms=now + 5000)) == list(range(5, 12))
    assert numbers(run("until", until_time_ms=now + 5000)) == list(range(5))
    assert len(body(run("count", count=4))) == 4
    header = next(iter(read_recording(everything)))
    assert header.time_range == (now, now + 11_000)  # type: ignore[union-attr]
    assert header.selection == "from the beginning, until the end"  # type: ignore[union-attr]


def test_record_follows_new_messages_and_appends(
    kafka_broker: LocalKafka, topic_root: Callable[[str], str], tmp_path: Path
) -> None:
    topic = topic_root("transactions")
    now = int(time.time() * 1000)
    produce(kafka_broker, topic, 3, now)
    late = threading.Timer(1.5, produce, args=(kafka_broker, topic, 2, now, 3))
    late.start()
    path = tmp_path / "follow.rec.gz"
    result = fraudstream(
        "record", str(path), "-t", topic, "--follow", "--count", "5", "--idle-timeout", "30",
        env={"FRAUD_BROKER": kafka_broker.bootstrap},
    )  # fmt: skip
    late.join()
    assert result.returncode == 0, result.stderr
    assert "recorded 5 messages" in result.stdout
    assert numbers(path) == [0, 1, 2, 3, 4]
    past_offset_2 = [m for m in body(path) if m.offset >= 2]
    # --append adds what the topic holds now to the same file; another topic is refused.
    result = fraudstream(
        "record", str(path), "-t", topic, "--append", "--from-offset", "2",
        env={"FRAUD_BROKER": kafka_broker.bootstrap},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert body(path)[5:] == past_offset_2
    other = topic_root("labels")
    result = fraudstream(
        "record", str(path), "-t", other, "--append",
        env={"FRAUD_BROKER": kafka_broker.bootstrap},
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot append {other}" in result.stdout


def test_ctrl_c_ends_a_followed_recording_and_keeps_what_was_read(
    kafka_broker: LocalKafka, topic_root: Callable[[str], str], tmp_path: Path
) -> None:
    topic = topic_root("scores")
    produce(kafka_broker, topic, 3, int(time.time() * 1000))
    path = tmp_path / "interrupted.rec.gz"
    command = [sys.executable, "-m", "streams", "record", str(path), "-t", topic, "--follow"]
    env = {**os.environ, "FRAUD_BROKER": kafka_broker.bootstrap}
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        deadline = time.monotonic() + 60
        while not any(tmp_path.glob(".recording-*/body.gz")) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(5)  # the three messages are read within a poll or two
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "recorded 3 messages" in out
    assert numbers(path) == [0, 1, 2]


def test_record_names_a_missing_topic_and_leaves_no_file(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    path = tmp_path / "none.rec.gz"
    result = fraudstream(
        "record", str(path), "-t", "nobody.alpha.scores.v1",
        env={"FRAUD_BROKER": kafka_broker.bootstrap},
    )  # fmt: skip
    assert result.returncode == 1
    assert "topic nobody.alpha.scores.v1 does not exist" in result.stdout
    assert not path.exists()


def test_a_recording_replayed_to_another_root_arrives_as_it_was_recorded(
    kafka_broker: LocalKafka, topic_root: Callable[[str], str], tmp_path: Path
) -> None:
    source = topic_root("transactions")
    produce(kafka_broker, source, 30, int(time.time() * 1000) - 100_000)
    client = {"bootstrap_servers": kafka_broker.bootstrap}
    first = tmp_path / "first.rec.gz"
    record_to_file(client, RecordPlan(topics=(source,)), first)
    target = topic_root("transactions")
    new_root = target.split(".")[0]
    result = fraudstream(
        "replay", str(first), "--speed", "1000",
        env={"FRAUD_BROKER": kafka_broker.bootstrap, "FRAUD_TOPIC_ROOT": new_root},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"30  {target}" in result.stdout
    second = tmp_path / "second.rec.gz"
    record_to_file(client, RecordPlan(topics=(target,)), second)
    got, want = body(second), body(first)
    # The replay adds the event time (the recorded timestamp) as a header: a recording of the
    # replay keeps the original pacing.
    assert sorted((m.key, m.value, m.headers) for m in got) == sorted(
        (m.key, m.value, (*m.headers, ("fraud.event_time_ms", str(m.timestamp_ms).encode())))
        for m in want
    )
    for card in (b"0", b"1", b"2"):  # each key's messages in their recorded order
        assert [m.value for m in got if m.key == card] == [m.value for m in want if m.key == card]


def test_live_messages_are_paced_by_event_time(
    kafka_broker: LocalKafka, topic_root: Callable[[str], str]
) -> None:
    topic = topic_root("transactions")
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    warm = [ReplayMessage(topic, b"0", b"w", (("fraud.backfill", b"1"),), 0)]
    live = [ReplayMessage(topic, b"1", b"%d" % t, (), t) for t in (10_000, 70_000, 70_000, 190_000)]
    report = send_replay(
        {"bootstrap_servers": kafka_broker.bootstrap}, warm, live, speed=60,
        clock=lambda: now[0], sleep=sleep,
    )  # fmt: skip
    # 60x: a minute of event time is a second; the warm-up and equal times are not waited for.
    assert slept == [1.0, 2.0]
    assert (report.sent, report.warm_up, report.live) == (5, 1, 4)
    assert (report.first_event_ms, report.last_event_ms) == (0, 190_000)


BAD_LINES: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "truncated": lambda good: [*good[:-1], good[-1][:40]],
    "version": lambda good: [good[0].replace(b'"recording":1', b'"recording":7'), *good[1:]],
    "topic": lambda good: [*good[:-1], good[-1].replace(b".alpha.", b".zulu.")],
    "value": lambda good: [*good[:-1], good[-1].replace(b'"value":"', b'"value":"%%')],
}
EXPECTED = {
    "truncated": "line 6 is truncated",
    "version": "line 1 is not a valid recording line: recording format version 7",
    "topic": "line 6 is not a valid recording line: topic",
    "value": "line 6 is not a valid recording line: value is not valid base64",
}


@pytest.mark.parametrize("damage", sorted(BAD_LINES))
def test_a_bad_recording_is_refused_by_line_before_anything_is_sent(
    damage: str, kafka_broker: LocalKafka, topic_root: Callable[[str], str], tmp_path: Path
) -> None:
    topic = topic_root("transactions")
    produce(kafka_broker, topic, 5, int(time.time() * 1000))
    client = {"bootstrap_servers": kafka_broker.bootstrap}
    good = tmp_path / "good.rec.gz"
    record_to_file(client, RecordPlan(topics=(topic,)), good)
    lines = gzip.decompress(good.read_bytes()).splitlines(keepends=True)
    bad = tmp_path / f"{damage}.rec.gz"
    bad.write_bytes(gzip.compress(b"".join(BAD_LINES[damage](lines))))
    with pytest.raises(RecordingError):
        load_recording(bad)
    target = topic_root("transactions")
    result = fraudstream(
        "replay", str(bad),
        env={"FRAUD_BROKER": kafka_broker.bootstrap, "FRAUD_TOPIC_ROOT": target.split(".")[0]},
    )  # fmt: skip
    assert result.returncode == 1
    assert EXPECTED[damage] in result.stdout.replace("\n", " "), result.stdout
    assert str(bad) in result.stdout.replace("\n", "")
    assert list(consume_records(client, [target], expected=1, timeout=2)) == []


def test_replay_refuses_data_options_for_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "r.rec.gz"
    path.write_bytes(b"")
    result = fraudstream("replay", str(path), "--partner", "alpha", "--no-history")
    assert result.returncode == 2
    assert "--partner, --no-history only apply to a slice (--data, --data-from)" in " ".join(
        result.stderr.split()
    )


def test_replay_into_missing_topics_sends_nothing_and_says_so(kafka_broker: LocalKafka) -> None:
    result = fraudstream(
        "replay", "--data-from", "2018-08-08", "--partner", "alpha", "--fraud-cards", "1",
        "--legit-cards", "0", "--no-history",
        env={"FRAUD_BROKER": kafka_broker.bootstrap, "FRAUD_TOPIC_ROOT": "nowhere"},
    )  # fmt: skip
    assert result.returncode == 1
    out = result.stdout.replace("\n", " ")
    assert "nowhere.alpha.transactions.v1 does not exist: nothing was sent" in out


def test_verify_deletes_the_topics_of_its_run(kafka_broker: LocalKafka) -> None:
    from streams.broker.admin import admin_client  # noqa: PLC0415
    from streams.qa.verify import _deleting_topics  # noqa: PLC0415

    client = {"bootstrap_servers": kafka_broker.bootstrap}
    root = f"verify-{uuid.uuid4().hex[:10]}"
    mine = [f"{root}.alpha.transactions.v1", f"{root}-partner-alpha-entity_state-changelog"]
    other = f"{root}x.alpha.transactions.v1"  # another root that merely starts the same
    ensure_topics(client, [TopicSpec(name, 1) for name in [*mine, other]])
    with _deleting_topics(client, root):
        pass
    admin = admin_client(client)
    try:
        deadline = time.monotonic() + 30
        while set(mine) & set(admin.list_topics()) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = set(admin.list_topics())
    finally:
        admin.close()
    assert not set(mine) & left
    assert other in left
