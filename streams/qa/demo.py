"""The main job on one machine: a local broker, the default model (trained federated across the
partners when there is none), keys for two partners, one
scorer and two partner gateways, a replay of real transactions, alerts as they arrive, a summary.

The replay is a day of a few cards of each partner (some of them compromised that day). Before
it, the gateways are warmed with history: the cards' previous 30 days and their terminals'
previous 37 days, sent with the ``fraud.backfill`` header (state only, never scored), and the
fraud labels of that history. So the features of the replayed day are those the model was trained
on (per-partner features), not those of an empty state.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.dead_letters import read_headers
from streams.core.outputs import Score
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.data_feed import OutgoingRecord
from streams.qa.federation_run import federate_locally
from streams.qa.replay import send_replay, wait_for_gateways
from streams.qa.replay_plan import ReplayMessage, plan_data_slice
from streams.qa.supervisor import new_log_dir, running_pipeline
from streams.qa.testing import consume_records

__all__ = ["DEMO_DAY", "DEMO_LOG_ROOT", "DemoPlan", "plan_demo", "run_demo"]

#: Where the demo keeps its workers' logs (a folder per run; the rest of the run is temporary).
DEMO_LOG_ROOT = Path(".fraudstream/demo")

#: The day of bundled data the demo replays (in the handbook protocol's test week).
DEMO_DAY = date(2018, 8, 8)


@dataclass
class DemoPlan:
    """What the demo sends: warm-up history and labels, the replayed day, malformed events."""

    history: list[ReplayMessage] = field(default_factory=list)
    labels: list[ReplayMessage] = field(default_factory=list)
    live: list[ReplayMessage] = field(default_factory=list)
    malformed: list[ReplayMessage] = field(default_factory=list)
    #: Replayed transaction id → (partner, is fraud).
    truth: dict[int, tuple[str, bool]] = field(default_factory=dict)


def plan_demo(
    names: TopicNames,
    partners: Sequence[str],
    *,
    fraud_cards: int = 2,
    legit_cards: int = 4,
    day: date = DEMO_DAY,
) -> DemoPlan:
    """Choose per partner ``fraud_cards`` cards with frauds on ``day`` and ``legit_cards``
    without; replay all their transactions of that day, after the history their features need."""
    data = plan_data_slice(
        names, partners, day, day, fraud_cards=fraud_cards, legit_cards=legit_cards
    )
    live = data.live
    sample = orjson.loads(live[0].value or b"{}") if live else {}
    return DemoPlan(
        history=data.history,
        # Labels travel by transaction time: sent early, a fraud still counts only for
        # transactions at least the label delay after it, exactly as in training.
        labels=data.labels,
        live=live,
        truth=data.truth,
        malformed=[ReplayMessage.from_outgoing(r) for r in _malformed(names, partners, sample)],
    )


def _malformed(
    names: TopicNames, partners: Sequence[str], good: dict[str, Any]
) -> list[OutgoingRecord]:
    first, last = partners[0], partners[-1]
    return [
        OutgoingRecord(names.transactions(first), b"0", b"{this is not json"),
        OutgoingRecord(
            names.transactions(last),
            b"1",
            orjson.dumps({**good, "partner_id": last, "amount": -12.5}),
        ),
        OutgoingRecord(
            names.transactions(first), b"2", orjson.dumps({**good, "partner_id": "zulu"})
        ),
    ]


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


def _model(console: Console, settings: Settings) -> Path:
    """The model folder: FRAUD_MODEL_DIR if it holds a model, else the default model, trained
    now federated across the partners (each trainer on its own cards' rows, over the broker of
    ``settings``) and saved in ``artifacts/``."""
    model_dir = settings.model_dir
    if (model_dir / "model_card.json").exists():
        card = orjson.loads((model_dir / "model_card.json").read_bytes())
        console.print(f"[green]✓[/] model {card['version']} from {model_dir}")
        return model_dir.resolve()
    out = Path("artifacts")
    console.print(
        f"[yellow]no model in {model_dir}[/]: training the default model federated across "
        f"{', '.join(settings.partners)} into {out}/ (once, about a minute; docs/federation.md)"
    )
    return federate_locally(settings, out, say=lambda line: console.print(f"  {line}"))


def _keys(
    console: Console, model_dir: Path, partners: Sequence[str], root: Path
) -> dict[str, Path]:

    client = ClientArtifact.load(model_dir)
    key_dirs = {}
    with console.status("generating each partner's FHE keys…"):
        for partner in partners:
            keys = PartnerKeys.generate(client, root / partner, partner)
            key_dirs[partner] = keys.key_dir
            console.print(
                f"[green]✓[/] {partner}: key id {keys.key_id} "
                f"({len(keys.evaluation_keys()) / 1e6:.0f} MB of evaluation keys to publish)"
            )
    return key_dirs


def run_demo(
    settings: Settings, console: Console, *, fraud_cards: int = 2, legit_cards: int = 4
) -> int:
    """Run the whole pipeline on this machine; return the exit code (0 when every replayed
    transaction was scored and every malformed event dead-lettered)."""
    partners = settings.partners
    names = TopicNames(settings.topic_root)
    with console.status(f"choosing the replay: a day ({DEMO_DAY}) of a few cards per partner…"):
        plan = plan_demo(names, partners, fraud_cards=fraud_cards, legit_cards=legit_cards)
    n_frauds = sum(fraud for _, fraud in plan.truth.values())
    console.print(
        f"[green]✓[/] replay: {len(plan.live)} transactions of {DEMO_DAY} ({n_frauds} frauds), "
        f"after {len(plan.history)} history transactions and {len(plan.labels)} fraud labels"
    )
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fraudstream-")))
        settings = stack.enter_context(_broker(console, settings, workdir))
        model_dir = _model(console, settings)
        key_dirs = _keys(console, model_dir, partners, workdir / "keys")
        settings = settings.model_copy(
            update={"data_dir": workdir / "data", "model_dir": model_dir}
        )
        created = ensure_declared_topics(settings, partners)
        console.print(f"[green]✓[/] {len(created)} topics created under '{settings.topic_root}.'")
        with console.status(
            "starting one scorer and one gateway per partner; partners publish their "
            "evaluation keys, the scorer loads them…"
        ):
            log_dir = new_log_dir(DEMO_LOG_ROOT)
            pipeline = stack.enter_context(running_pipeline(settings, key_dirs, log_dir))
        console.print(
            f"[green]✓[/] scorer and gateways ready ({', '.join(partners)}); logs in {log_dir}"
        )
        _warm_up(console, settings, plan, pipeline.partners)
        return _replay(console, settings, plan)


def _warm_up(console: Console, settings: Settings, plan: DemoPlan, workers: Any) -> None:
    client = kafka_python_config(settings)
    names = TopicNames(settings.topic_root)
    send_replay(client, [*plan.history, *plan.labels], [], speed=None)
    with console.status("") as status:
        wait_for_gateways(
            client,
            settings.app_id,
            names,
            workers,
            only_running=False,
            timeout=300.0,
            progress=lambda p, lag: status.update(
                f"warming {p}'s feature state: {lag} history records to go…"
            ),
        )
    console.print(f"[green]✓[/] feature state warmed with {len(plan.history)} history records")


def _replay(console: Console, settings: Settings, plan: DemoPlan) -> int:
    client = kafka_python_config(settings)
    names = TopicNames(settings.topic_root)
    partners = settings.partners
    started = time.monotonic()
    send_replay(client, [], [*plan.live, *plan.malformed], speed=None)
    console.print(
        f"[green]✓[/] sent {len(plan.live)} transactions and {len(plan.malformed)} malformed "
        "events; scoring in FHE (verdicts decrypted by each partner)…"
    )
    console.rule("scores as they arrive (ALERT: at or over the partner's threshold)")
    topics = [names.scores(p) for p in partners] + [names.deadletter(p) for p in partners]
    expected = len(plan.live) + len(plan.malformed)
    scores: list[Score] = []
    dead = 0
    timeout = 120 + 10 * len(plan.live)
    with console.status("") as status:
        for record in consume_records(client, topics, expected=expected, timeout=timeout):
            partner = record.topic.split(".")[-3]
            if record.topic == names.deadletter(partner):
                dead += 1
                letter = read_headers(record.headers)
                console.print(
                    f"[red]dead letter[/] {partner:<6} {letter.error_class}: {letter.reason} "
                    f"(from {letter.topic}:{letter.partition}@{letter.offset})",
                    highlight=False,
                )
            else:
                score = Score.from_bytes(record.value)
                scores.append(score)
                console.print(_score_line(partner, score, plan), highlight=False)
            status.update(f"{len(scores)}/{len(plan.live)} scored")
    console.rule()
    return _summary(console, plan, scores, dead, time.monotonic() - started)


def _score_line(partner: str, score: Score, plan: DemoPlan) -> str:
    fraud = plan.truth.get(score.transaction_id, (partner, False))[1]
    verdict = "[bold red]ALERT[/]" if score.alert else "  ok "
    truth = "[red]fraud[/]" if fraud else "legit"
    fhe = score.timings.fhe_ms
    return (
        f"{verdict} {partner:<6} tx {score.transaction_id}  card {score.card_id:>4}  "
        f"amount {score.amount:>8.2f}  score {score.score:.3f} "
        f"(threshold {score.threshold:.3f})  truth {truth}  "
        f"FHE {'-' if fhe is None else f'{fhe / 1000:.2f}'} s"
    )


def _summary(
    console: Console, plan: DemoPlan, scores: list[Score], dead: int, seconds: float
) -> int:
    alerted = [s for s in scores if s.alert]
    frauds = {t for t, (_, fraud) in plan.truth.items() if fraud}
    caught = {s.transaction_id for s in alerted} & frauds
    fhe = [s.timings.fhe_ms / 1000 for s in scores if s.timings.fhe_ms is not None]
    e2e = [s.timings.end_to_end_ms / 1000 for s in scores]
    table = Table(title="summary", show_header=False)
    table.add_row("transactions scored", f"{len(scores)} of {len(plan.live)}")
    table.add_row("alerts", str(len(alerted)))
    table.add_row("true frauds caught", f"{len(caught)} of {len(frauds)}")
    table.add_row("false alerts", str(len(alerted) - len(caught)))
    table.add_row("malformed events dead-lettered", f"{dead} of {len(plan.malformed)}")
    if fhe:
        table.add_row("FHE seconds per transaction", f"{statistics.mean(fhe):.2f} (mean)")
        table.add_row("end to end, median", f"{statistics.median(e2e):.1f} s")
        table.add_row("throughput", f"{len(scores) / seconds:.2f} transactions/s")
    console.print(table)
    ok = len(scores) == len(plan.live) and dead == len(plan.malformed)
    if not ok:
        console.print("[red]some transactions or dead letters are missing[/]")
    return 0 if ok else 1
