"""The main job on one machine: a local broker, the topics, partner workers, a replayed handful
of real transactions and a few malformed events, and what came out, printed as it arrives.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
from kafka import KafkaProducer
from rich.console import Console

from models.dataset import HandbookTransaction, partner_of, read_transactions
from streams.admin import ensure_topics, wait_for_group
from streams.connection import kafka_python_config
from streams.deadletter import read_headers
from streams.errors import BrokerError
from streams.local_kafka import LocalKafka, free_port
from streams.settings import Settings
from streams.supervise import WorkerProcess
from streams.testing import consume_records
from streams.topics import TopicNames, topic_specs

__all__ = ["DEMO_DAY", "DemoEvent", "demo_events", "run_demo"]

#: The day of bundled data the demo replays from.
DEMO_DAY = date(2018, 8, 8)


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
    for tx in read_transactions(start=DEMO_DAY, end=DEMO_DAY):
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
        futures = [
            producer.send(names.transactions(event.partner), key=event.key, value=event.value)
            for event in events
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker refused a record
        producer.close()
        n_bad = sum(1 for event in events if event.label == "malformed")
        console.print(
            f"[green]✓[/] sent {len(events)} events ({n_bad} malformed) "
            f"to {', '.join(names.transactions(p) for p in partners)}"
        )
        topics = [names.validated(p) for p in partners] + [names.deadletter(p) for p in partners]
        accepted = dead = 0
        console.rule("what came out of the validating agents, as it arrives")
        with console.status("waiting for the agents' output…"):
            for record in consume_records(client, topics, expected=len(events), timeout=60):
                partner = record.topic.split(".")[-3]
                if record.topic == names.deadletter(partner):
                    dead += 1
                    letter = read_headers(record.headers)
                    console.print(
                        f"[red]dead letter[/] {partner:<6} {letter.topic}@{letter.partition}"
                        f":{letter.offset}  [bold]{letter.error_class}[/]: {letter.reason}",
                        highlight=False,
                    )
                else:
                    accepted += 1
                    tx = orjson.loads(record.value)
                    console.print(
                        f"[green]validated[/]   {partner:<6} tx {tx['transaction_id']}  "
                        f"card {tx['card_id']:>4}  term {tx['terminal_id']:>4}  "
                        f"amount {tx['amount']:>8.2f}  {tx['timestamp'][:19].replace('T', ' ')}",
                        highlight=False,
                    )
        console.rule()
        ok = accepted == len(events) - n_bad and dead == n_bad
        colour = "green" if ok else "red"
        console.print(
            f"[{colour}]{accepted} validated, {dead} dead-lettered, "
            f"{len(events) - accepted - dead} missing[/]"
        )
        return 0 if ok else 1
