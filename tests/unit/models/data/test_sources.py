"""Reading a fraud team's labelled transactions: formats, labels, time order, and every kind of
bad data named by file, row and column."""

from __future__ import annotations

import gzip
import itertools
import lzma
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.data.handbook import TRANSACTIONS_FILE, read_transactions
from models.data.sources import DataError, DataProblem, read_transactions_data
from models.errors import DatasetError
from models.features.spec import FeatureSpec, handbook_spec, parse_spec

HEADER = "tx_id,timestamp,card_id,amount,terminal_id,channel,risk,fraud"
ROWS = [
    "1,2018-06-18T10:00:00Z,7,12.5,3,web,0.5,0",
    "2,2018-06-18T11:00:00Z,8,99.99,4,pos,0.25,1",
    "3,2018-06-18T12:30:00Z,7,0,3,kiosk,1,0",
]
#: What ROWS read to, with the label files' defaults.
EXPECTED = pd.DataFrame(
    {
        "transaction_id": [1, 2, 3],
        "timestamp": pd.to_datetime(
            ["2018-06-18T10:00:00Z", "2018-06-18T11:00:00Z", "2018-06-18T12:30:00Z"], utc=True
        ),
        "card_id": [7, 8, 7],
        "amount": [12.5, 99.99, 0.0],
        "label": [0, 1, 0],
        "terminal_id": [3, 4, 3],
        "channel": pd.Series(["web", "pos", "kiosk"], dtype=object),
        "risk": [0.5, 0.25, 1.0],
    }
)


def make_spec(**overrides: Any) -> FeatureSpec:
    """A spec with an id, a category and a bounded number field; some columns renamed."""
    data: dict[str, Any] = {
        "spec_version": 1,
        "name": "test",
        "event": {
            "terminal_id": {"type": "id"},
            "channel": {"type": "category", "values": ["web", "pos"]},
            "risk": {"type": "number", "min": 0, "max": 1},
        },
        "columns": {"transaction_id": "tx_id", "label": "fraud"},
        "features": [{"kind": "field", "field": "amount"}],
    }
    data.update(overrides)
    return parse_spec(data)


SPEC = make_spec()


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def write(path: Path, content: str | bytes) -> Path:
    """Write text (compressed as the name says) or bytes as they are."""
    if isinstance(content, bytes):
        path.write_bytes(content)
        return path
    data = content.encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".xz"):
        data = lzma.compress(data)
    path.write_bytes(data)
    return path


def jsonl(*objects: object) -> str:
    return "".join(orjson.dumps(o).decode() + "\n" for o in objects)


def as_objects(rows: list[str], header: str = HEADER) -> list[dict[str, Any]]:
    """CSV rows as JSON objects with JSON types."""
    kinds = {"tx_id": int, "card_id": int, "terminal_id": int, "amount": float, "risk": float}
    kinds["fraud"] = int
    names = header.split(",")
    return [
        {name: kinds.get(name, str)(cell) for name, cell in zip(names, row.split(","), strict=True)}
        for row in rows
    ]


# --- reading good data ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tx.csv", "tx.CSV", "tx.csv.gz", "tx.csv.xz"])
def test_csv_files_read_to_the_canonical_frame(tmp_path: Path, name: str) -> None:
    """Plain and compressed CSV (any case of suffix) read to typed columns named by field."""
    data = read_transactions_data([write(tmp_path / name, csv_text(*ROWS))], SPEC)
    pd.testing.assert_frame_equal(data.frame, EXPECTED)
    assert data.sources == (str(tmp_path / name),)
    assert data.notes == ()
    assert isinstance(data.frame.index, pd.RangeIndex)


@pytest.mark.parametrize("name", ["tx.jsonl", "tx.ndjson", "tx.jsonl.gz", "tx.ndjson.xz"])
def test_json_lines_read_like_csv(tmp_path: Path, name: str) -> None:
    """One JSON object per line (blank lines allowed) reads to the same frame as the CSV."""
    text = jsonl(*as_objects(ROWS)).replace("\n", "\n\n", 1)
    data = read_transactions_data([write(tmp_path / name, text)], SPEC)
    pd.testing.assert_frame_equal(data.frame, EXPECTED)


def test_parquet_written_by_pandas_reads_with_both_readers(tmp_path: Path) -> None:
    """A Parquet file written by pandas reads back with pd.read_parquet (the locked pyarrow
    works with this pandas) and with the reader, typed columns and all."""
    table = pd.DataFrame(as_objects(ROWS))
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
    path = tmp_path / "tx.parquet"
    table.to_parquet(path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), table)
    pd.testing.assert_frame_equal(read_transactions_data([path], SPEC).frame, EXPECTED)


def test_parquet_with_text_columns_reads_like_csv(tmp_path: Path) -> None:
    """Parquet columns of strings are checked and converted like CSV cells."""
    path = tmp_path / "tx.parquet"
    pd.DataFrame([row.split(",") for row in ROWS], columns=HEADER.split(",")).to_parquet(path)
    pd.testing.assert_frame_equal(read_transactions_data([path], SPEC).frame, EXPECTED)


def test_several_files_of_several_kinds_are_concatenated(tmp_path: Path) -> None:
    """Files are read in turn and concatenated; origins name each row's file and row."""
    first = write(tmp_path / "a.csv", csv_text(ROWS[0]))
    second = write(tmp_path / "b.jsonl", jsonl(*as_objects(ROWS[1:])))
    data = read_transactions_data([first, second], SPEC)
    pd.testing.assert_frame_equal(data.frame, EXPECTED)
    assert [data.origin(i) for i in range(3)] == [
        f"{first} row 1",
        f"{second} row 1",
        f"{second} row 2",
    ]


def test_unmapped_columns_are_ignored_and_mapping_is_by_name(tmp_path: Path) -> None:
    """Columns may come in any order; extra columns are ignored."""
    header = "extra," + ",".join(reversed(HEADER.split(",")))
    rows = ["x," + ",".join(reversed(row.split(","))) for row in ROWS]
    path = write(tmp_path / "tx.csv", csv_text(*rows, header=header))
    pd.testing.assert_frame_equal(read_transactions_data([path], SPEC).frame, EXPECTED)


def test_text_values_are_read_leniently_where_unambiguous(tmp_path: Path) -> None:
    """Blanks around numbers, signs, leading zeros, exponents and true/false labels are read;
    unknown category values are kept as they are (bucketed later)."""
    rows = [
        " 001 ,2018-06-18T10:00:00Z,+7, 1.25e1 ,3,web,5E-1,false",
        "2,2018-06-18T11:00:00Z,8,99.99,4,pos,0.25,TRUE",
    ]
    data = read_transactions_data([write(tmp_path / "tx.csv", csv_text(*rows, ROWS[2]))], SPEC)
    pd.testing.assert_frame_equal(data.frame, EXPECTED)


def test_amounts_read_exactly_as_python_floats(tmp_path: Path) -> None:
    """Long decimals read to the same float as float() (fast path and text path alike)."""
    amounts = ["3.5999999999999996", "7.1499999999999995", "0.1", "123456789.123456789"]
    rows = [f"{n},2018-06-18T10:00:0{n}Z,7,{a},3,web,0.5,0" for n, a in enumerate(amounts)]
    plain = read_transactions_data([write(tmp_path / "a.csv", csv_text(*rows))], SPEC)
    spaced = [row.replace(f",{a},", f", {a},") for row, a in zip(rows, amounts, strict=True)]
    text = read_transactions_data([write(tmp_path / "b.csv", csv_text(*spaced))], SPEC)
    for data in (plain, text):
        assert data.frame["amount"].tolist() == [float(a) for a in amounts]


def test_rows_out_of_time_order_are_sorted_stably_with_a_note(tmp_path: Path) -> None:
    """Out-of-order rows are not an error: sorted by time (ties keep file order), noted."""
    rows = [ROWS[2], ROWS[0], ROWS[1], "4,2018-06-18T10:00:00Z,9,1,3,web,0.5,0"]
    path = write(tmp_path / "tx.csv", csv_text(*rows))
    data = read_transactions_data([path], SPEC)
    assert data.frame["transaction_id"].tolist() == [1, 4, 2, 3]
    assert data.notes == (
        f"3 rows were out of time order: sorted by timestamp (first: {path} row 2)",
    )
    assert [data.origin(i) for i in range(4)] == [f"{path} row {r}" for r in (2, 4, 3, 1)]


def test_blank_rows_are_skipped_with_a_note(tmp_path: Path) -> None:
    """Blank lines (and rows of empty cells) are skipped; the rows keep their numbers."""
    path = write(tmp_path / "tx.csv", csv_text(ROWS[0], "", ",,,,,,,", ROWS[1], "x,,,,,,,"))
    with pytest.raises(DataError) as caught:
        read_transactions_data([path], SPEC)
    assert {(p.row, p.column) for p in caught.value.problems} >= {(5, "tx_id"), (5, "timestamp")}
    good = write(tmp_path / "good.csv", csv_text(ROWS[0], "", ROWS[1], ROWS[2]))
    data = read_transactions_data([good], SPEC)
    assert len(data.frame) == 3
    assert data.notes == (f"1 blank rows of {good} were skipped",)


@pytest.mark.parametrize(
    ("timestamps", "cells", "expected"),
    [
        (  # ISO 8601: offsets converted, naive times local to the spec's zone, mixed freely
            {"timezone": "Europe/Paris"},
            [
                "2018-06-18T10:00:00Z",
                "2018-06-18 12:00:00",
                "2018-06-18T05:00:00-05:00",
                "2018-06-18",
            ],
            [
                "2018-06-18T10:00:00Z",
                "2018-06-18T10:00:00Z",
                "2018-06-18T10:00:00Z",
                "2018-06-17T22:00:00Z",
            ],
        ),
        (  # a strptime format, naive: local time
            {"timezone": "America/New_York", "format": "%d/%m/%Y %H:%M"},
            ["18/06/2018 06:00", "31/12/2018 23:59"],
            ["2018-06-18T10:00:00Z", "2019-01-01T04:59:00Z"],
        ),
        (  # a strptime format with an offset
            {"format": "%Y-%m-%d %H:%M:%S%z"},
            ["2018-06-18 12:00:00+0200", "2018-06-18 10:00:00+0000"],
            ["2018-06-18T10:00:00Z", "2018-06-18T10:00:00Z"],
        ),
        (
            {"format": "epoch_s"},
            ["1529316000", "1529316000.5"],
            ["2018-06-18T10:00:00Z", "2018-06-18T10:00:00.5Z"],
        ),
        (
            {"format": "epoch_ms"},
            ["1529316000000", "1529316000001"],
            ["2018-06-18T10:00:00Z", "2018-06-18T10:00:00.001Z"],
        ),
    ],
)
def test_timestamps_are_read_as_the_spec_says(
    tmp_path: Path, timestamps: dict[str, str], cells: list[str], expected: list[str]
) -> None:
    """Times are UTC: offsets converted, naive ones read in the spec's zone, epochs as numbers."""
    rows = [f"{n},{cell},7,1,3,web,0.5,0" for n, cell in enumerate(cells)]
    path = write(tmp_path / "tx.csv", csv_text(*rows))
    data = read_transactions_data([path], make_spec(timestamps=timestamps))
    got = data.frame.sort_values("transaction_id")["timestamp"].tolist()
    assert got == pd.to_datetime(expected, utc=True, format="ISO8601").tolist()


def test_local_times_in_a_daylight_saving_change_are_read_with_a_note(tmp_path: Path) -> None:
    """A repeated hour reads as its first (summer) time, a skipped one moves forward; noted."""
    cells = ["2018-10-28 02:30:00", "2018-03-25 02:30:00", "2018-06-18 12:00:00"]
    rows = [f"{n},{cell},7,1,3,web,0.5,0" for n, cell in enumerate(cells)]
    path = write(tmp_path / "tx.csv", csv_text(*rows))
    data = read_transactions_data([path], make_spec(timestamps={"timezone": "Europe/Paris"}))
    got = data.frame.set_index("transaction_id")["timestamp"]
    assert got[0] == pd.Timestamp("2018-10-28T00:30:00Z")
    assert got[1] == pd.Timestamp("2018-03-25T01:00:00Z")  # 03:00 CEST, the end of the gap
    assert any("2 local times" in note and "(first: row 1)" in note for note in data.notes)


# --- labels -------------------------------------------------------------------------------------
def unlabelled(*rows: str) -> str:
    header = HEADER.removesuffix(",fraud")
    return csv_text(*[row.rsplit(",", 1)[0] for row in rows], header=header)


def test_label_files_label_transactions_that_have_no_label_column(tmp_path: Path) -> None:
    """With label files, transactions need no label column: those listed are frauds (a list
    of ids without a label column), unlisted ones are 0."""
    tx = write(tmp_path / "tx.csv", unlabelled(*ROWS))
    frauds = write(tmp_path / "frauds.csv", "tx_id\n2\n")
    data = read_transactions_data([tx], SPEC, labels=[frauds])
    pd.testing.assert_frame_equal(data.frame, EXPECTED)
    assert data.sources == (str(tx), str(frauds))


def test_label_files_override_the_transaction_files_labels(tmp_path: Path) -> None:
    """A label file's 0/1 wins over the transaction file's label; labels repeated alike are
    fine; label files may be JSON lines and may be empty."""
    tx = write(tmp_path / "tx.csv", csv_text(*ROWS))
    labels = write(
        tmp_path / "labels.jsonl",
        jsonl({"tx_id": 2, "fraud": False}, {"tx_id": 3, "fraud": 1}, {"tx_id": 3, "fraud": "1"}),
    )
    empty = write(tmp_path / "none.csv", "tx_id,fraud\n")
    data = read_transactions_data([tx], SPEC, labels=[labels, empty])
    assert data.frame["label"].tolist() == [0, 0, 1]


def test_transaction_files_with_and_without_labels_mix_with_label_files(tmp_path: Path) -> None:
    """With label files, one transaction file may carry labels and another not."""
    labelled = write(tmp_path / "a.csv", csv_text(ROWS[0], ROWS[1]))
    bare = write(tmp_path / "b.csv", unlabelled(ROWS[2]))
    frauds = write(tmp_path / "frauds.jsonl", jsonl({"tx_id": 3}))
    data = read_transactions_data([labelled, bare], SPEC, labels=[frauds])
    assert data.frame["label"].tolist() == [0, 1, 1]
    assert data.frame["label"].dtype == np.int64


# --- bad data: every kind named by file, row and column -----------------------------------------
@dataclass
class Case:
    """Files to write (name → content), the reading, and the problems expected: (file name,
    row, column, a part of the message)."""

    files: dict[str, str | bytes]
    expected: list[tuple[str, int | None, str | None, str]]
    labels: tuple[str, ...] = ()
    spec: FeatureSpec = SPEC
    transactions: tuple[str, ...] = field(default_factory=tuple)


def row_with(**cells: str) -> str:
    """ROWS[0] with some cells replaced (by column name)."""
    values = dict(zip(HEADER.split(","), ROWS[0].split(","), strict=True))
    values.update(cells)
    return ",".join(values.values())


def bad_csv(**cells: str) -> dict[str, str | bytes]:
    return {"tx.csv": csv_text(row_with(**cells))}


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


BIG = "9" * 400
CASES: dict[str, Case] = {
    # the file as a whole
    "file missing": Case(
        {}, [("nope.csv", None, None, "no such file")], transactions=("nope.csv",)
    ),
    "a directory": Case(
        {"dir.csv/x": ""}, [("dir.csv", None, None, "not a file")], transactions=("dir.csv",)
    ),
    "unknown kind": Case(
        {"tx.xlsx": "x"}, [("tx.xlsx", None, None, "not a kind of file this reads: .csv")]
    ),
    "not gzip": Case(
        {"tx.csv.gz": b"plain text"}, [("tx.csv.gz", None, None, "corrupt or truncated .gz data")]
    ),
    "truncated gzip": Case(
        {"tx.csv.gz": truncated(gzip.compress(csv_text(*ROWS * 50).encode()))},
        [("tx.csv.gz", None, None, "corrupt or truncated .gz data")],
    ),
    "truncated xz": Case(
        {"tx.csv.xz": truncated(lzma.compress(csv_text(*ROWS).encode()))},
        [("tx.csv.xz", None, None, "corrupt or truncated .xz data")],
    ),
    "invalid parquet": Case(
        {"tx.parquet": b"PAR1 this is not parquet"},
        [("tx.parquet", None, None, "not a valid Parquet file")],
    ),
    "not utf-8": Case(
        {
            "tx.csv": csv_text(*ROWS).encode()
            + row_with(tx_id="4").encode().replace(b"web", b"\xffeb")
        },
        [("tx.csv", None, None, "not UTF-8 text")],
    ),
    "empty file": Case({"tx.csv": ""}, [("tx.csv", None, None, "empty file")]),
    "header only": Case({"tx.csv": csv_text()}, [("tx.csv", None, None, "no rows")]),
    "empty json lines": Case({"tx.jsonl": "\n\n"}, [("tx.jsonl", None, None, "no rows")]),
    "missing columns": Case(
        {
            "tx.csv": csv_text(
                "2018-06-18T10:00:00Z,7,3,web,0.5,0",
                header="timestamp,card_id,terminal_id,channel,risk,fraud",
            )
        },
        [
            ("tx.csv", None, "tx_id", "missing column (it holds the transaction_id field)"),
            ("tx.csv", None, "amount", "missing column (it holds the amount field)"),
        ],
    ),
    "missing label column": Case(
        {"tx.csv": unlabelled(*ROWS)},
        [("tx.csv", None, "fraud", "missing column (it holds the fraud label)")],
    ),
    "ragged rows": Case(
        {
            "tx.csv": csv_text(
                ROWS[0], ROWS[1] + ",extra", "3,2018-06-18T12:30:00Z,7,0", "4,x,7,0,3,web,0.5,0"
            )
        },
        [
            ("tx.csv", 2, None, "9 cells, but the header has 8"),
            ("tx.csv", 3, None, "4 cells, but the header has 8"),
            ("tx.csv", 4, "timestamp", "'x' is not an ISO 8601 time"),
        ],
    ),
    # values
    "unparsable timestamp": Case(
        bad_csv(timestamp="yesterday"),
        [("tx.csv", 1, "timestamp", "'yesterday' is not an ISO 8601 time")],
    ),
    "missing timestamp": Case(bad_csv(timestamp=""), [("tx.csv", 1, "timestamp", "missing value")]),
    "timestamp in another format": Case(
        bad_csv(timestamp="2018-06-18 10:00"),
        [
            (
                "tx.csv",
                1,
                "timestamp",
                "'2018-06-18 10:00' does not match the time format '%Y-%m-%d %H:%M:%S'",
            )
        ],
        spec=make_spec(timestamps={"format": "%Y-%m-%d %H:%M:%S"}),
    ),
    "epoch not a number": Case(
        bad_csv(timestamp="2018-06-18"),
        [("tx.csv", 1, "timestamp", "'2018-06-18' is not a number")],
        spec=make_spec(timestamps={"format": "epoch_s"}),
    ),
    "epoch out of range": Case(
        bad_csv(timestamp="1e12"),
        [("tx.csv", 1, "timestamp", "out of range")],
        spec=make_spec(timestamps={"format": "epoch_s"}),
    ),
    "decimal comma: a cell too many": Case(
        bad_csv(amount="12,5"), [("tx.csv", 1, None, "9 cells, but the header has 8")]
    ),
    "amount text": Case(bad_csv(amount="abc"), [("tx.csv", 1, "amount", "'abc' is not a number")]),
    "amount NaN": Case(bad_csv(amount="NaN"), [("tx.csv", 1, "amount", "NaN is not a number")]),
    "amount inf": Case(bad_csv(amount="inf"), [("tx.csv", 1, "amount", "infinite")]),
    "amount too large to be finite": Case(
        bad_csv(amount=BIG), [("tx.csv", 1, "amount", "infinite")]
    ),
    "amount negative": Case(
        bad_csv(amount="-0.01"), [("tx.csv", 1, "amount", "negative: an amount is 0 or more")]
    ),
    "amount missing": Case(bad_csv(amount=" "), [("tx.csv", 1, "amount", "missing value")]),
    "id with a fraction": Case(
        bad_csv(tx_id="12.5"), [("tx.csv", 1, "tx_id", "'12.5' is not an integer")]
    ),
    "id of letters": Case(
        bad_csv(card_id="abc"), [("tx.csv", 1, "card_id", "'abc' is not an integer")]
    ),
    "id negative": Case(
        bad_csv(terminal_id="-3"),
        [("tx.csv", 1, "terminal_id", "out of range: an id is an integer from 0 to 2^63-1")],
    ),
    "id above 2^63-1": Case(
        bad_csv(card_id="9223372036854775808"), [("tx.csv", 1, "card_id", "out of range")]
    ),
    "id huge": Case(bad_csv(card_id=BIG), [("tx.csv", 1, "card_id", "out of range")]),
    "id of a huge text, not echoed": Case(
        bad_csv(card_id="x" * 10_000),
        [
            (
                "tx.csv",
                1,
                "card_id",
                "'xxxxxxxxxxxxxxxxxxxx'... (10,000 characters) is not an integer",
            )
        ],
    ),
    "id missing": Case(bad_csv(card_id=""), [("tx.csv", 1, "card_id", "missing value")]),
    "label not 0/1": Case(
        bad_csv(fraud="2"), [("tx.csv", 1, "fraud", "'2' is not a label (0, 1, true or false)")]
    ),
    "label missing": Case(bad_csv(fraud=""), [("tx.csv", 1, "fraud", "missing value")]),
    "number above max": Case(
        bad_csv(risk="1.5"), [("tx.csv", 1, "risk", "above the maximum of 1")]
    ),
    "number below min": Case(
        bad_csv(risk="-0.1"), [("tx.csv", 1, "risk", "below the minimum of 0")]
    ),
    "number not finite": Case(bad_csv(risk="-inf"), [("tx.csv", 1, "risk", "infinite")]),
    "category empty": Case(
        bad_csv(channel="  "), [("tx.csv", 1, "channel", "empty: a category is 1 to 64 characters")]
    ),
    "category too long": Case(
        bad_csv(channel="x" * 65),
        [("tx.csv", 1, "channel", "65 characters: a category is at most 64")],
    ),
    # across rows and files
    "duplicated id": Case(
        {"tx.csv": csv_text(*ROWS, row_with(timestamp="2018-06-18T13:00:00Z"))},
        [("tx.csv", 4, "tx_id", "transaction id 1 is used twice: also at {dir}/tx.csv row 1")],
    ),
    "duplicated id across files": Case(
        {"a.csv": csv_text(*ROWS), "b.jsonl": jsonl(*as_objects([ROWS[1]]))},
        [("b.jsonl", 1, "tx_id", "transaction id 2 is used twice: also at {dir}/a.csv row 2")],
    ),
    "label for an unknown transaction": Case(
        {"tx.csv": unlabelled(*ROWS), "labels.csv": "tx_id,fraud\n2,1\n99,1\n"},
        [("labels.csv", 2, "tx_id", "transaction 99 is not among the transactions read")],
        labels=("labels.csv",),
    ),
    "labels that disagree": Case(
        {
            "tx.csv": unlabelled(*ROWS),
            "a.csv": "tx_id,fraud\n2,1\n",
            "b.jsonl": jsonl({"tx_id": 2, "fraud": 0}),
        },
        [("b.jsonl", 1, "fraud", "label 0 for transaction 2, but {dir}/a.csv row 1 says 1")],
        labels=("a.csv", "b.jsonl"),
    ),
    "bad label file": Case(
        {"tx.csv": unlabelled(*ROWS), "labels.csv": "id\n2\n", "more.csv": "tx_id,fraud\n1,yes\n"},
        [
            ("labels.csv", None, "tx_id", "missing column (it holds the transaction_id field)"),
            ("more.csv", 1, "fraud", "'yes' is not a label"),
        ],
        labels=("labels.csv", "more.csv"),
    ),
    # JSON lines
    "json line not JSON": Case(
        {"tx.jsonl": jsonl(*as_objects(ROWS[:1])) + '{"tx_id": 2,\n'},
        [("tx.jsonl", 2, None, "not valid JSON")],
    ),
    "json line not an object": Case(
        {"tx.jsonl": jsonl(*as_objects(ROWS[:1]), [1, 2], "x")},
        [
            ("tx.jsonl", 2, None, "a JSON array, not an object"),
            ("tx.jsonl", 3, None, "a JSON string, not an object"),
        ],
    ),
    "json value of the wrong type": Case(
        {
            "tx.jsonl": jsonl(
                {
                    **as_objects(ROWS[:1])[0],
                    "card_id": "7",
                    "amount": True,
                    "channel": 5,
                    "timestamp": None,
                    "risk": [0.5],
                }
            )
        },
        [
            ("tx.jsonl", 1, "card_id", "a JSON string '7', not an integer"),
            ("tx.jsonl", 1, "amount", "a JSON boolean, not a number"),
            ("tx.jsonl", 1, "channel", "a JSON number '5', not a string"),
            ("tx.jsonl", 1, "risk", "a JSON array, not a number"),
            ("tx.jsonl", 1, "timestamp", "missing value"),
        ],
    ),
    "json id with a fraction": Case(
        {"tx.jsonl": jsonl({**as_objects(ROWS[:1])[0], "tx_id": 1.5})},
        [("tx.jsonl", 1, "tx_id", "a JSON number '1.5', not an integer")],
    ),
    "json id above 2^63-1": Case(
        {"tx.jsonl": jsonl({**as_objects(ROWS[:1])[0], "card_id": 2**63})},
        [("tx.jsonl", 1, "card_id", "out of range: an id is an integer from 0 to 2^63-1")],
    ),
    "json label of another spelling": Case(
        {"tx.jsonl": jsonl({**as_objects(ROWS[:1])[0], "fraud": "yes"})},
        [("tx.jsonl", 1, "fraud", "'yes' is not a label (0, 1, true or false)")],
    ),
    "json key missing in a row": Case(
        {
            "tx.jsonl": jsonl(
                *as_objects(ROWS[:2]),
                {k: v for k, v in as_objects(ROWS[2:])[0].items() if k != "amount"},
            )
        },
        [("tx.jsonl", 3, "amount", "missing value")],
    ),
    # several problems in one file, all reported, in row order
    "mixed": Case(
        {
            "tx.csv": csv_text(
                row_with(amount="x", card_id="-1"),
                ROWS[1],
                row_with(tx_id="3", timestamp="", channel=""),
            )
        },
        [
            ("tx.csv", 1, "card_id", "out of range"),
            ("tx.csv", 1, "amount", "'x' is not a number"),
            ("tx.csv", 3, "timestamp", "missing value"),
            ("tx.csv", 3, "channel", "empty"),
        ],
    ),
}


def build(tmp_path: Path, case: Case) -> tuple[list[Path], list[Path]]:
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, content)
    names = case.transactions or tuple(name for name in case.files if name not in case.labels)
    return [tmp_path / name for name in names], [tmp_path / name for name in case.labels]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_data_is_named_by_file_row_and_column(tmp_path: Path, case: Case) -> None:
    """Every problem is reported, in file and row order, with the file, row and column where
    it is and a message that says what is wrong."""
    paths, labels = build(tmp_path, case)
    with pytest.raises(DataError) as caught:
        read_transactions_data(paths, case.spec, labels=labels)
    got = [(p.file, p.row, p.column) for p in caught.value.problems]
    assert got == [(str(tmp_path / name), row, column) for name, row, column, _ in case.expected]
    for problem, (*_, message) in zip(caught.value.problems, case.expected, strict=True):
        assert message.replace("{dir}", str(tmp_path)) in problem.message
    assert caught.value.total == len(case.expected)
    assert "Traceback" not in str(caught.value)


def test_parquet_nulls_and_bad_values_are_named_by_row(tmp_path: Path) -> None:
    """Parquet rows are numbered from 1; a null is a missing value, typed values are checked."""
    path = tmp_path / "tx.parquet"
    frame = pd.DataFrame(as_objects(ROWS)).drop(columns="risk")
    frame["card_id"] = pd.array([7, None, 7], dtype="Int64")
    table = pa.Table.from_pandas(frame).append_column("risk", pa.array([0.5, 0.25, np.nan]))
    pq.write_table(table, path)  # pyarrow keeps a NaN a NaN (pandas would write a null)
    with pytest.raises(DataError) as caught:
        read_transactions_data([path], SPEC)
    assert [(p.row, p.column, p.message) for p in caught.value.problems] == [
        (2, "card_id", "missing value"),
        (3, "risk", "NaN is not a number"),
    ]


def test_the_error_lists_20_problems_and_counts_the_rest(tmp_path: Path) -> None:
    """One line per problem, "file: row N, column C: message", the first 20 of them, then how
    many more; the error keeps the first 1,000 and counts every one."""
    rows = [f"{n},2018-06-18T10:00:00Z,7,-1,3,web,0.5,0" for n in range(1, 1501)]
    path = write(tmp_path / "tx.csv", csv_text(*rows))
    with pytest.raises(DataError) as caught:
        read_transactions_data([path], SPEC)
    error = caught.value
    assert (len(error.problems), error.total) == (1000, 1500)
    lines = str(error).splitlines()
    assert len(lines) == 21
    assert lines[0] == f"{path}: row 1, column amount: negative: an amount is 0 or more"
    assert lines[-1] == "... and 1,480 more problems"


def test_a_problem_reads_as_its_place_and_message() -> None:
    """A problem of the whole file, of a column, of a row, of a cell."""
    assert str(DataProblem("a.csv", None, None, "empty file")) == "a.csv: empty file"
    assert str(DataProblem("a.csv", None, "x", "missing")) == "a.csv: column x: missing"
    assert str(DataProblem("a.csv", 3, None, "ragged")) == "a.csv: row 3: ragged"
    assert str(DataError([DataProblem("a.csv", 3, "x", "bad")])) == "a.csv: row 3, column x: bad"


def test_no_files_is_an_error() -> None:
    """At least one transaction file is needed."""
    with pytest.raises(DatasetError, match="no transaction files"):
        read_transactions_data([], SPEC)


def test_the_bundled_handbook_file_reads_as_the_handbook_reader_reads_it(tmp_path: Path) -> None:
    """With the handbook's spec, the bundled data's first 50,000 rows read to exactly the values
    of models.data.handbook (ids, UTC times, amounts bit for bit, terminals and labels)."""
    with lzma.open(TRANSACTIONS_FILE, "rt") as source:
        head = "".join(itertools.islice(source, 50_001))
    path = write(tmp_path / "head.csv", head)
    frame = read_transactions_data([path], handbook_spec()).frame
    expected = pd.DataFrame(
        [
            (t.transaction_id, t.timestamp, t.card_id, t.amount, int(t.is_fraud), t.terminal_id)
            for t in read_transactions(path)
        ],
        columns=["transaction_id", "timestamp", "card_id", "amount", "label", "terminal_id"],
    )
    expected["timestamp"] = pd.to_datetime(expected["timestamp"], utc=True)
    assert len(frame) == 50_000
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
