"""Secure sums of terminal counts over the real broker: each partner's contributor reads its own
topics and sends masked hours, the aggregator publishes only sums of every partner, and nothing
the aggregator receives, logs or writes shows a partner's count, card or amount."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from structlog.testing import capture_logs

from models.features.contribution import own_counts
from models.features.shared import SharedCounts
from models.features.spec import FeatureSpec, shared_handbook_spec
from models.federation.secure_sum import Ledger, MaskingKey
from models.federation.shared_rounds import (
    Contributor,
    CountBook,
    RosterBook,
    SumsAggregator,
    session_run,
)
from models.federation.wire import MASKED, SHARED_SUMS, Envelope, MemberKey, Members
from streams.broker.admin import assigned_consumer, ensure_topics
from streams.broker.connection import kafka_python_config
from streams.core.events import EventLimits
from streams.core.settings import Settings
from streams.core.topics import TopicNames, topic_specs
from streams.federation import serve_aggregator, serve_contributor, shared_sums_topic_specs
from streams.federation.shared_sums import read_shared_counts
from streams.partner.sums_follower import SumsFollower
from streams.qa.data_feed import OutgoingRecord, label_record, send_records, transaction_record

pytestmark = pytest.mark.integration

PARTNERS = ("alpha", "bravo", "charlie")
START = datetime(2018, 5, 1, tzinfo=UTC)
DAYS = 9  # the label delay is 7 days: the first two days' hours become final
PLANTED_TERMINAL = 4_242
BUCKETS = 256


def _spec() -> FeatureSpec:
    spec = shared_handbook_spec()
    assert spec.shared_counts is not None
    small = spec.shared_counts.model_copy(update={"buckets": BUCKETS})
    return spec.model_copy(update={"shared_counts": small})


def _rows(index: int) -> list[dict[str, Any]]:
    """A partner's rows: its own cards (planted ids) and amounts (planted cents), terminals
    shared with the others, the planted terminal at index + 3 times an hour in the first days."""
    rng = np.random.default_rng(index)
    rows = []
    for n, second in enumerate(sorted(rng.integers(0, DAYS * 86_400, 300))):
        rows.append(_row(index, n, int(second), int(rng.integers(0, 40)), rng.random() < 0.1))
    for hour in range(36):
        for k in range(index + 3):
            rows.append(_row(index, 1000 + hour * 10 + k, hour * 3600 + 60 * k, PLANTED_TERMINAL))
    return sorted(rows, key=lambda row: row["timestamp"])


def _row(index: int, n: int, second: int, terminal: int, fraud: bool = False) -> dict[str, Any]:
    return {
        "transaction_id": index * 100_000 + n,
        "timestamp": START + timedelta(seconds=second),
        "card_id": 9_870_000 + index * 1000 + n % 50,
        "amount": 9_000 + index * 100 + n % 97 + 0.37,
        "terminal_id": terminal,
        "label": int(fraud),
    }


@contextmanager
def _running(targets: list[Callable[[threading.Event], object]]) -> Iterator[threading.Event]:
    stop = threading.Event()
    threads = [threading.Thread(target=t, args=(stop,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    try:
        yield stop
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def _records(client: dict[str, Any], topic: str) -> list[Any]:
    consumer = assigned_consumer(
        client, [topic], consumer_timeout_ms=1500, max_partition_fetch_bytes=8 << 20
    )
    records = list(consumer)
    consumer.close()
    return records


def _wait_for(check: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_secure_sums_over_kafka_sum_every_partner_and_show_none(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Alpha and bravo contribute; no sum is published until charlie (whose key was published,
    but whose contributor was down) does too; then every final
    hour's sums equal the three partners' counts pooled, the gateway's follower reads them, and
    the aggregator's inputs, logs and outputs hold no planted card, amount or partner count."""
    settings = make_settings()
    client = kafka_python_config(settings)
    names = TopicNames(settings.topic_root)
    size = settings.max_message_bytes
    specs = topic_specs(names, PARTNERS, partitions=2, max_message_bytes=size)
    ensure_topics(client, [*specs, *shared_sums_topic_specs(names, size)])
    spec = _spec()
    assert spec.shared_counts is not None
    run = session_run(spec)
    keys = {name: MemberKey.generate(name) for name in (*PARTNERS, "aggregator")}
    members = Members.of(*keys.values())
    rows = {p: _rows(i) for i, p in enumerate(PARTNERS)}
    for partner, own in rows.items():
        records = [transaction_record(names, row, partner, spec=spec) for row in own]
        records += [label_record(names, r, partner, spec=spec) for r in own if r["label"]]
        send_records(client, records)

    def contributor(partner: str) -> Callable[[threading.Event], object]:
        worker = Contributor(
            keys[partner],
            MaskingKey.load_or_create(tmp_path / f"{partner}.masking-key"),
            RosterBook(members, PARTNERS, run),
            CountBook(spec),
            Ledger(tmp_path / f"{partner}.ledger.json"),
        )
        limits = EventLimits(frozenset({partner}), 4096, 100_000.0, spec=spec)
        return lambda stop: serve_contributor(
            worker, limits=limits, client_config=client, names=names,
            max_message_bytes=size, stop=stop,
        )  # fmt: skip

    aggregator = SumsAggregator(
        keys["aggregator"], RosterBook(members, PARTNERS, run), spec.shared_counts, 1000
    )

    def aggregate(stop: threading.Event) -> object:
        return serve_aggregator(
            aggregator, client_config=client, names=names, max_message_bytes=size, stop=stop
        )

    # Charlie joined (its masking key is published) but its contributor is down for now.
    charlie_key = MaskingKey.load_or_create(tmp_path / "charlie.masking-key")
    joined = Contributor(keys["charlie"], charlie_key, RosterBook(members, PARTNERS, run),
                         CountBook(spec), Ledger())  # fmt: skip
    send_records(
        client, [OutgoingRecord(names.masking_keys(), b"charlie", joined.masking_key_frame())]
    )
    final_hours = (DAYS - 7) * 24 - 1  # the last hour ends when the stream reaches it + 7 days
    with capture_logs() as logs, _running([aggregate, contributor("alpha"), contributor("bravo")]):
        _wait_for(lambda: len(_records(client, names.contributions())) >= 2 * final_hours)
        time.sleep(2)
        assert _records(client, names.shared_counts()) == [], "a partial roster was summed"
        with _running([contributor("charlie")]):
            _wait_for(lambda: len(_records(client, names.shared_counts())) >= final_hours)

    # A partner's forgery on the sums topic: followers and trainers skip it.
    forged = Envelope(SHARED_SUMS, "alpha", run, "shared-counts/terminal_id/1", {}, b"")
    send_records(
        client, [OutgoingRecord(names.shared_counts(), b"x", forged.encode(keys["alpha"]))]
    )

    # The sums: every final hour, equal to the pooled counts of the three partners.
    follower = SumsFollower(
        client, names.shared_counts(), members=members, aggregator="aggregator", run=run,
        max_message_bytes=size,
    )  # fmt: skip
    follower.start()
    shared = SharedCounts(spec.shared_counts)
    _wait_for(lambda: follower.apply(shared) >= 0 and len(shared.time_buckets("terminal_id")) > 0)
    time.sleep(2)
    follower.apply(shared)
    follower.stop()
    pooled = own_counts(pd.DataFrame([r for own in rows.values() for r in own]), spec)
    hours = shared.time_buckets("terminal_id")
    assert len(hours) >= final_hours
    planted_bucket = PLANTED_TERMINAL % BUCKETS
    for hour in hours:
        transactions, frauds = pooled["terminal_id"][int(hour)]
        held = shared.counts("terminal_id", int(hour))
        assert {b: t for b, (t, _) in held.items()} == {
            int(b): int(transactions[b]) for b in np.flatnonzero(transactions)
        }
        assert sum(f for _, f in held.values()) == int(frauds.sum())
    first = int(START.timestamp()) // 3600
    assert shared.counts("terminal_id", first)[planted_bucket][0] >= 3 + 4 + 5
    assert follower.refused == 1
    # A trainer reads the same sums (federate trainer, a spec with [shared_counts]).
    read = read_shared_counts(
        client, names, spec, members=members, aggregator="aggregator", max_message_bytes=size
    )
    assert list(read.time_buckets("terminal_id")) == list(hours)
    for hour in hours:
        assert read.counts("terminal_id", int(hour)) == shared.counts("terminal_id", int(hour))

    # What the aggregator received: masked vectors that show no partner's count.
    own = {p: own_counts(pd.DataFrame(rows[p]), spec)["terminal_id"] for p in PARTNERS}
    matches = total = 0
    for record in _records(client, names.contributions()):
        message = Envelope.decode(record.value, members)
        assert message.kind == MASKED
        hour = int(message.round.rsplit("/", 1)[1])
        transactions, _ = own[message.sender][hour]
        masked = np.frombuffer(message.payload, dtype="<u4")[:BUCKETS]
        nonzero = np.flatnonzero(transactions)
        matches += int((masked[nonzero] == transactions[nonzero]).sum())
        total += len(nonzero)
    assert total > 100
    assert matches == 0, f"{matches} of {total} nonzero counts readable in masked vectors"

    # What it logged and wrote: round ids and sizes, never a card, an amount or a terminal.
    written = b"".join(r.value for r in _records(client, names.shared_counts()))
    text = repr(logs) + written.decode("latin-1")
    for partner_rows in rows.values():
        for row in partner_rows[:50]:
            assert str(row["card_id"]) not in text
            assert f"{row['amount']:.2f}" not in text
    assert str(PLANTED_TERMINAL) not in text
