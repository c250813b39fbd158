"""``fraudstream bench pipeline``: what the pipeline costs on top of the FHE evaluation itself.

On the same model, machine and run, over the same N transactions:

(a) a bare loop of server-side evaluations (``ScoringServer.evaluate``, one after the other, in
    this process, inputs encrypted beforehand), once before (b) and once after, their mean
    being (a)'s time (the machine's speed drifts between minutes; the loop before (b) evaluates
    random rows of the same shape, which costs the same: a circuit's operations do not depend
    on its inputs);
(b) the whole pipeline through a real broker: one partner gateway (features, encryption), one
    scorer (FHE in its process pool), the decryptor; all N transactions sent at once, timed from
    the send to the last score.

The pipeline of (b) is that of the first partner of ``FRAUD_PARTNERS`` alone, whatever the list
(see :func:`_pipeline_run`). Its workers log to files in a folder of their own (default
``.fraudstream/bench/<time>/``), named in the progress lines: the screen shows progress and the
result only.

With ``blocks`` > 1 (``--blocks``), (a) and (b) alternate instead, (b)'s processes stopped while
(a) runs (:mod:`streams.qa.bench_blocks`).

(b)'s broker and partner worker run at nice ``others_nice`` (19 unless told), and in the idle
scheduling class with ``others_idle``: a deployment runs them elsewhere, and here they would take
the scorer's turns (:mod:`streams.qa.cpu_priority`).

Both after a warm-up (the first evaluation under a key pays for loading the keys). The ratio of
(b)'s throughput to (a)'s says how close the pipeline comes to the bare evaluation (target 0.95).
Latencies are those of a backlog (everything sent at once): queueing dominates them by design.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from models.data.handbook import HandbookTransaction, partner_of, read_transactions
from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import ensure_declared_topics
from streams.broker.connection import kafka_python_config, patient
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.errors import ConfigError, FraudStreamError
from streams.core.outputs import Score
from streams.core.settings import GUARANTEE_SWITCH, Settings
from streams.core.topics import TopicNames
from streams.qa import bench_report
from streams.qa.bench_blocks import (
    PAUSE_TIMEOUTS,
    SETTLE_AFTER_PAUSE_S,
    BareBlocks,
    bare_server,
    paused,
    timed_evaluations,
)
from streams.qa.bench_report import OTHERS_NICE, BenchResult, BenchRuns, latencies, others_priority
from streams.qa.cpu_priority import lower_all
from streams.qa.cpu_use import CpuMeter
from streams.qa.data_feed import OutgoingRecord, records_producer, send_records, transaction_record
from streams.qa.pool_bench import random_rows
from streams.qa.recorder import RecordPlan, record_messages
from streams.qa.supervisor import new_log_dir, running_pipeline
from streams.qa.testing import consume_records

# The results live in bench_report; they are exported here too, next to what makes them.
__all__ = ["BENCH_LOG_ROOT", "OTHERS_NICE", "BenchResult", "BenchRuns", "run_pipeline_bench"]

BENCH_DAY = date(2018, 8, 9)
#: Where each run's worker logs go, in a folder named after its start time (UTC).
BENCH_LOG_ROOT = Path(".fraudstream/bench")


def _enough_transactions(
    warmup: int, transactions: int, partner: str, partners: Sequence[str]
) -> list[HandbookTransaction]:
    """``warmup + transactions`` of the bench day's transactions of ``partner``, or a clear
    error saying how many there are."""
    chosen = _transactions(warmup + transactions, partner, partners)
    if len(chosen) < warmup + transactions:
        msg = (
            f"{BENCH_DAY} has only {len(chosen)} transactions of {partner}: ask for at most "
            f"{len(chosen) - warmup} (after {warmup} warm-up)"
        )
        raise ConfigError(msg)
    return chosen


def _transactions(n: int, partner: str, partners: Sequence[str]) -> list[HandbookTransaction]:
    found = []
    for tx in read_transactions(start=BENCH_DAY, end=BENCH_DAY):
        if partner_of(tx.card_id, partners) == partner:
            found.append(tx)
            if len(found) == n:
                break
    return found


def run_pipeline_bench(
    settings: Settings,
    model_dir: Path,
    *,
    transactions: int,
    warmup: int,
    say: Callable[[str], None],
    log_root: Path = BENCH_LOG_ROOT,
    guarantee: str = "at_least_once",
    wait_s: float = 600.0,
    rate: float | None = None,
    blocks: int = 1,
    others_nice: int = OTHERS_NICE,
    others_idle: bool = False,
) -> BenchResult:
    """Measure (a), (b), then (a) again, or in blocks (module docstring). Workers log under
    ``log_root``; ``guarantee``: Faust's for (b) (scores read committed); a phase of (b) short of
    scores after ``wait_s`` s is an error; ``rate``: (b)'s sends per second, not all at once;
    ``blocks`` > 1: (a) and (b) alternate; ``others_*``: (b)'s broker and partner's priority."""
    if blocks > 1 and (rate is not None or transactions % blocks):
        msg = f"{blocks} blocks need a backlog (no rate) of transactions they divide"
        raise ValueError(msg)
    partner = settings.partners[0]
    chosen = _enough_transactions(warmup, transactions, partner, settings.partners)
    # The broker, keys and worker state are temporary; the logs are kept (they explain a failure).
    log_dir = new_log_dir(log_root)
    with tempfile.TemporaryDirectory(prefix="fraudstream-bench-") as tmp:
        work = Path(tmp)
        client = ClientArtifact.load(model_dir)
        keys = PartnerKeys.generate(client, work / "keys", partner)
        say(f"keys made for {partner} (key id {keys.key_id})")
        run = _Run(keys.key_dir, guarantee, wait_s, rate, others_nice, others_idle)
        if blocks > 1:
            say(f"(a) {warmup} warm-up evaluations; (a) and (b) then alternate in blocks")
            per_block = transactions // blocks
            bare = BareBlocks.prepared(model_dir, client, keys, blocks, per_block, warmup)
            run = replace(run, bare=bare)
        else:
            # (a) on both sides of (b); before it no features exist: random rows cost the same.
            rows = random_rows(client, len(chosen))
            before = _bare_loop(model_dir, keys, rows, warmup, say, when="before (b)")
        scores, sizes, cpu = _pipeline_run(
            settings, model_dir, run, chosen, warmup, work, log_dir, say
        )
        timed = scores[warmup:]
        if run.bare is not None:
            sent, scored = [t for _, t in timed], [s.scored_at_ms for s, _ in timed]
            pipeline_blocks, loops, bare_cpu = run.bare.measured(sent, scored)
        else:
            pipeline_blocks = ((max(s.scored_at_ms for s, _ in timed) - timed[0][1]) / 1000,)
            features = [list(s.features) for s, _ in scores]
            after = _bare_loop(model_dir, keys, features, warmup, say, when="after (b)")
            loops = (before[0], after[0])
            bare_cpu = (before[1] + after[1]) / 2 / transactions
    return BenchResult(
        keys.client.version, transactions, loops, sum(pipeline_blocks), latencies(timed), rate,
        sizes, {name: seconds / transactions for name, seconds in cpu.items()},
        len(os.sched_getaffinity(0)), bare_cpu, others_nice, pipeline_blocks, others_idle,
        bench_report.evaluation_seconds(timed), settings.scorer_processes,
    )  # fmt: skip


@dataclass(frozen=True)
class _Run:
    key_dir: Path
    guarantee: str
    wait_s: float
    rate: float | None = None
    others_nice: int = OTHERS_NICE
    others_idle: bool = False
    #: (a) in blocks, interleaved with (b)'s (``--blocks``), or None: (a) before and after (b).
    bare: BareBlocks | None = None


def _pipeline_run(  # noqa: PLR0917  (private; the run's eight inputs)
    settings: Settings,
    model_dir: Path,
    options: _Run,
    chosen: list[HandbookTransaction],
    warmup: int,
    work: Path,
    log_dir: Path,
    say: Callable[[str], None],
) -> tuple[list[tuple[Score, float]], dict[str, float], dict[str, float]]:
    """Scores of ``chosen`` through the pipeline, in send order, with their send times (ms);
    the bytes per transaction on each topic; the CPU seconds of each process over the timed
    phase."""
    partner = settings.partners[0]
    paused_ok = options.bare is not None  # (b) is stopped while each block of (a) runs
    kafka = _bench_broker(work, paused=paused_ok)
    kafka.start(say=lambda _: None)
    say(f"(b) broker up at {kafka.bootstrap}; starting a scorer and {partner}'s gateway")
    say(f"(b) worker logs in {log_dir}")
    try:
        # One partner only: a scorer is not ready until it has read the keys topic of every
        # partner of its settings, and (b) measures one gateway (verify does the same).
        update = {"broker": kafka.bootstrap, "partners": (partner,), "data_dir": work / "data"}
        if paused_ok:  # a pause of seconds is not a failure
            update["session_timeout"] = PAUSE_TIMEOUTS["worker_session_timeout_s"]
        # The bench's own clients wait for (b)'s broker as long as the workers do.
        settings = patient(settings.model_copy(update=update | {"model_dir": model_dir}))
        ensure_declared_topics(settings)
        with running_pipeline(
            settings,
            {partner: options.key_dir},
            log_dir,
            logs_in_errors=False,
            role_env=lambda role, partner: {GUARANTEE_SWITCH: options.guarantee},
        ) as pipeline:
            scorer, gateway, broker, bench = _CPU_ROWS
            pids = {
                scorer: pipeline.scorers[0].pid,
                gateway: pipeline.partners[partner].pid,
                broker: kafka.status().pid,
            }
            nice, idle = options.others_nice, options.others_idle
            low = lower_all((pids[gateway], pids[broker]), nice, idle=idle)  # not the scorer
            say(f"(b) broker and gateway at {others_priority(nice, idle)} ({low} set)")
            meter = CpuMeter(pids | {bench: os.getpid()})
            with closing(_Sender(settings, options, say)) as sender:  # its producer, closed
                cpu = _send_phases(sender, chosen, warmup, meter, list(pids.values()))
            sent_ms, scores = sender.sent_ms, sender.scores
            sizes = _bytes_per_transaction(settings, len(sent_ms))
    finally:
        kafka.stop()
    missing = [tx.transaction_id for tx in chosen if tx.transaction_id not in scores]
    if missing:
        msg = (
            f"the pipeline ({options.guarantee}) scored {len(scores)} of the {len(sent_ms)} "
            f"transactions sent within {options.wait_s:g} s; the workers' logs say why: {log_dir}"
        )
        raise FraudStreamError(msg)
    return [scores[tx.transaction_id] for tx in chosen], sizes, cpu


def _bench_broker(work: Path, *, paused: bool) -> LocalKafka:
    """The run's broker, on free ports; one that is paused gets a long KRaft session timeout."""
    timeout = str(PAUSE_TIMEOUTS["broker_session_timeout_ms"])
    return LocalKafka(
        work / "kafka",
        port=free_port(),
        controller_port=free_port(),
        extra_properties=(("broker.session.timeout.ms", timeout),) if paused else (),
    )


def _bytes_per_transaction(settings: Settings, sent: int) -> dict[str, float]:
    """Bytes (keys and values) on each topic of the partner's path, per transaction sent."""
    partner, names = settings.partners[0], TopicNames(settings.topic_root)
    topics = {
        "transactions": names.transactions(partner),
        "validated (card, then terminal stage)": names.validated(partner),
        "pending (details kept by the partner)": names.pending(partner),
        "scoring requests": names.scoring_requests(),
        "verdicts": names.verdicts(partner),
        "scores": names.scores(partner),
        "alerts": names.alerts(partner),
    }
    label_of = {topic: label for label, topic in topics.items()}
    sizes = dict.fromkeys(topics, 0)
    for message in record_messages(kafka_python_config(settings), RecordPlan(tuple(label_of))):
        sizes[label_of[message.topic]] += len(message.key or b"") + len(message.value or b"")
    return {label: size / sent for label, size in sizes.items()}


#: The rows of (b)'s CPU table, in order.
_CPU_ROWS = (
    "scorer (with its FHE pool)",
    "partner gateway and decryptor",
    "broker",
    "this bench (sending, reading scores)",
)


@dataclass
class _Sender:
    """Sends parts of the transactions to (b) and waits for their scores; keeps every send
    time (ms) and score by transaction id. One producer sends every part, so that a block's
    first send does not wait for a new producer's connection and metadata (about 0.1 s a block,
    measured; the bench's own start-up, not the pipeline's): :meth:`close` it."""

    settings: Settings
    options: _Run
    say: Callable[[str], None]
    sent_ms: dict[int, float] = field(default_factory=dict)
    scores: dict[int, tuple[Score, float]] = field(default_factory=dict)
    producer: KafkaProducer | None = None

    def close(self) -> None:
        """Close the producer, if one was made."""
        if self.producer is not None:
            self.producer.close()
            self.producer = None

    def __call__(self, part: Sequence[HandbookTransaction], phase: str, rate: float | None) -> bool:
        """Send ``part`` (at ``rate`` per second, or at once) and wait for every score sent so
        far; False when some did not come within the wait."""
        partner = self.settings.partners[0]
        names, client = TopicNames(self.settings.topic_root), kafka_python_config(self.settings)
        pace = f" at {rate:g} per second" if rate else ""
        self.say(f"(b) sending {len(part)} {phase} transactions{pace}")
        if self.producer is None:
            self.producer = records_producer(client)
        send_records(client, _sending(names, partner, part, self.sent_ms, rate), self.producer)
        for record in consume_records(
            client,
            [names.scores(partner)],
            expected=len(self.sent_ms),
            timeout=self.options.wait_s,
            committed_only=True,
        ):
            score = Score.from_bytes(record.value)
            self.scores[score.transaction_id] = (score, self.sent_ms[score.transaction_id])
        self.say(f"(b) {len(self.scores)} of {len(self.sent_ms)} scored")
        return len(self.scores) == len(self.sent_ms)


def _send_phases(
    send: _Sender,
    chosen: list[HandbookTransaction],
    warmup: int,
    meter: CpuMeter,
    pids: list[int | None],
) -> dict[str, float]:
    """Send the warm-up, wait for its scores, then the timed ones (``meter`` measuring them);
    stop at a phase whose scores did not all come within the wait. With ``send.options.bare``
    the timed ones go in blocks between blocks of (a), ``pids`` (those running) stopped while
    (a) runs. The CPU seconds of each process over the timed phase (the blocks of (b))."""
    # Paused in (a)'s blocks, if any: the broker first in the list, so stopped last.
    stopped = [pid for pid in reversed(pids) if pid is not None]
    if not send(chosen[:warmup], "warm-up", None):
        return {}
    timed, bare = chosen[warmup:], send.options.bare
    if bare is None:
        meter.start()
        send(timed, "timed", send.options.rate)
        return meter.stop()
    blocks = bare.blocks
    cpu = dict.fromkeys(_CPU_ROWS, 0.0)
    for n in range(blocks + 1):
        send.say(f"(a) block {n + 1} of {blocks + 1}: {bare.per_block} evaluations, (b) stopped")
        with paused(stopped, send.say):
            bare.run_next()
        if n == blocks:
            break
        time.sleep(SETTLE_AFTER_PAUSE_S)  # the resumed processes' catch-up is the pause's
        meter.start()
        scored = send(timed[n * bare.per_block : (n + 1) * bare.per_block], "timed", None)
        for name, seconds in meter.stop().items():
            cpu[name] += seconds
        if not scored:
            break
    return cpu


def _sending(
    names: TopicNames,
    partner: str,
    part: Sequence[HandbookTransaction],
    sent_ms: dict[int, float],
    rate: float | None,
) -> Iterator[OutgoingRecord]:
    """The records of ``part``, each handed out at its send time (all at once without a
    ``rate``), which goes into ``sent_ms``."""
    started = time.monotonic()
    for n, tx in enumerate(part):
        if rate is not None:
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
        sent_ms[tx.transaction_id] = time.time() * 1000
        yield transaction_record(names, tx, partner)


def _bare_loop(
    model_dir: Path,
    keys: Any,
    features: list[list[float]],
    warmup: int,
    say: Callable[[str], None],
    *,
    when: str,
) -> tuple[float, float]:
    """Seconds of the timed evaluations, one after the other, in this process, and the CPU
    seconds they took (every thread of this process: the circuit's OpenMP threads)."""
    server = bare_server(model_dir, keys)
    requests = [keys.encrypt(row) for row in features]
    say(f"(a) bare loop {when}: {warmup} warm-up then {len(requests) - warmup} timed evaluations")
    for request in requests[:warmup]:
        server.evaluate(request)
    return timed_evaluations(server, requests[warmup:])
