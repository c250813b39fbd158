"""Recordings to and from kcat's -J JSON lines, and a recording shown for people."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from streams.cli.recording import recording
from streams.core.errors import RecordingError
from streams.qa.kcat_format import from_kcat, readable, to_kcat
from streams.qa.recording_file import RecordedMessage, RecordingHeader, write_recording

#: What `kcat -C -J -e` prints (with its informational lines), headers and a null key included.
KCAT = (
    b"% Reached end of topic fraud.alpha.scores.v1 [0] at offset 2\n"
    b'{"topic":"fraud.alpha.scores.v1","partition":0,"offset":0,"tstype":"create",'
    b'"ts":1733220000000,"broker":1,"headers":["fraud.request_id","r-1"],"key":"596",'
    b'"payload":"{\\"score\\":0.91}"}\n'
    b'{"topic":"fraud.alpha.scores.v1","partition":0,"offset":1,"tstype":"create",'
    b'"ts":1733220000500,"broker":1,"key":null,"payload":"plain text"}\n'
    b"\n"
)


def test_kcat_lines_read_as_messages() -> None:
    first, second = from_kcat(KCAT.splitlines(keepends=True))
    assert first == RecordedMessage(
        "fraud.alpha.scores.v1", 0, 0, 1733220000000, b"596", b'{"score":0.91}',
        (("fraud.request_id", b"r-1"),),
    )  # fmt: skip
    assert (second.key, second.value, second.headers) == (None, b"plain text", ())


def test_text_messages_go_to_kcat_and_back_unchanged() -> None:
    messages = list(from_kcat(KCAT.splitlines()))
    again = list(from_kcat(to_kcat(m) for m in messages))
    assert again == messages
    line = orjson.loads(to_kcat(messages[0]))
    assert line["headers"] == ["fraud.request_id", "r-1"]
    assert line["tstype"] == "create"


def test_a_ciphertext_is_refused_with_where_it_is() -> None:
    verdict = RecordedMessage("fraud.scoring.verdicts.v1", 2, 40, 1, b"r-1", b"\xff\x00\x81")
    with pytest.raises(RecordingError, match=r"verdicts\.v1:2@40: its value is binary"):
        to_kcat(verdict)


def test_a_line_that_is_not_kcat_is_named() -> None:
    with pytest.raises(RecordingError, match="capture, line 2: not a kcat -J message"):
        list(from_kcat([KCAT.splitlines()[1], b'{"topic": "t"}'], source="capture"))


def test_show_decodes_json_values_and_sizes_binary_ones() -> None:
    shown = readable(
        RecordedMessage("t", 0, 1, None, b"596", b'{"amount": 5.0}', (("h", b"\x00\xff"),))
    )
    assert shown["key"] == 596
    assert shown["value"] == {"amount": 5.0}
    assert shown["headers"] == {"h": "<2 bytes, binary>"}


def test_import_then_show_and_export_round_trip(tmp_path: Path) -> None:
    """`recording import` makes a recording of a kcat capture; `show` prints its messages
    decoded; `export` gives kcat lines that import back to the same messages."""
    capture = tmp_path / "capture.jsonl"
    capture.write_bytes(KCAT)
    made = tmp_path / "scores.rec.gz"
    runner = CliRunner()
    imported = runner.invoke(recording, ["import", str(capture), str(made)])
    assert imported.exit_code == 0, imported.output
    assert "2 messages of fraud.alpha.scores.v1" in imported.output
    shown = runner.invoke(recording, ["show", str(made), "--limit", "1"])
    assert shown.exit_code == 0, shown.output
    assert '"value":{"score":0.91}' in shown.output
    exported = tmp_path / "again.jsonl"
    assert runner.invoke(recording, ["export", str(made), str(exported)]).exit_code == 0
    assert list(from_kcat(exported.read_bytes().splitlines())) == list(from_kcat(KCAT.splitlines()))
    again = runner.invoke(recording, ["import", str(capture), str(made)])
    assert again.exit_code == 2
    assert "exists" in again.output


def test_export_of_a_recording_with_ciphertexts_stops_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.rec.gz"
    write_recording(
        path,
        RecordingHeader("test", ("fraud.scoring.verdicts.v1",)),
        [RecordedMessage("fraud.scoring.verdicts.v1", 0, 0, 1, b"r", b"\xff\xfe")],
    )
    result = CliRunner().invoke(recording, ["export", str(path), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert "is binary" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdicts.rec.gz"]  # nothing half-written
