"""The main job on one machine: a local broker, the topics, partner workers, a replayed handful
of real transactions and a few malformed events, and what came out, printed as it arrives.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from models.dataset import HandbookTransaction, partner_of, read_transactions
from streams.admin import ensure_topics, wait_for_group
from streams.connection import kafka_python_config
from streams.deadletter import read_headers
from streams.errors import BrokerError
from streams.local_kafka import LocalKafka, free_port
from streams.settings import Settings
from streams.supervise import WorkerProcess
from streams.topics import TopicNames, topic_specs

__all__ = ["DemoEvent", "demo_events", "run_demo"]


@dataclass(frozen=True)
class DemoEvent:
    """One record the demo sends: to which partner's topic, with which key and value."""

    partner: str
    key: bytes
    value: bytes
    label: str


def _event_value(tx: HandbookTransaction, partner: str) -> bytes:
    return orjson.dumps(
        {
            "transaction_id": tx.transaction_id,
            "timestamp": tx.timestamp.isoformat().replace("+00:00", "Z"),
            "card_id": tx.card_id,
            "terminal_id": tx.terminal_id,
            "amount": tx.amount,
            "partner_id": partner,
        }
    )


def demo_events(partners: tuple[str, ...], per_partner: int = 5) -> list[DemoEvent]:
    """Real transactions of the bundled day (frauds among them) and three malformed events."""
    chosen: dict[str, list[HandbookTransaction]] = {p: [] for p in partners}
    frauds: dict[str, HandbookTransaction | None] = dict.fromkeys(partners)
    for tx in read_transactions():
        partner = partner_of(tx.card_id, partners)
        if len(chosen[partner]) < per_partner - 1:
            chosen[partner].append(tx)
        elif tx.is_fraud and frauds[partner] is None:
            frauds[partner] = tx
        if all(len(v) >= per_partner - 1 for v in chosen.values()) and all(frauds.values()):
            break
    picked = sorted(
        ((tx, p) for p in partners for tx in [*chosen[p], frauds[p]] if tx is not None),
        key=lambda pair: pair[0].timestamp,
    )
    events = [
        DemoEvent(p, str(tx.card_id).encode(), _event_value(tx, p), "fraud" if tx.is_fraud else "")
        for tx, p in picked
    ]
    first, last = partners[0], partners[-1]
    good = orjson.loads(events[0].value)
    events.insert(2, DemoEvent(first, b"0", b"{this is not json", "malformed"))
    events.insert(5, DemoEvent(last, b"1", orjson.dumps({**good, "amount": -12.5}), "malformed"))
    events.append(DemoEvent(first, b"2", orjson.dumps({**good, "partner_id": "zulu"}), "malformed"))
    return events


@contextmanager
def _broker(console: Console, settings: Settings, workdir: Path) -> Iterator[Settings]:
    """A fresh local broker on free ports for the demo; yields settings pointing at it."""
    kafka = LocalKafka(workdir / "kafka", port=free_port(), controller_port=free_port())
    with console.status("starting the local Kafka broker (KRaft, loopback)…"):
        kafka.start(say=console.print)
    console.print(f"[green]✓[/] broker ready at {kafka.bootstrap}")
    try:
        yield settings.model_copy(update={"broker": kafka.bootstrap})
    finally:
        with console.status("stopping the broker…"):
            kafka.stop()


def _consume(
    settings: Settings, topics: list[str], expected: int, timeout: float
) -> Iterator[Any]:
    consumer = KafkaConsumer(**kafka_python_config(settings), enable_auto_commit=False)
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic)
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while seen < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    seen += 1
                    yield record
    finally:
        consumer.close()


def run_demo(settings: Settings, console: Console, *, per_partner: int = 5) -> int:
    """Run the foundation demo; return the process exit code (0 when everything arrived)."""
    partners = settings.partners
    events = demo_events(partners, per_partner)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fraudstream-")))
        settings = stack.enter_context(_broker(console, settings, workdir))
        settings = settings.model_copy(update={"data_dir": workdir / "data"})
        names = TopicNames(settings.topic_root)
        client = kafka_python_config(settings)
        created = ensure_topics(
            client,
            topic_specs(
                names,
                partners,
                partitions=settings.topic_partitions,
                max_message_bytes=settings.max_message_bytes,
            ),
            replication=settings.topic_replication,
        )
        console.print(f"[green]✓[/] {len(created)} topics created under '{settings.topic_root}.'")
        workers = []
        for partner in partners:
            worker_settings = settings.model_copy(update={"web_port": free_port()})
            worker = WorkerProcess(
                worker_settings, "partner", workdir / f"{partner}.log", partner=partner
            )
            worker.start()
            stack.callback(worker.stop)
            workers.append(worker)
        with console.status("starting one partner worker per partner (Faust)…"):
            for worker in workers:
                try:
                    wait_for_group(
                        client,
                        worker.group_id,
                        timeout=90,
                        alive=lambda w=worker: w.returncode is None,  # type: ignore[misc]
                    )
                except BrokerError:
                    console.print(f"[red]worker log ({worker.log_path}):[/]")
                    console.out(worker.log_text()[-3000:], highlight=False)
                    raise
        console.print(f"[green]✓[/] partner workers running: {', '.join(partners)}")

        producer = KafkaProducer(**client, acks="all", linger_ms=5)
        for event in events:
            producer.send(names.transactions(event.partner), key=event.key, value=event.value)
        producer.flush()
        producer.close()
        n_bad = sum(1 for event in events if event.label == "malformed")
        console.print(
            f"[green]✓[/] sent {len(events)} events ({n_bad} malformed) "
            f"to {', '.join(names.transactions(p) for p in partners)}"
        )
        table = _results_table()
        topics = [names.validated(p) for p in partners] + [names.deadletter(p) for p in partners]
        accepted = dead = 0
        with console.status("waiting for the agents' output…"):
            for record in _consume(settings, topics, len(events), timeout=60):
                if record.topic.endswith(".deadletter.v1"):
                    dead += 1
                    letter = read_headers(record.headers)
                    table.add_row("[red]dead letter", letter.topic, f"{letter.offset}", "", "",
                                  f"{letter.error_class}: {letter.reason}")
                else:
                    accepted += 1
                    tx = orjson.loads(record.value)
                    table.add_row("[green]validated", record.topic, str(tx["transaction_id"]),
                                  str(tx["card_id"]), f"{tx['amount']:.2f}", tx["timestamp"])
        console.print(table)
        ok = accepted == len(events) - n_bad and dead == n_bad
        colour = "green" if ok else "red"
        console.print(
            f"[{colour}]{accepted} validated, {dead} dead-lettered, "
            f"{len(events) - accepted - dead} missing[/]"
        )
        return 0 if ok else 1
    return 1  # pragma: no cover  (ExitStack re-raises; mypy wants a return)


def _results_table() -> Table:
    table = Table(title="What came out of the validating agents", expand=False)
    for column in ("outcome", "topic", "tx id / offset", "card", "amount", "time / reason"):
        table.add_column(column)
    return table
