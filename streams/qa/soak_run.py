"""The soak run: a long replay at high speed through a real pipeline while every process's
resident memory is sampled; reports the memory's slope per process and whether anything was
lost.

``fraudstream bench soak`` starts a throw-away broker, a scorer and one partner worker per
partner with fresh keys, and then:

1. **History.** The ``history_days`` before ``start`` go out as fast as the broker takes them,
   as ``fraud.backfill`` transactions (they fill the feature state and are not scored) with the
   fraud labels known by then; the run waits until every gateway has processed them. With 31
   days of history every card's and terminal's state holds all its windows reach: the live
   part starts with the state at its steady size, so a memory slope is not the state filling.
2. **Live.** For ``minutes`` of wall time the days from ``start`` on are sent in time order
   (:mod:`streams.qa.soak_feed`: labels at their label time, the data wrapped with shifted
   timestamps and ids when it runs out), as fast as the pipeline scores them: a transaction goes
   out whenever fewer than ``in_flight`` are sent and not scored yet.
   The join TTL and the requests' maximum age (wall-clock bounds: a day each by default) are
   ``ttl_s`` (10 minutes by default), so that the decryptor's join table and the scorer's
   remembered nonces reach their bounded size within the run as well.
3. **Drain.** The run waits until every transaction is scored, or no score came for
   ``drain_s`` seconds; what is missing then is lost.

Throughout, :class:`~streams.qa.memory_samples.RssSampler` samples every worker, its child
processes (the scorer's FHE pool) and the broker's JVM into ``rss.csv`` in the run's log folder.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import assigned_consumer, ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.broker.local_kafka import LocalKafka
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.data_feed import label_record, transaction_record
from streams.qa.memory_samples import RssSampler, plot_rss, summarize
from streams.qa.replay import wait_for_gateways
from streams.qa.soak_feed import FeedItem, soak_feed
from streams.qa.soak_report import SoakPlan, SoakReport
from streams.qa.supervisor import Pipeline, new_log_dir, running_pipeline
from streams.qa.testing import temporary_broker

__all__ = ["SOAK_LOG_ROOT", "run_soak"]

SOAK_LOG_ROOT = Path(".fraudstream/soak")
_PROGRESS_S = 300.0


def run_soak(
    settings: Settings,
    model_dir: Path,
    plan: SoakPlan,
    *,
    png: Path,
    say: Callable[[str], None],
    log_root: Path = SOAK_LOG_ROOT,
) -> SoakReport:
    """The run the module describes. The workers' logs and ``rss.csv`` go to a new folder under
    ``log_root``; the memory curve is drawn to ``png``."""
    started = time.monotonic()
    report = SoakReport(plan, model=_model_name(model_dir))
    log_dir = new_log_dir(log_root)
    with (
        tempfile.TemporaryDirectory(prefix="fraudstream-soak-") as tmp,
        temporary_broker(Path(tmp) / "kafka") as broker,
    ):
        work = Path(tmp)
        run = settings.model_copy(
            update={
                "broker": broker.bootstrap,
                "partners": plan.partners,
                "data_dir": work / "data",
                "model_dir": model_dir,
                "join_ttl": plan.ttl_s,
                "request_max_age": plan.ttl_s,
            }
        )
        ensure_declared_topics(run)
        client = ClientArtifact.load(model_dir)
        keys = {p: PartnerKeys.generate(client, work / "keys" / p, p) for p in plan.partners}
        say(f"broker at {broker.bootstrap}; logs and rss.csv in {log_dir}")
        key_dirs = {p: k.key_dir for p, k in keys.items()}
        with running_pipeline(run, key_dirs, log_dir, logs_in_errors=False) as pipeline:
            sampler = RssSampler(
                lambda: _processes(pipeline, broker), log_dir / "rss.csv", plan.sample_s
            )
            sampler.phase = "start"
            sampler.start()
            try:
                _Driver(run, plan, pipeline, sampler, report, say).drive()
            finally:
                sampler.stop()
    report.samples = len({s.elapsed_s for s in sampler.samples})
    live = [s for s in sampler.samples if s.phase == "live"]
    report.series = summarize(live, report.warmup_s)
    plot_rss(sampler.samples, png, warmup_s=report.warmup_s, title=_title(report))
    say(f"samples: {log_dir / 'rss.csv'}; curve: {png}")
    report.seconds = time.monotonic() - started
    return report


def _model_name(model_dir: Path) -> str:
    """The model's version and size, from its card."""
    card = orjson.loads((model_dir / "model_card.json").read_bytes())
    spec = card.get("spec", {})
    size = f"{spec.get('kind')}, {spec.get('trees')} trees of depth {spec.get('depth')}, "
    return f"{card.get('version', model_dir.name)} ({size}{spec.get('n_bits')} bits)"


def _processes(pipeline: Pipeline, broker: LocalKafka) -> Mapping[str, int | None]:
    """The processes to sample, by the name the report gives them."""
    named: dict[str, int | None] = {"scorer": pipeline.scorers[0].pid}
    named |= {f"partner {p}": worker.pid for p, worker in pipeline.partners.items()}
    named["broker (JVM)"] = broker.status().pid
    return named


def _title(report: SoakReport) -> str:
    plan = report.plan
    return (
        f"Soak: {round(report.live_s / 60, 1):g} min live, {len(plan.partners)} partners, "
        f"{report.scored:,} transactions scored after {plan.history_days} days of history"
    )


class _Driver:
    """Sends the history, then the live part on its in-flight bound, then drains."""

    def __init__(  # noqa: PLR0917  (private: the run's parts)
        self,
        run: Settings,
        plan: SoakPlan,
        pipeline: Pipeline,
        sampler: RssSampler,
        report: SoakReport,
        say: Callable[[str], None],
    ) -> None:
        self.run, self.plan, self.pipeline = run, plan, pipeline
        self.sampler, self.report, self.say = sampler, report, say
        self.names, self.client = TopicNames(run.topic_root), kafka_python_config(run)
        self.live_from = datetime(plan.start.year, plan.start.month, plan.start.day, tzinfo=UTC)
        self.feed: Iterator[FeedItem] = soak_feed(
            plan.partners, plan.start - timedelta(days=plan.history_days)
        )
        self.scored: set[int] = set()

    def drive(self) -> None:
        """History, live, drain (the module's steps), with a producer and a score reader."""
        self.producer = KafkaProducer(**self.client, acks="all", linger_ms=5)
        self.scores = assigned_consumer(
            self.client, [self.names.scores(p) for p in self.plan.partners]
        )
        try:
            first_live = self._history()
            self._live(first_live)
            self._drain()
        finally:
            self.producer.close()
            self.scores.close()

    def _send(self, item: FeedItem, *, backfill: bool) -> None:
        if item.is_label:
            record = label_record(self.names, item.transaction, item.partner)
        else:
            record = transaction_record(
                self.names, item.transaction, item.partner, backfill=backfill
            )
        self.producer.send(record.topic, key=record.key, value=record.value,
                           headers=record.headers)  # fmt: skip

    def _history(self) -> FeedItem:
        """Send the history; return the first live transaction (read, not sent)."""
        self.sampler.phase = "history"
        started, report = time.monotonic(), self.report
        for item in self.feed:
            if not item.is_label and item.transaction.timestamp >= self.live_from:
                break
            self._send(item, backfill=True)
            report.history_labels += item.is_label
            report.history_transactions += not item.is_label
        self.producer.flush()
        self.say(
            f"history sent: {report.history_transactions:,} transactions, "
            f"{report.history_labels:,} labels; waiting for the gateways"
        )
        said = [time.monotonic()]

        def progress(partner: str, lag: int) -> None:
            if time.monotonic() - said[0] >= _PROGRESS_S:
                said[0] = time.monotonic()
                self.say(f"history: {partner} has {lag:,} records to go")

        wait_for_gateways(
            self.client, self.run.app_id, self.names, self.plan.partners,
            progress=progress, timeout=6 * 3600, only_running=False,
        )  # fmt: skip
        report.history_s = time.monotonic() - started
        self.say(f"history processed in {report.history_s / 60:.1f} min")
        return item

    def _live(self, first: FeedItem) -> None:  # long: the run's pacing loop, in one place
        """Send the live part on its in-flight bound for the plan's minutes."""
        self.sampler.phase = "live"
        report, plan = self.report, self.plan
        live_started = time.monotonic()
        report.warmup_s = self.sampler.elapsed_s + plan.warmup_share * plan.minutes * 60
        report.data_from = first.transaction.timestamp.strftime("%Y-%m-%d %H:%M")
        deadline = live_started + plan.minutes * 60
        next_item, next_say = first, live_started + _PROGRESS_S
        while time.monotonic() < deadline and not self._exited():
            while report.sent - len(self.scored) < plan.in_flight:
                self._send(next_item, backfill=False)
                if next_item.is_label:
                    report.labels += 1
                else:
                    report.sent += 1
                    report.data_to = next_item.transaction.timestamp.strftime("%Y-%m-%d %H:%M")
                next_item = next(self.feed)
            self.producer.flush()
            self._read_scores(0.2)
            if time.monotonic() >= next_say:
                next_say += _PROGRESS_S
                self.say(
                    f"{(time.monotonic() - live_started) / 60:.0f} min: {report.sent:,} sent, "
                    f"{len(self.scored):,} scored, data at {report.data_to}"
                )
        report.live_s = time.monotonic() - live_started

    def _drain(self) -> None:
        """Wait for the last scores; count what never came."""
        self.sampler.phase = "drain"
        self.producer.flush()
        last, count = time.monotonic(), len(self.scored)
        while len(self.scored) < self.report.sent and time.monotonic() - last < self.plan.drain_s:
            self._read_scores(1.0)
            if len(self.scored) > count:
                last, count = time.monotonic(), len(self.scored)
            if self._exited():
                break
        self._read_scores(5.0)  # a score sent twice would come now
        self.report.scored = len(self.scored)

    def _read_scores(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            polled: dict[Any, list[Any]] = self.scores.poll(timeout_ms=100)
            for records in polled.values():
                for record in records:
                    tx_id = int(orjson.loads(record.value)["transaction_id"])
                    if tx_id in self.scored:
                        self.report.scored_twice += 1
                    self.scored.add(tx_id)
            if time.monotonic() >= deadline:
                return

    def _exited(self) -> bool:
        """Whether a worker has exited (it is named in the report once)."""
        for worker in self.pipeline.workers:
            name = worker.partner or worker.role
            if worker.returncode is not None and name not in self.report.exited:
                self.report.exited.append(name)
                self.say(f"the {name} worker exited ({worker.returncode})")
        return bool(self.report.exited)
