"""Verifying a recording: replay its input through a fresh pipeline and collect its scores.

Each run gets a pipeline of its own (one scorer and one gateway per partner of the input) on
topics under a fresh root, so the feature state starts empty every time: a recording replayed
twice gives the same features, hence the same verdicts. The input's warm-up (history with
``fraud.backfill`` and every label) is sent first and waited for, then the live transactions.

The scores are compared with golden ones or another model's by :mod:`streams.qa.score_comparison`.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import admin_client, assigned_consumer, ensure_declared_topics
from streams.broker.connection import kafka_python_config
from streams.core.errors import FraudStreamError, VerifyError
from streams.core.outputs import Score
from streams.core.settings import Settings
from streams.core.topics import SCORING_SCOPE, TopicNames
from streams.qa.recorder import recorded_message
from streams.qa.recording_file import RecordedMessage, RecordingHeader
from streams.qa.replay import send_replay, wait_for_gateways
from streams.qa.replay_plan import ReplayMessage, load_recording, rename_root, split_warm_up
from streams.qa.score_comparison import Outcome, outcomes_of
from streams.qa.supervisor import running_pipeline
from streams.qa.testing import consume_records, temporary_broker

__all__ = [
    "PipelineRun",
    "broker_for",
    "input_messages",
    "input_partners",
    "run_recording",
    "verify_workspace",
]


# --- running a recording through a pipeline -------------------------------------------------
@dataclass
class PipelineRun:
    """The output of one run of a recording through a fresh pipeline."""

    model_version: str
    scores: list[RecordedMessage]
    dead_letters: int
    live: int

    @property
    def outcomes(self) -> dict[tuple[str, int], Outcome]:
        """What the run's scores say, by (partner, transaction id)."""
        return outcomes_of(self.scores)

    @property
    def features(self) -> dict[tuple[str, int], tuple[float, ...]]:
        """The plaintext features each score was computed from, by (partner, transaction id)."""
        found: dict[tuple[str, int], tuple[float, ...]] = {}
        for message in self.scores:
            if message.value is None or ".scores." not in message.topic:
                continue
            score = Score.from_bytes(message.value)
            found.setdefault((message.topic.split(".")[-3], score.transaction_id), score.features)
        return found


def input_messages(
    messages: Sequence[ReplayMessage],
) -> tuple[list[ReplayMessage], list[str]]:
    """The inputs of a pipeline among ``messages`` (transactions and labels), and the topics of
    the others (recorded scores, requests or verdicts: replaying them would mix old outputs with
    the run's own)."""
    inputs = [m for m in messages if m.is_transaction or m.is_label]
    return inputs, sorted({m.topic for m in messages} - {m.topic for m in inputs})


def input_partners(messages: Sequence[ReplayMessage]) -> tuple[str, ...]:
    """The partners whose transactions or labels the input holds."""
    found = {m.partner for m in messages if m.is_transaction or m.is_label}
    if not found:
        msg = "the recording holds no <root>.<partner>.transactions.v1 messages to replay"
        raise VerifyError(msg)
    return tuple(sorted(found))


@contextmanager
def broker_for(
    settings: Settings, workdir: Path, *, use_given: bool, say: Callable[[str], None]
) -> Iterator[Settings]:
    """The broker of ``settings`` when ``use_given``, else a fresh local one on free ports."""
    if use_given:
        yield settings
        return
    say("starting a local Kafka broker (KRaft, loopback)…")
    with temporary_broker(workdir / "kafka") as kafka:
        yield settings.model_copy(update={"broker": kafka.bootstrap})


def run_recording(
    settings: Settings,
    model_dir: Path,
    recording: Path,
    workdir: Path,
    *,
    speed: float | None = None,
    say: Callable[[str], None] = lambda _: None,
    progress: Callable[[str], None] = lambda _: None,
    timeout_per_transaction: float = 10.0,
) -> PipelineRun:
    """Replay ``recording`` through a fresh pipeline running ``model_dir`` on the broker of
    ``settings`` (with new keys for each partner of the input); return the scores it produced,
    their topics named as in the recording."""
    header, everything = load_recording(recording)
    original, ignored = input_messages(everything)
    if ignored:
        # Replaying recorded scores, requests or verdicts would mix old outputs into this run's.
        say(f"not replaying {', '.join(ignored)}: only transactions and labels are inputs")
    partners = input_partners(original)
    client_artifact = ClientArtifact.load(model_dir)  # a bad model fails before any topic
    run = _fresh_pipeline(settings, partners, model_dir, workdir)
    root = run.topic_root
    ensure_declared_topics(run, partners)

    def make_keys() -> dict[str, Path]:
        say(f"model {client_artifact.version}: new FHE keys for {', '.join(partners)}…")
        return {
            p: PartnerKeys.generate(client_artifact, workdir / "keys" / p, p).key_dir
            for p in partners
        }

    messages = [
        ReplayMessage(rename_root(m.topic, root), m.key, m.value, m.headers, m.event_ms)
        for m in original
    ]
    say(f"starting a scorer and {len(partners)} gateway(s) on topics {root}.*…")
    with (
        _deleting_topics(kafka_python_config(run), root),
        running_pipeline(run, make_keys, workdir / "logs") as pipeline,
    ):
        scores, dead, live = _replay_and_collect(
            run,
            pipeline.partners,
            messages,
            speed=speed,
            say=say,
            progress=progress,
            timeout_per_transaction=timeout_per_transaction,
        )
    original_root = _root_of(header, original)
    restored = [replace(m, topic=rename_root(m.topic, original_root)) for m in scores]
    return PipelineRun(client_artifact.version, restored, dead, live)


def _fresh_pipeline(
    settings: Settings, partners: tuple[str, ...], model_dir: Path, workdir: Path
) -> Settings:
    """The settings of a run's own pipeline: topics and groups under a fresh root."""
    root = f"verify-{uuid.uuid4().hex[:10]}"
    return settings.model_copy(
        update={
            "topic_root": root,
            "app_id": root,
            "partners": partners,
            # One partition: the gateway handles the live transactions exactly in their order.
            "topic_partitions": 1,
            "data_dir": workdir / "data",
            "model_dir": model_dir,
        }
    )


def _replay_and_collect(
    run: Settings,
    gateways: Iterable[str],
    messages: Sequence[ReplayMessage],
    *,
    speed: float | None,
    say: Callable[[str], None],
    progress: Callable[[str], None],
    timeout_per_transaction: float,
) -> tuple[list[RecordedMessage], int, int]:
    """Send the warm-up, wait until the gateways processed it, send the live part, and read a
    score or a dead letter for each live transaction: (scores, dead letters, live count)."""
    client = kafka_python_config(run)
    names = TopicNames(run.topic_root)
    partners = run.partners
    warm, live = split_warm_up(messages, labels_first=True)
    expected = sum(1 for m in live if m.is_transaction)
    warm_dead: dict[str, int] = {}

    def wait_warm() -> None:
        wait_for_gateways(
            client,
            run.app_id,
            names,
            gateways,
            only_running=False,
            timeout=300.0,
            progress=lambda p, lag: progress(f"{p}: {lag} warm-up records to go"),
        )
        # Dead letters of the warm-up (malformed history) are not verdicts of live events.
        warm_dead.update(_ends(client, [names.deadletter(p) for p in partners]))

    say(f"replaying {len(warm)} warm-up and {len(live)} live messages…")
    send_replay(
        client,
        warm,
        live,
        speed=speed,
        max_request_size=run.max_message_bytes,
        after_warm_up=wait_warm,
    )
    scores, dead = _collect(
        client,
        names,
        partners,
        expected,
        timeout=60 + timeout_per_transaction * expected,
        progress=progress,
        skip_dead=warm_dead,
    )
    return scores, dead, expected


def _root_of(header: RecordingHeader, messages: Sequence[ReplayMessage]) -> str | None:
    roots = {t.rsplit(".", 3)[0] for t in header.topics if t.count(".") >= 3}
    roots |= {m.topic.rsplit(".", 3)[0] for m in messages if m.topic.count(".") >= 3}
    return roots.pop() if len(roots) == 1 else None


def _collect(
    client: dict[str, Any],
    names: TopicNames,
    partners: Sequence[str],
    expected: int,
    *,
    timeout: float,
    progress: Callable[[str], None],
    skip_dead: Mapping[str, int],
) -> tuple[list[RecordedMessage], int]:
    """Read scores and partner dead letters (from offset ``skip_dead[topic]``) until every live
    transaction has one of them."""

    scores: list[RecordedMessage] = []
    seen: set[tuple[str, int]] = set()
    dead = 0
    # The scorer's dead letters count too (a request it refused never gets a verdict): the run's
    # topics are its own, so every one of them is this run's.
    topics = [names.scores(p) for p in partners] + [
        names.deadletter(scope) for scope in [*partners, SCORING_SCOPE]
    ]
    for record in consume_records(client, topics, expected=10**9, timeout=timeout):
        if record.topic.endswith(".deadletter.v1"):
            dead += record.offset >= skip_dead.get(record.topic, 0)
        else:
            message = recorded_message(record)
            key = next(iter(outcomes_of([message])), None)
            if key is not None and key not in seen:
                seen.add(key)
                scores.append(message)
        progress(f"{len(seen)} scored, {dead} dead-lettered, of {expected}")
        if len(seen) + dead >= expected:
            return scores, dead
    msg = (
        f"only {len(seen)} scores and {dead} dead letters arrived for {expected} live "
        f"transactions within {timeout:.0f} s"
    )
    raise VerifyError(msg)


@contextmanager
def _deleting_topics(client: dict[str, Any], root: str) -> Iterator[None]:
    """Delete every topic of the run (``<root>.*``, and the workers' ``<root>-*``) at the end:
    they hold plaintext transactions and scores, and a shared broker should not keep them."""
    try:
        yield
    finally:
        try:
            admin = admin_client(client)
            try:
                mine = [t for t in admin.list_topics() if t.startswith((f"{root}.", f"{root}-"))]
                if mine:
                    admin.delete_topics(mine)
            finally:
                admin.close()
        except (KafkaError, FraudStreamError):
            pass  # best effort: the run's result does not depend on it


def _ends(client: dict[str, Any], topics: Sequence[str]) -> dict[str, int]:
    """The end offset of each (single-partition) topic."""
    consumer = assigned_consumer(client, topics)
    try:
        ends = consumer.end_offsets(list(consumer.assignment()))
        return {tp.topic: offset for tp, offset in ends.items()}
    finally:
        consumer.close()


@contextmanager
def verify_workspace(keep: Path | None = None) -> Iterator[Path]:
    """A working folder for verify runs (kept when ``keep`` is given)."""
    with ExitStack() as stack:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            yield keep
        else:
            yield Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fraudstream-")))
