"""Replay planning and verdict comparison, without a broker: order, warm-up, renaming, diffs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

from streams.core.errors import ReplayError, VerifyError
from streams.core.headers import BACKFILL_HEADER, EVENT_TIME_HEADER
from streams.core.outputs import Score, ScoreTimings
from streams.core.topics import TopicNames
from streams.qa.recorder import RecordPlan, expand_topic
from streams.qa.recording_file import RecordedMessage, RecordingHeader, write_recording
from streams.qa.replay_plan import (
    ReplayMessage,
    load_recording,
    plan_data_slice,
    rename_root,
    split_warm_up,
)
from streams.qa.score_comparison import Outcome, compare_outcomes, outcomes_of, read_outcomes
from streams.qa.verify import input_messages

TX = "fraud.alpha.transactions.v1"
LABELS = "fraud.alpha.labels.v1"


def recorded(
    topic: str, partition: int, offset: int, stamp: int | None, *, event: int | None = None
) -> RecordedMessage:
    headers = () if event is None else ((EVENT_TIME_HEADER, str(event).encode()),)
    value = f"{partition}-{offset}".encode()
    return RecordedMessage(topic, partition, offset, stamp, str(partition).encode(), value, headers)


def test_partitions_are_merged_by_event_time_and_each_keeps_its_order(tmp_path: Path) -> None:
    path = tmp_path / "r.gz"
    messages = [
        recorded(TX, 0, 0, 100),
        recorded(TX, 0, 1, 400),
        recorded(TX, 0, 2, 300),  # out of time order: stays after offset 1 all the same
        recorded(TX, 1, 0, 200),
        recorded(TX, 1, 1, 350),
        recorded(LABELS, 0, 0, 999_999, event=50),  # the event-time header wins
    ]
    write_recording(path, RecordingHeader("test", (TX, LABELS)), messages)
    _, sent = load_recording(path)
    assert [(m.topic, m.value) for m in sent] == [
        (LABELS, b"0-0"),
        (TX, b"0-0"),
        (TX, b"1-0"),
        (TX, b"1-1"),
        (TX, b"0-1"),
        (TX, b"0-2"),
    ]
    assert [m.event_ms for m in sent] == [50, 100, 200, 350, 400, 300]


def test_per_partition_order_survives_any_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "r.gz"
    stamps = [5, 1, 9, 3, 7, 2]
    messages = [
        RecordedMessage(TX, p, o, stamps[o] + p, str(p).encode(), f"{p}-{o}".encode())
        for p in (0, 1)
        for o in range(len(stamps))
    ]
    write_recording(path, RecordingHeader("test", (TX,)), messages)
    _, sent = load_recording(path)
    for partition in (b"0", b"1"):
        values = [m.value for m in sent if m.key == partition]
        assert values == [f"{partition.decode()}-{o}".encode() for o in range(len(stamps))]


def test_topics_are_renamed_to_the_target_root(tmp_path: Path) -> None:
    assert rename_root("fraud.alpha.transactions.v1", "qa") == "qa.alpha.transactions.v1"
    assert rename_root("fraud.alpha.transactions.v1", None) == "fraud.alpha.transactions.v1"
    assert rename_root("some-other-topic", "qa") == "some-other-topic"
    path = tmp_path / "r.gz"
    write_recording(path, RecordingHeader("test", (TX,)), [recorded(TX, 0, 0, 1)])
    _, sent = load_recording(path, root="qa")
    assert [m.topic for m in sent] == ["qa.alpha.transactions.v1"]


def message(topic: str, at: int, *, backfill: bool = False) -> ReplayMessage:
    headers = ((BACKFILL_HEADER, b"1"),) if backfill else ()
    return ReplayMessage(topic, b"k", str(at).encode(), headers, at)


def test_warm_up_is_the_leading_history_and_labels() -> None:
    messages = [
        message(TX, 1, backfill=True),
        message(LABELS, 2),
        message(TX, 3, backfill=True),
        message(TX, 4),
        message(LABELS, 5),
        message(TX, 6),
    ]
    warm, live = split_warm_up(messages)
    assert [m.event_ms for m in warm] == [1, 2, 3]
    assert [m.event_ms for m in live] == [4, 5, 6]
    warm, live = split_warm_up(messages, labels_first=True)
    assert [m.event_ms for m in warm] == [1, 2, 3, 5]
    assert [m.event_ms for m in live] == [4, 6]


def test_short_topic_names_expand_under_the_root() -> None:
    names = TopicNames("qa")
    assert expand_topic(names, "alpha.scores") == "qa.alpha.scores.v1"
    assert expand_topic(names, "fraud.alpha.scores.v1") == "fraud.alpha.scores.v1"
    assert expand_topic(names, "orders.v1") == "orders.v1"  # not a PARTNER.ENTITY shorthand
    plan = RecordPlan(topics=("t",), from_offset=3, count=10, follow=True, idle_timeout=5)
    assert plan.describe() == "from offset 3, until 10 messages or 5 s without a new message"


def test_a_data_slice_warms_first_then_replays_the_days_in_time_order() -> None:
    names = TopicNames("fraud")
    data = plan_data_slice(
        names, ("alpha", "bravo"), date(2018, 8, 8), date(2018, 8, 8), only=["alpha"],
        fraud_cards=1, legit_cards=2,
    )  # fmt: skip
    assert {m.partner for m in data.messages} == {"alpha"}
    live = data.live
    assert len(live) == len(data.truth) > 0
    assert sum(fraud for _, fraud in data.truth.values()) >= 1
    times = [m.event_ms or 0 for m in data.messages]
    assert times == sorted(times)
    first_live = min(m.event_ms or 0 for m in live)
    assert all((m.event_ms or 0) < first_live for m in data.history)
    for label in data.labels:  # a label's event time: 7 days after its transaction
        tx_time = orjson.loads(label.value or b"")["timestamp"]
        assert label.event_ms is not None
        assert label.event_ms - _ms(tx_time) == 7 * 86_400_000


def _ms(iso: str) -> int:
    from datetime import datetime  # noqa: PLC0415

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_bad_slices_are_refused_with_the_reason() -> None:
    names = TopicNames("fraud")
    with pytest.raises(ReplayError, match=r"ends .* before it starts"):
        plan_data_slice(names, ("alpha",), date(2018, 8, 8), date(2018, 8, 7))
    with pytest.raises(ReplayError, match="partner zulu is not one of alpha, bravo"):
        plan_data_slice(
            names, ("alpha", "bravo"), date(2018, 8, 8), date(2018, 8, 8), only=["zulu"]
        )
    with pytest.raises(ReplayError, match="no transaction of alpha between"):
        plan_data_slice(names, ("alpha",), date(2019, 1, 1), date(2019, 1, 2), history=False)


def verdict(tx: int, score: float, *, alert: bool = False) -> Outcome:
    return Outcome("alpha", tx, score, alert, 0.5, "m1")


def test_verdicts_are_compared_alerts_exactly_scores_within_tolerance() -> None:
    expected = {v.key: v for v in [verdict(1, 0.2), verdict(2, 0.6, alert=True), verdict(3, 0.1),
                                   verdict(4, 0.3), verdict(5, 0.7, alert=True)]}  # fmt: skip
    actual = {v.key: v for v in [verdict(1, 0.2 + 1e-12), verdict(2, 0.4), verdict(3, 0.55,
              alert=True), verdict(4, 0.31), verdict(6, 0.1)]}  # fmt: skip
    comparison = compare_outcomes(expected, actual, tolerance=1e-9)
    kinds = {d.key[1]: d.kind for d in comparison.differences}
    assert kinds == {
        2: "alert lost",
        3: "alert gained",
        4: "score changed",
        5: "missing",
        6: "unexpected",
    }
    assert (comparison.compared, comparison.same, comparison.ok) == (6, 1, False)
    assert comparison.summary() == (
        "6 verdicts compared: 1 same, 5 different (1 alert gained, 1 alert lost, "
        "1 score changed, 1 missing, 1 unexpected; score tolerance 1e-09)"
    )
    assert compare_outcomes(expected, expected, tolerance=0).ok


def score_message(tx: int, score: float, offset: int) -> RecordedMessage:
    timings = ScoreTimings(
        features_ms=1, encrypt_ms=1, queued_ms=1, fhe_ms=1, decrypt_ms=1, transport_ms=1,
        end_to_end_ms=5,
    )  # fmt: skip
    record = Score(
        transaction_id=tx, timestamp=datetime(2018, 8, 8, tzinfo=UTC), card_id=1,
        fields={"terminal_id": 2},
        amount=10.0, score=score, threshold=0.5, alert=False, model_version="m1", key_id="k",
        request_id="r", features=(0.0,) * 15, timings=timings, scored_at_ms=1.0,
    )  # fmt: skip
    return RecordedMessage("fraud.alpha.scores.v1", 0, offset, 1, b"r", record.to_bytes())


def test_a_duplicate_score_keeps_the_first_and_other_topics_are_ignored(tmp_path: Path) -> None:
    messages = [score_message(1, 0.2, 0), score_message(1, 0.9, 1), recorded(TX, 0, 0, 1)]
    assert outcomes_of(messages) == {("alpha", 1): verdict(1, 0.2)}
    path = tmp_path / "input.gz"
    write_recording(path, RecordingHeader("test", (TX,)), [recorded(TX, 0, 0, 1)])
    with pytest.raises(VerifyError, match="holds no scores"):
        read_outcomes(path)


def test_a_bad_score_record_is_named() -> None:
    bad = RecordedMessage("fraud.alpha.scores.v1", 1, 7, 1, b"r", b'{"score": 0.1}')
    with pytest.raises(VerifyError, match=r"fraud.alpha.scores.v1:1@7: not a Score record"):
        outcomes_of([bad])


def test_verify_replays_only_the_inputs_of_a_recording() -> None:
    messages = [
        message(TX, 1),
        message(LABELS, 2),
        message("fraud.alpha.scores.v1", 3),
        message("fraud.scoring.requests.v1", 4),
    ]
    inputs, ignored = input_messages(messages)
    assert [m.event_ms for m in inputs] == [1, 2]
    assert ignored == ["fraud.alpha.scores.v1", "fraud.scoring.requests.v1"]
