"""``fraudstream federate aggregate`` and ``federate contribute`` as processes on the real broker:
two partners' contributors and the aggregator publish the sums of every final hour, and stop
cleanly on SIGTERM with what they did."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from models.features.spec import SHARED_HANDBOOK_SPEC_FILE
from models.federation.wire import MemberKey, Members
from streams.broker.admin import assigned_consumer, ensure_topics
from streams.broker.connection import kafka_python_config
from streams.core.settings import Settings
from streams.core.topics import TopicNames, topic_specs
from streams.federation import shared_sums_topic_specs
from streams.qa.data_feed import label_record, send_records, transaction_record

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTNERS = ("alpha", "bravo")
START = datetime(2018, 5, 1, tzinfo=UTC)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    return subprocess.Popen(
        [sys.executable, "-m", "streams", "federate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**base, "COLUMNS": "200", "PYTHONUNBUFFERED": "1", **env},
    )


def test_aggregate_and_contribute_publish_the_sums_of_every_final_hour(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Nine days of two partners' transactions: the 47 hours whose labels are final (7 days
    later) are summed and published; SIGTERM stops each process with exit code 0 and a count."""
    settings = make_settings()
    client = kafka_python_config(settings)
    names = TopicNames(settings.topic_root)
    ensure_topics(client, topic_specs(names, PARTNERS, partitions=2, max_message_bytes=1 << 20))
    ensure_topics(client, shared_sums_topic_specs(names, 1 << 20))  # as `topics create` does
    keys = {
        n: MemberKey.load_or_create(n, tmp_path / f"{n}.key") for n in (*PARTNERS, "aggregator")
    }
    members = tmp_path / "members.json"
    members.write_text(json.dumps(Members.of(*keys.values()).to_json()))
    spec_file = tmp_path / "shared.toml"  # small vectors: 256 terminal buckets
    spec_file.write_text(SHARED_HANDBOOK_SPEC_FILE.read_text().replace("65536", "256"))
    rng = np.random.default_rng(7)
    for n, partner in enumerate(PARTNERS):
        rows = [
            {"transaction_id": n * 10_000 + i, "card_id": n * 100 + i % 30, "amount": 12.5,
             "timestamp": START + timedelta(seconds=int(s)), "terminal_id": int(t),
             "label": int(i % 17 == 0)}
            for i, (s, t) in enumerate(zip(sorted(rng.integers(0, 9 * 86_400, 400)),
                                           rng.integers(0, 60, 400), strict=True))
        ]  # fmt: skip
        records = [transaction_record(names, row, partner) for row in rows]
        records += [label_record(names, row, partner) for row in rows if row["label"]]
        send_records(client, records)
    env = {"FRAUD_BROKER": settings.broker, "FRAUD_TOPIC_ROOT": names.root,
           "FRAUD_PARTNERS": ",".join(PARTNERS)}  # fmt: skip
    common = ["--members", str(members), "--spec", str(spec_file)]
    processes = [
        _start(["aggregate", *common, "--key", str(tmp_path / "aggregator.key")], env),
        *(
            _start(
                ["contribute", "--partner", p, *common, "--key", str(tmp_path / f"{p}.key")], env
            )
            for p in PARTNERS
        ),
    ]
    try:
        deadline = time.monotonic() + 120
        published = 0
        while published < 47 and time.monotonic() < deadline:
            assert all(p.poll() is None for p in processes), [p.poll() for p in processes]
            time.sleep(2)
            consumer = assigned_consumer(client, [names.shared_counts()], consumer_timeout_ms=1000)
            published = len(list(consumer))
            consumer.close()
        assert published == 47
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert "published 47 round(s) of sums" in outputs[0]
    for partner, output in zip(PARTNERS, outputs[1:], strict=True):
        assert f"{partner}: contributing to shared-counts/" in output
        assert "47 round(s) sent" in output.splitlines()[-1], output
