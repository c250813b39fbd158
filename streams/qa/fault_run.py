"""The fault run: a day of several partners through a real pipeline while its workers and its
broker are killed, paused and restarted on a seeded schedule; then every transaction is checked.

``fraudstream bench faults`` starts a throw-away broker, a scorer and one gateway per partner with
fresh keys, sends each partner's transactions of a day (a slice of them) paced over the run,
and injects, at times drawn from the seed (the schedule is printed, so a run can be repeated):

- ``gateway``, ``decryptor``, ``scorer``: the worker is SIGKILLed at a random instant, restarted
  armed with its fault point (``FRAUD_FAULT_POINTS``: it dies again at that exact point of its
  work, :mod:`streams.runtime.faults`; a decryptor's alternates between before and after its
  output), then restarted clean;
- ``broker-kill``: the broker is SIGKILLed and restarted 5 s later;
- ``broker-pause``: the broker is SIGSTOPped for ``pause_s`` seconds;
- ``slow-partner``: a partner's worker is SIGSTOPped for ``pause_s`` seconds (its partitions
  move on after the session timeout and come back).

Dead workers are restarted as an orchestrator would. At the end: transactions in, scores out,
lost, transactions scored twice, alerts twice, scores or features that differ from the batch
computation, and per fault kind the recovery times: from the fault's end (the kill, the end of a
pause, the broker's restart) until the component it hit scores again, that is the next score of
the partner whose worker it was, or of any partner for the scorer and the broker.
"""

from __future__ import annotations

import math
import os
import random
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from models.data.handbook import HandbookTransaction, read_transactions
from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.errors import BrokerError
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.batch_scores import batch_scores
from streams.qa.data_feed import by_partner, transaction_record
from streams.qa.replay_plan import ReplayMessage
from streams.qa.supervisor import Pipeline, WorkerProcess, new_log_dir, running_pipeline
from streams.qa.testing import consume_records, temporary_broker

__all__ = [
    "FAULTS_LOG_ROOT",
    "FAULT_KINDS",
    "Fault",
    "FaultReport",
    "p50_p99",
    "run_faults",
    "schedule",
]

FAULTS_LOG_ROOT = Path(".fraudstream/faults")
FAULT_KINDS = ("gateway", "decryptor", "scorer", "broker-kill", "broker-pause", "slow-partner")
#: The fault points a restarted worker is armed with, taken in turn.
_POINTS = {
    "gateway": ("gateway.before_request",),
    "decryptor": ("decryptor.before_output", "decryptor.after_output"),
    "scorer": ("scorer.during_evaluation",),
}
DAY = date(2018, 8, 8)


@dataclass(frozen=True)
class Fault:
    """One fault: when (seconds after the first transaction), what, on whom."""

    at_s: float
    kind: str
    target: str


def schedule(
    seed: int, counts: Mapping[str, int], partners: tuple[str, ...], span_s: float
) -> list[Fault]:
    """``counts[kind]`` faults of each kind at seeded times from ``0.1 * span_s`` on (while
    transactions still come), at least 20 s apart (each has time to end before the next)."""
    rng = random.Random(seed)  # noqa: S311  (a repeatable schedule, not a secret)
    kinds = [kind for kind in FAULT_KINDS for _ in range(counts.get(kind, 0))]
    rng.shuffle(kinds)
    step = max(20.0, 0.6 * span_s / max(len(kinds), 1))
    faults = []
    for index, kind in enumerate(kinds):
        at = 0.1 * span_s + index * step + rng.uniform(0, step / 4)
        target = "scorer" if kind == "scorer" else "broker" if kind.startswith("broker") else ""
        faults.append(Fault(round(at, 1), kind, target or rng.choice(partners)))
    return faults


@dataclass
class FaultReport:
    """What the run found."""

    seed: int
    faults: list[Fault]
    transactions: int = 0
    scored: int = 0
    duplicate_scores: int = 0
    duplicate_alerts: int = 0
    mismatches: int = 0
    recovery_s: dict[str, list[float]] = field(default_factory=dict)
    restarts: int = 0
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        """Transactions never scored."""
        return self.transactions - self.scored

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing twice, nothing different from the batch computation."""
        counts = (self.lost, self.duplicate_scores, self.duplicate_alerts, self.mismatches)
        return not any(counts)

    def markdown(self) -> str:
        """The report as Markdown (docs/reliability.md's fault block)."""
        lines = [
            f"Seed {self.seed}, {len(self.faults)} faults, {self.restarts} worker restarts, "
            f"{self.seconds:.0f} s.",
            "",
            "| transactions | scored | lost | scored twice | alerted twice | differ from batch |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {self.transactions} | {self.scored} | {self.lost} | {self.duplicate_scores} | "
            f"{self.duplicate_alerts} | {self.mismatches} |",
            "",
            "| fault | count | recovery p50 (s) | p99 (s) | each (s) |",
            "|---|---:|---:|---:|---|",
        ]
        for kind in FAULT_KINDS:
            count = sum(1 for fault in self.faults if fault.kind == kind)
            times = sorted(self.recovery_s.get(kind, []))
            if count and times:
                each = ", ".join(f"{t:.1f}" for t in times)
                p50, p99 = p50_p99(times)
                lines.append(f"| {kind} | {count} | {p50:.1f} | {p99:.1f} | {each} |")
            elif count:
                lines.append(f"| {kind} | {count} | - | - | (no score came after it) |")
        lines += [
            "",
            "Schedule: " + ", ".join(f"{f.at_s:g} s {f.kind} ({f.target})" for f in self.faults),
        ]
        return "\n".join(lines)


def p50_p99(ordered: list[float]) -> tuple[float, float]:
    """Median and 99th percentile (nearest rank) of sorted values."""
    rank = max(0, math.ceil(0.99 * len(ordered)) - 1)
    return statistics.median(ordered), ordered[rank]


def run_faults(  # long: the run's set-up, in order
    settings: Settings,
    model_dir: Path,
    *,
    partners: tuple[str, ...],
    per_partner: int,
    seed: int,
    counts: Mapping[str, int],
    span_s: float,
    pause_s: float,
    say: Callable[[str], None],
    log_root: Path = FAULTS_LOG_ROOT,
) -> FaultReport:
    """The run the module describes; the workers' logs go to a new folder under ``log_root``."""
    started = time.monotonic()
    grouped = by_partner(read_transactions(start=DAY, end=DAY), partners)
    chosen = sorted(
        ((p, tx) for p, txs in grouped.items() for tx in txs[:per_partner]),
        key=lambda pair: (pair[1].timestamp, pair[1].transaction_id),
    )
    report = FaultReport(seed, schedule(seed, counts, partners, span_s), transactions=len(chosen))
    say("schedule: " + ", ".join(f"{f.at_s:g} s {f.kind} ({f.target})" for f in report.faults))
    log_dir = new_log_dir(log_root)
    with (
        tempfile.TemporaryDirectory(prefix="fraudstream-faults-") as tmp,
        temporary_broker(Path(tmp) / "kafka") as broker,
    ):
        work = Path(tmp)
        run = settings.model_copy(
            update={
                "broker": broker.bootstrap,
                "partners": partners,
                "data_dir": work / "data",
                "model_dir": model_dir,
                "topic_partitions": 2,
                "key_wait": 5.0,
                "session_timeout": 6.0,
            }
        )
        ensure_declared_topics(run)
        client = ClientArtifact.load(model_dir)
        keys = {p: PartnerKeys.generate(client, work / "keys" / p, p) for p in partners}
        say(f"broker at {broker.bootstrap}; {len(chosen)} transactions; logs in {log_dir}")
        with running_pipeline(run, {p: k.key_dir for p, k in keys.items()}, log_dir) as pipeline:
            driver = _Driver(run, broker, pipeline, log_dir, report, say)
            driver.drive(chosen, span_s, pause_s)
            _check(run, chosen, model_dir, report)
    report.seconds = time.monotonic() - started
    return report


class _Driver:
    """Sends the transactions on their pace, injects the faults, restarts dead workers."""

    def __init__(  # noqa: PLR0917  (private: the run's parts)
        self,
        run: Settings,
        broker: LocalKafka,
        pipeline: Pipeline,
        log_dir: Path,
        report: FaultReport,
        say: Callable[[str], None],
    ) -> None:
        self.run, self.broker, self.pipeline = run, broker, pipeline
        self.log_dir, self.report, self.say = log_dir, report, say
        self.names, self.client = TopicNames(run.topic_root), kafka_python_config(run)
        self.armed: dict[str, str] = {}
        self.ended: list[tuple[Fault, float]] = []
        self.arrivals: dict[int, tuple[float, str]] = {}
        self.kills: Counter[str] = Counter()

    def drive(
        self, chosen: list[tuple[str, HandbookTransaction]], span_s: float, pause_s: float
    ) -> None:
        """Send, inject, restart; then wait until every transaction is scored or 10 min pass."""
        producer = KafkaProducer(
            **self.client, acks="all", retries=1_000_000, retry_backoff_ms=500,
            max_in_flight_requests_per_connection=1,
        )  # fmt: skip
        pace = span_s / max(len(chosen), 1)
        faults, start, sent = list(self.report.faults), time.monotonic(), 0
        while sent < len(chosen) or faults:
            now = time.monotonic() - start
            while sent < len(chosen) and sent * pace <= now:
                record = transaction_record(self.names, chosen[sent][1], chosen[sent][0])
                producer.send(record.topic, key=record.key, value=record.value,
                              headers=record.headers)  # fmt: skip
                sent += 1
            while faults and faults[0].at_s <= now:
                self._inject(faults.pop(0), pause_s)
            self._restart_dead()
            self._watch_scores()
            time.sleep(0.2)
        producer.flush()
        producer.close()
        deadline = time.monotonic() + 600
        while len(self.arrivals) < len(chosen) and time.monotonic() < deadline:
            self._restart_dead()
            self._watch_scores()
            time.sleep(1)
        time.sleep(10)  # anything scored twice would come now
        self._watch_scores()
        self._recoveries()

    def _inject(self, fault: Fault, pause_s: float) -> None:
        self.say(f"{fault.at_s:g} s: {fault.kind} ({fault.target})")
        if fault.kind in _POINTS:
            worker = self._worker(fault.target)
            points = _POINTS[fault.kind]
            self.armed[fault.target] = f"{points[self.kills[fault.kind] % len(points)]}=1"
            self.kills[fault.kind] += 1
            worker.kill()  # a crash at a random instant; the restart dies at the exact point
        elif fault.kind == "broker-kill":
            pid = self.broker.status().pid
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            time.sleep(5)
            self.broker.start(say=lambda _: None)
        elif fault.kind == "broker-pause":
            self._pause(self.broker.status().pid, pause_s, group=False)
        elif fault.kind == "slow-partner":
            self._pause(self._worker(fault.target).pid, pause_s, group=True)
        self.ended.append((fault, time.monotonic()))

    @staticmethod
    def _pause(pid: int | None, seconds: float, *, group: bool) -> None:
        if pid is None:
            msg = "the process to pause is not running"
            raise BrokerError(msg)
        stop = os.killpg if group else os.kill
        stop(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            stop(pid, signal.SIGCONT)

    def _worker(self, target: str) -> WorkerProcess:
        return self.pipeline.scorers[0] if target == "scorer" else self.pipeline.partners[target]

    def _restart_dead(self) -> None:
        for target in ["scorer", *self.pipeline.partners]:
            dead = self._worker(target)
            if dead.returncode is None:
                continue
            self.report.restarts += 1
            env = {"FRAUD_FAULT_POINTS": self.armed.pop(target)} if target in self.armed else {}
            worker = WorkerProcess(
                dead.settings.model_copy(update={"web_port": free_port()}),
                dead.role,
                self.log_dir / f"{target}-{self.report.restarts}.log",
                partner=dead.partner,
                extra_env=env,
            )
            worker.start()
            if target == "scorer":
                self.pipeline.scorers[0] = worker
            else:
                self.pipeline.partners[target] = worker

    def _watch_scores(self) -> None:
        partner_of = {self.names.scores(p): p for p in self.run.partners}
        found = consume_records(self.client, list(partner_of), expected=10**9, timeout=0.5)
        try:
            for record in found:
                tx_id = int(orjson.loads(record.value)["transaction_id"])
                self.arrivals.setdefault(tx_id, (time.monotonic(), partner_of[record.topic]))
        except (BrokerError, KafkaError) as exc:
            # Just after a pause or a restart the broker may answer with no partition leader
            # yet (the topic looks missing): look again on the next round.
            self.say(f"scores not readable now ({type(exc).__name__}); reading again")

    def _recoveries(self) -> None:
        """Per fault: until the component it hit scores again (a partner's worker: that
        partner's next score; the scorer or the broker: anyone's)."""
        arrivals = sorted(self.arrivals.values())
        for fault, ended in self.ended:
            whose = fault.target if fault.target in self.run.partners else None
            after = [t - ended for t, p in arrivals if t > ended and whose in {None, p}]
            if after:
                self.report.recovery_s.setdefault(fault.kind, []).append(round(after[0], 1))


def _check(
    run: Settings,
    chosen: list[tuple[str, HandbookTransaction]],
    model_dir: Path,
    report: FaultReport,
) -> None:
    """Count scores and alerts per transaction, and compare each score with the batch's."""
    names, client = TopicNames(run.topic_root), kafka_python_config(run)

    def read(topics: list[str]) -> list[dict[str, Any]]:
        found = consume_records(client, topics, expected=10**9, timeout=5)
        return [orjson.loads(record.value) for record in found]

    scores = read([names.scores(p) for p in run.partners])
    alerts = read([names.alerts(p) for p in run.partners])
    per_score = Counter(int(s["transaction_id"]) for s in scores)
    per_alert = Counter(int(a["transaction_id"]) for a in alerts)
    report.scored = len(per_score)
    report.duplicate_scores = sum(1 for n in per_score.values() if n > 1)
    report.duplicate_alerts = sum(1 for n in per_alert.values() if n > 1)
    records = [transaction_record(names, tx, p) for p, tx in chosen]
    expected = batch_scores(
        [ReplayMessage(r.topic, r.key, r.value, tuple(r.headers)) for r in records], model_dir
    )
    partner_of = {tx.transaction_id: p for p, tx in chosen}
    for score in scores:
        key = (partner_of[int(score["transaction_id"])], int(score["transaction_id"]))
        want = expected.features[key]
        same = len(want) == len(score["features"]) and all(
            abs(a - b) <= 1e-9 for a, b in zip(want, score["features"], strict=True)
        )
        if not same or abs(expected.outcomes[key].score - score["score"]) > 1e-9:
            report.mismatches += 1
