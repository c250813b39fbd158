"""Verifying verdicts: replay a recorded input through a fresh pipeline and compare its scores.

Each run gets a pipeline of its own (one scorer and one gateway per partner of the input) on
topics under a fresh root, so the feature state starts empty every time: a recording replayed
twice gives the same features, hence the same verdicts. The input's warm-up (history with
``fraud.backfill`` and every label) is sent first and waited for, then the live transactions.

Verdicts are compared by (partner, transaction id): alerts must match exactly, scores within a
tolerance; a verdict on one side only is a difference too.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams.core.errors import FraudStreamError
from streams.core.settings import Settings
from streams.core.topics import SCORING_SCOPE, TopicNames
from streams.qa.recording_file import (
    RecordedMessage,
    RecordingHeader,
    read_recording,
    write_recording,
)
from streams.qa.replay import (
    ReplayMessage,
    load_recording,
    rename_root,
    send_replay,
    split_warm_up,
    wait_for_gateways,
)

__all__ = [
    "Comparison",
    "Difference",
    "PipelineRun",
    "Verdict",
    "VerifyError",
    "compare_verdicts",
    "input_messages",
    "read_verdicts",
    "run_recording",
    "verdicts_of",
]


class VerifyError(FraudStreamError):
    """A verification could not run to its end (not: verdicts differ)."""


@dataclass(frozen=True)
class Verdict:
    """What a partner learned about one transaction."""

    partner: str
    transaction_id: int
    score: float
    alert: bool
    threshold: float
    model_version: str

    @property
    def key(self) -> tuple[str, int]:
        """(partner, transaction id)."""
        return (self.partner, self.transaction_id)


def verdicts_of(messages: Iterable[RecordedMessage]) -> dict[tuple[str, int], Verdict]:
    """The verdicts on the scores topics among ``messages`` (other topics are ignored; a
    transaction scored twice, as at-least-once delivery allows, keeps its first verdict)."""
    found: dict[tuple[str, int], Verdict] = {}
    for message in messages:
        parts = message.topic.split(".")
        if len(parts) < 4 or parts[-2] != "scores" or message.value is None:
            continue
        try:
            score = orjson.loads(message.value)
            verdict = Verdict(
                partner=parts[-3],
                transaction_id=int(score["transaction_id"]),
                score=float(score["score"]),
                alert=bool(score["alert"]),
                threshold=float(score["threshold"]),
                model_version=str(score["model_version"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            msg = (
                f"{message.topic}:{message.partition}@{message.offset} is not a score record "
                f"({type(exc).__name__}: {exc})"
            )
            raise VerifyError(msg) from exc
        found.setdefault(verdict.key, verdict)
    return found


def read_verdicts(path: Path) -> dict[tuple[str, int], Verdict]:
    """The verdicts of a recording of scores topics (``fraudstream record``)."""
    verdicts = verdicts_of(m for m in read_recording(path) if isinstance(m, RecordedMessage))
    if not verdicts:
        msg = f"{path} holds no scores (record <root>.<partner>.scores.v1 topics)"
        raise VerifyError(msg)
    return verdicts


@dataclass(frozen=True)
class Difference:
    """One verdict that is not as expected."""

    kind: str  # "missing", "unexpected", "alert gained", "alert lost", "score changed"
    expected: Verdict | None
    actual: Verdict | None

    @property
    def key(self) -> tuple[str, int]:
        """(partner, transaction id)."""
        verdict = self.expected or self.actual
        assert verdict is not None  # noqa: S101  (one side always exists)
        return verdict.key


@dataclass
class Comparison:
    """Expected verdicts against actual ones."""

    tolerance: float
    compared: int = 0
    same: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No difference at all."""
        return not self.differences

    def counts(self) -> Counter[str]:
        """How many differences of each kind."""
        return Counter(d.kind for d in self.differences)

    def summary(self) -> str:
        """One line: what was compared and what differs."""
        counts = self.counts()
        kinds = ("alert gained", "alert lost", "score changed", "missing", "unexpected")
        parts = ", ".join(f"{counts[k]} {k}" for k in kinds)
        return (
            f"{self.compared} verdicts compared: {self.same} same, {len(self.differences)} "
            f"different ({parts}; score tolerance {self.tolerance:g})"
        )


def compare_verdicts(
    expected: Mapping[tuple[str, int], Verdict],
    actual: Mapping[tuple[str, int], Verdict],
    *,
    tolerance: float,
) -> Comparison:
    """Alerts must match exactly, scores within ``tolerance``; every key on one side only is a
    difference. Differences are sorted by partner and transaction."""
    comparison = Comparison(tolerance=tolerance)
    for key in sorted(set(expected) | set(actual)):
        comparison.compared += 1
        want, got = expected.get(key), actual.get(key)
        kind = _difference(want, got, tolerance)
        if kind is None:
            comparison.same += 1
        else:
            comparison.differences.append(Difference(kind, want, got))
    return comparison


def _difference(want: Verdict | None, got: Verdict | None, tolerance: float) -> str | None:
    if want is None:
        return "unexpected"
    if got is None:
        return "missing"
    if want.alert != got.alert:
        return "alert gained" if got.alert else "alert lost"
    if abs(want.score - got.score) > tolerance:
        return "score changed"
    return None


# --- running a recording through a pipeline -------------------------------------------------
@dataclass
class PipelineRun:
    """The output of one run of a recording through a fresh pipeline."""

    model_version: str
    scores: list[RecordedMessage]
    dead_letters: int
    live: int

    @property
    def verdicts(self) -> dict[tuple[str, int], Verdict]:
        """The run's verdicts."""
        return verdicts_of(self.scores)


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
    from streams.qa.testing import temporary_broker  # noqa: PLC0415

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
    from models.fhe.artifacts import ClientArtifact  # noqa: PLC0415
    from models.fhe.client.keys import PartnerKeys  # noqa: PLC0415
    from streams.broker.admin import ensure_topics  # noqa: PLC0415
    from streams.core.topics import topic_specs  # noqa: PLC0415
    from streams.qa.supervisor import running_pipeline  # noqa: PLC0415
    from streams.runtime.connection import kafka_python_config  # noqa: PLC0415

    header, everything = load_recording(recording)
    original, ignored = input_messages(everything)
    if ignored:
        # Replaying recorded scores, requests or verdicts would mix old outputs into this run's.
        say(f"not replaying {', '.join(ignored)}: only transactions and labels are inputs")
    partners = input_partners(original)
    original_root = _root_of(header, original)
    root = f"verify-{uuid.uuid4().hex[:10]}"
    messages = [
        ReplayMessage(rename_root(m.topic, root), m.key, m.value, m.headers, m.event_ms)
        for m in original
    ]
    client_artifact = ClientArtifact.load(model_dir)
    run = settings.model_copy(
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
    names = TopicNames(root)
    client = kafka_python_config(run)
    ensure_topics(
        client,
        topic_specs(
            names,
            partners,
            partitions=run.topic_partitions,
            max_message_bytes=run.max_message_bytes,
            app_id=root,
        ),
        replication=run.topic_replication,
    )

    def make_keys() -> dict[str, Path]:
        say(f"model {client_artifact.version}: new FHE keys for {', '.join(partners)}…")
        return {
            p: PartnerKeys.generate(client_artifact, workdir / "keys" / p, p).key_dir
            for p in partners
        }

    warm, live = split_warm_up(messages, labels_first=True)
    expected = sum(1 for m in live if m.is_transaction)
    say(f"starting a scorer and {len(partners)} gateway(s) on topics {root}.*…")
    with (
        _deleting_topics(client, root),
        running_pipeline(run, make_keys, workdir / "logs") as pipeline,
    ):
        warm_dead: dict[str, int] = {}

        def wait_warm() -> None:
            wait_for_gateways(
                client,
                root,
                names,
                pipeline.partners,
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
    restored = [
        RecordedMessage(
            rename_root(m.topic, original_root),
            m.partition,
            m.offset,
            m.timestamp_ms,
            m.key,
            m.value,
            m.headers,
        )
        for m in scores
    ]
    return PipelineRun(client_artifact.version, restored, dead, expected)


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
    from streams.qa.recorder import recorded_message  # noqa: PLC0415
    from streams.qa.testing import consume_records  # noqa: PLC0415

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
            key = next(iter(verdicts_of([message])), None)
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
        from kafka.errors import KafkaError  # noqa: PLC0415

        from streams.broker.admin import admin_client  # noqa: PLC0415

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
    from streams.broker.admin import assigned_consumer  # noqa: PLC0415

    consumer = assigned_consumer(client, topics)
    try:
        ends = consumer.end_offsets(list(consumer.assignment()))
        return {tp.topic: offset for tp, offset in ends.items()}
    finally:
        consumer.close()


def save_scores(path: Path, run: PipelineRun, source: str) -> RecordingHeader:
    """Write the scores of ``run`` as a recording (golden verdicts for a later verify)."""
    topics = tuple(sorted({m.topic for m in run.scores}))
    header = RecordingHeader(
        source=source, topics=topics, selection=f"scores of model {run.model_version}"
    )
    return write_recording(path, header, run.scores)


@contextmanager
def verify_workspace(keep: Path | None = None) -> Iterator[Path]:
    """A working folder for verify runs (kept when ``keep`` is given)."""
    with ExitStack() as stack:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            yield keep
        else:
            yield Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fraudstream-")))
