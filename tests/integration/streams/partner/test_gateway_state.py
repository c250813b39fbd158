"""A partner gateway's feature state survives a restart: it is recovered from the tables'
changelogs, and the features after the restart equal the batch features of the same stream."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from models.data.handbook import HandbookTransaction, partner_of, read_transactions
from models.features.batch import compute_features, rows_frame
from models.features.spec import handbook_spec
from models.fhe.client.keys import PartnerKeys
from streams.broker.admin import wait_for_group
from streams.broker.connection import kafka_python_config
from streams.broker.ports import free_port
from streams.core.settings import Settings
from streams.core.topics import TopicNames
from streams.qa.data_feed import handbook_row, send_records, transaction_record
from streams.qa.supervisor import WorkerProcess
from streams.qa.testing import consume_records
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def stream_of_a_few_cards(n_cards: int = 6) -> list[HandbookTransaction]:
    """Alpha's transactions of a few cards over ten days (labels left out: no frauds)."""
    chosen: set[int] = set()
    picked: list[HandbookTransaction] = []
    for tx in read_transactions(start=date(2018, 8, 1), end=date(2018, 8, 10)):
        if partner_of(tx.card_id, ("alpha", "bravo")) != "alpha":
            continue
        if tx.card_id not in chosen and len(chosen) < n_cards:
            chosen.add(tx.card_id)
        if tx.card_id in chosen:
            picked.append(
                HandbookTransaction(
                    tx.transaction_id, tx.timestamp, tx.card_id, tx.terminal_id, tx.amount, False
                )
            )
    return picked


SPEC = handbook_spec()
FEATURE_NAMES = SPEC.feature_names


def batch_features(transactions: list[HandbookTransaction]) -> pd.DataFrame:
    frame = rows_frame([handbook_row(tx) for tx in transactions], SPEC)  # labels: none
    return compute_features(frame, SPEC).set_index("transaction_id")


def test_restarted_gateway_keeps_its_feature_state(
    make_settings: Callable[..., Settings],
    topics_for: Callable[[Settings], TopicNames],
    tmp_path: Path,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> None:
    """Half the stream, a restart (SIGTERM, a new process, tables recovered from changelogs),
    the other half: every transaction's features equal the batch features."""
    settings = make_settings(
        web_port=free_port(), model_dir=tiny_model.directory, key_dir=partner_keys["alpha"].key_dir
    )
    names = topics_for(settings)
    client = kafka_python_config(settings)
    transactions = stream_of_a_few_cards()
    half = len(transactions) // 2
    assert half > 20

    def run(log: str, batch: list[HandbookTransaction], expected_total: int) -> list[dict]:
        worker = WorkerProcess(settings, "partner", tmp_path / log, partner="alpha")
        worker.start()
        try:
            wait_for_group(client, worker.group_id, alive=lambda: worker.returncode is None)
            send_records(client, [transaction_record(names, tx, "alpha") for tx in batch])
            found = [
                orjson.loads(r.value)
                for r in consume_records(
                    client, [names.pending("alpha")], expected=expected_total, timeout=120
                )
            ]
        finally:
            assert worker.stop() == 0, worker.log_text()[-3000:]
        return found

    run("first.log", transactions[:half], half)
    pending = run("second.log", transactions[half:], len(transactions))
    assert len(pending) == len(transactions)

    expected = batch_features(transactions)
    after_restart = {tx.transaction_id for tx in transactions[half:]}
    compared = 0
    for details in pending:
        tx_id = details["transaction"]["transaction_id"]
        want = expected.loc[tx_id, list(FEATURE_NAMES)].to_numpy(np.float64)
        np.testing.assert_allclose(details["features"], want, rtol=1e-9, atol=1e-9)
        compared += tx_id in after_restart
    assert compared == len(transactions) - half
