"""Labelled transactions read from a recording: the same frame and the same checks as a file,
with each problem at its line in the recording."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd
import pytest

from models.data.handbook import HandbookTransaction
from models.data.sources import DataError
from models.features.spec import handbook_spec
from streams.core.topics import TopicNames
from streams.qa.data_feed import label_record, transaction_record
from streams.qa.recorded_data import transaction_data_from_recording
from streams.qa.recording_file import RecordedMessage, RecordingHeader, write_recording

NAMES = TopicNames()
TOPICS = (NAMES.transactions("alpha"), NAMES.labels("alpha"), NAMES.scores("alpha"))


def tx(
    transaction_id: int, minute: int, card: int = 7, amount: float = 12.5
) -> HandbookTransaction:
    moment = datetime(2018, 8, 8, 10, minute, tzinfo=UTC)
    return HandbookTransaction(transaction_id, moment, card, 3, amount, is_fraud=False)


def as_message(topic: str, value: bytes | None, offset: int = 0) -> RecordedMessage:
    return RecordedMessage(topic, 0, offset, 1_533_722_400_000, b"7", value)


def transaction(t: HandbookTransaction, *, backfill: bool = False) -> RecordedMessage:
    record = transaction_record(NAMES, t, "alpha", backfill=backfill)
    return RecordedMessage(
        record.topic, 0, 0, None, record.key, record.value, tuple(record.headers)
    )


def label(t: HandbookTransaction) -> RecordedMessage:
    record = label_record(NAMES, t, "alpha")
    return RecordedMessage(
        record.topic, 0, 0, None, record.key, record.value, tuple(record.headers)
    )


def record(path: Path, *messages: RecordedMessage) -> Path:
    write_recording(path, RecordingHeader(source="test", topics=TOPICS), messages)
    return path


def test_a_recording_reads_to_the_canonical_frame(tmp_path: Path) -> None:
    """Transactions (backfill too) become the frame, label events label them 1, messages on
    other topics are ignored, out-of-order events are sorted with a note; rows are lines."""
    first, second, third = tx(10, 0, amount=1.25), tx(11, 5, card=8), tx(12, 2)
    path = record(
        tmp_path / "input.rec.gz",
        transaction(first, backfill=True),  # line 2
        transaction(second),  # line 3
        as_message(NAMES.scores("alpha"), b"not an event"),  # line 4
        transaction(third),  # line 5
        label(second),  # line 6
    )
    data = transaction_data_from_recording(path, handbook_spec())
    expected = pd.DataFrame(
        {
            "transaction_id": [10, 12, 11],
            "timestamp": pd.to_datetime(
                ["2018-08-08T10:00:00Z", "2018-08-08T10:02:00Z", "2018-08-08T10:05:00Z"], utc=True
            ),
            "card_id": [7, 7, 8],
            "amount": [1.25, 12.5, 12.5],
            "label": [0, 0, 1],
            "terminal_id": [3, 3, 3],
        }
    )
    pd.testing.assert_frame_equal(data.frame, expected)
    assert data.sources == (str(path),)
    assert [data.origin(i) for i in range(3)] == [f"{path} row {line}" for line in (2, 5, 3)]
    assert data.notes == (
        f"1 rows were out of time order: sorted by timestamp (first: {path} row 5)",
    )


def event(**fields: object) -> bytes:
    base: dict[str, object] = {
        "transaction_id": 20,
        "timestamp": "2018-08-08T10:00:00Z",
        "card_id": 7,
        "terminal_id": 3,
        "amount": 5.0,
        "partner_id": "alpha",
    }
    return orjson.dumps({**base, **fields})


def test_bad_events_are_named_by_their_line(tmp_path: Path) -> None:
    """Malformed events, wrong JSON types, bad values, a repeated id and a label for a
    transaction the recording lacks: each problem at its line and field, all at once."""
    topic, labels = NAMES.transactions("alpha"), NAMES.labels("alpha")
    path = record(
        tmp_path / "input.rec.gz",
        as_message(topic, event()),  # line 2: fine
        as_message(topic, b"{not json"),  # 3
        as_message(topic, None),  # 4
        as_message(topic, event(transaction_id=21, card_id="7", amount=-1)),  # 5
        as_message(topic, event(transaction_id=22, timestamp="08/08/2018")),  # 6
        as_message(topic, event(terminal_id=4)),  # 7: transaction 20 again
        as_message(labels, orjson.dumps({"transaction_id": 99})),  # 8
        as_message(labels, orjson.dumps({"transaction_id": "20"})),  # 9
    )
    with pytest.raises(DataError) as caught:
        transaction_data_from_recording(path, handbook_spec())
    expected = [
        (str(path), 3, None, "not valid JSON ("),
        (str(path), 4, None, "empty: a row is a JSON object"),
        (str(path), 5, "card_id", "a JSON string '7', not an integer"),
        (str(path), 5, "amount", "negative: an amount is 0 or more"),
        (
            str(path),
            6,
            "timestamp",
            "'08/08/2018' is not an ISO 8601 time (such as 2018-06-18T10:00:00Z)",
        ),
        (
            str(path),
            7,
            "transaction_id",
            "transaction id 20 is used twice: also at " + f"{path} row 2",
        ),
        (str(path), 8, "transaction_id", "transaction 99 is not among the transactions read"),
        (str(path), 9, "transaction_id", "a JSON string '20', not an integer"),
    ]
    problems = caught.value.problems
    assert [(p.file, p.row, p.column) for p in problems] == [e[:3] for e in expected]
    for problem, (*_, message) in zip(problems, expected, strict=True):
        assert problem.message.startswith(message)


def test_an_unreadable_recording_is_one_problem(tmp_path: Path) -> None:
    """A file that is not a recording is named, with the reason, not a traceback."""
    path = tmp_path / "input.rec.gz"
    path.write_bytes(b"not gzip")
    with pytest.raises(DataError) as caught:
        transaction_data_from_recording(path, handbook_spec())
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column) == (str(path), None, None)
    assert problem.message.startswith("unreadable or truncated after line 0")


def test_a_recording_without_transactions_is_an_error(tmp_path: Path) -> None:
    """Labels alone are no transaction data."""
    path = record(tmp_path / "labels.rec.gz", label(tx(1, 0)))
    with pytest.raises(DataError, match="no transaction events"):
        transaction_data_from_recording(path, handbook_spec())
