"""The recording format: lossless round trips, appends, and bad files named by their line."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.qa.recording_file import (
    RecordedMessage,
    RecordingError,
    RecordingHeader,
    append_messages,
    read_recording,
    write_recording,
)

HEADER = RecordingHeader(source="127.0.0.1:9092", topics=("fraud.alpha.transactions.v1",))


def message(offset: int, value: bytes | None = b'{"amount": 1.5}') -> RecordedMessage:
    return RecordedMessage(
        topic="fraud.alpha.transactions.v1",
        partition=offset % 2,
        offset=offset,
        timestamp_ms=1_533_686_400_000 + offset,
        key=str(offset).encode(),
        value=value,
        headers=(("fraud.backfill", b"1"), ("bin", b"\xff\x00")),
    )


def test_round_trip_keeps_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    sent = [message(0), message(1, None), message(2, b"\x00\xff not utf-8 \xc3"), message(3, b"")]
    written = write_recording(path, HEADER, sent)
    header, *got = read_recording(path)
    assert header == written
    assert (written.source, written.topics, written.messages) == (HEADER.source, HEADER.topics, 4)
    assert written.time_range == (1_533_686_400_000, 1_533_686_400_003)
    assert got == sent


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"

    def broken() -> Iterator[RecordedMessage]:
        yield message(0)
        msg = "the broker went away"
        raise RuntimeError(msg)

    with pytest.raises(RuntimeError):
        write_recording(path, HEADER, broken())
    assert list(tmp_path.iterdir()) == []


def test_appending_adds_to_the_same_recording(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    write_recording(path, HEADER, [message(0)])
    assert append_messages(path, [message(1), message(2)]) == 2
    _, *got = read_recording(path)
    assert [m.offset for m in got] == [0, 1, 2]  # type: ignore[union-attr]


def raw_recording(path: Path, lines: list[bytes]) -> None:
    with gzip.open(path, "wb") as handle:
        handle.write(b"".join(lines))


GOOD_HEADER = orjson.dumps(HEADER.to_json()) + b"\n"
GOOD_LINE = orjson.dumps(message(0).to_json()) + b"\n"


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        ([GOOD_HEADER, GOOD_LINE, GOOD_LINE[:40]], "line 3 is truncated"),
        ([GOOD_HEADER.replace(b'"recording":1', b'"recording":9'), GOOD_LINE], "line 1"),
        (
            [GOOD_HEADER, GOOD_LINE.replace(b"fraud.alpha.transactions.v1", b"fraud.zulu.x.v1")],
            "line 2",
        ),
        ([GOOD_HEADER, GOOD_LINE.replace(b'"value":"', b'"value":"!!')], "corrupted value"),
        ([GOOD_HEADER, b"{not json\n"], "line 2 is not a valid recording line"),
        ([b"[1, 2]\n", GOOD_LINE], "line 1 .*a JSON object was expected, not list"),
    ],
)
def test_bad_recordings_name_the_line(tmp_path: Path, lines: list[bytes], needle: str) -> None:
    path = tmp_path / "bad.jsonl.gz"
    raw_recording(path, lines)
    with pytest.raises(RecordingError, match=needle):
        list(read_recording(path))


def test_unknown_version_and_wrong_topic_say_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    raw_recording(path, [GOOD_HEADER.replace(b'"recording":1', b'"recording":9')])
    with pytest.raises(RecordingError, match="version 9 is not supported"):
        list(read_recording(path))
    raw_recording(path, [GOOD_HEADER, GOOD_LINE.replace(b"alpha.transactions", b"alpha.other")])
    with pytest.raises(RecordingError, match="not one of the recording's topics"):
        list(read_recording(path))


def test_a_cut_file_is_reported_not_read_half_way(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    write_recording(path, HEADER, [message(i) for i in range(200)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordingError, match="unreadable or truncated"):
        list(read_recording(path))
