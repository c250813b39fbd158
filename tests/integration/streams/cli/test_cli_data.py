"""``fraudstream data check`` and the model commands on bad data: one clear error naming the
place (file, row, column), exit code 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.commands import fraudstream

pytestmark = [pytest.mark.slow]

HEADER = "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n"


def test_bad_cells_are_named_by_file_row_and_column(tmp_path: Path) -> None:
    data = tmp_path / "tx.csv"
    data.write_text(
        HEADER
        + "1,2018-08-01 10:00:00,5,7,10.5,0\n"
        + "2,,5,7,-3,0\n"
        + "3,2018-08-01 10:05:00,5,x,12,2\n"
    )
    run = fraudstream("data", "check", "--data", "tx.csv", cwd=tmp_path)
    assert run.returncode == 1, run.stdout
    out = " ".join(run.stdout.split())
    assert "error: tx.csv: row 2, column TX_DATETIME: missing value" in out
    assert "tx.csv: row 2, column TX_AMOUNT: negative" in out
    assert "tx.csv: row 3, column TERMINAL_ID: 'x' is not an integer" in out
    assert "Traceback" not in run.stdout + run.stderr


def test_a_label_for_an_unknown_transaction_and_a_bad_spec_are_clear_errors(
    tmp_path: Path,
) -> None:
    data = tmp_path / "tx.csv"
    data.write_text(HEADER + "1,2018-08-01 10:00:00,5,7,10.5,0\n")
    labels = tmp_path / "frauds.csv"
    labels.write_text("TRANSACTION_ID\n99\n")
    run = fraudstream("data", "check", "--data", "tx.csv", "--labels", "frauds.csv", cwd=tmp_path)
    assert run.returncode == 1
    assert "frauds.csv: row 1, column TRANSACTION_ID" in " ".join(run.stdout.split())
    spec = tmp_path / "bank.toml"
    spec.write_text('spec_version = 1\nname = "bank"\nfeatures = [{kind = "field", field = "x"}]\n')
    run = fraudstream("model", "train", "--data", str(data), "--spec", str(spec))
    assert run.returncode == 1
    assert "features[0].field: 'x' is not a number field" in " ".join(run.stdout.split())
    assert "Traceback" not in run.stdout + run.stderr


def test_training_on_too_few_frauds_says_how_many(tmp_path: Path) -> None:
    """A file whose training period holds no fraud cannot train a model, and says so."""
    data = tmp_path / "tx.csv"
    rows = [
        f"{i},2018-08-{1 + i // 10:02d} 10:{i % 10:02d}:00,{i % 7},1,10.0,0" for i in range(200)
    ]
    data.write_text(HEADER + "\n".join(rows) + "\n")
    run = fraudstream("model", "train", "--data", str(data), "--train-days", "3",
                      "--test-days", "3", "--delay-days", "1")  # fmt: skip
    out = " ".join(run.stdout.split())
    assert run.returncode == 1, out
    assert "transactions with 0 frauds: at least 5 are needed to fit a model" in out
    assert "Traceback" not in run.stdout + run.stderr
