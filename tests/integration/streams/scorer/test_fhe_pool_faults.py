"""The scorer's FHE pool under faults, with real FHE: an evaluation that hangs is cut at its time
limit and its process replaced, and a killed process costs no verdict."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.core.errors import EvaluationError
from streams.scorer.fhe_pool import FhePool
from tests.support.models import TinyModel

pytestmark = pytest.mark.integration


def _request(partner_keys: dict[str, PartnerKeys], tiny_model: TinyModel, keys_dir: Path) -> bytes:
    keys = partner_keys["alpha"]
    keys_dir.mkdir(parents=True, exist_ok=True)
    (keys_dir / f"{keys.key_id}.keys").write_bytes(keys.evaluation_keys())
    client = ClientArtifact.load(tiny_model.directory)
    features = np.zeros(len(client.spec.feature_names))
    return keys.encrypt(features.tolist())


def test_a_hung_evaluation_is_cut_at_its_time_limit_and_its_process_replaced(
    tiny_model: TinyModel, partner_keys: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """A key file that blocks every read (a FIFO nobody writes) hangs the evaluation: it is cut
    at the time limit twice and refused with the reason, the pool's process replaced; the next
    request gets its verdict."""
    keys_dir = tmp_path / "keys"
    envelope = _request(partner_keys, tiny_model, keys_dir)
    key_id = partner_keys["alpha"].key_id
    os.mkfifo(keys_dir / "hangs.keys")
    keys_model = partner_keys["alpha"].client.version
    pool = FhePool(tiny_model.directory, keys_dir, processes=1, timeout=8.0)

    async def scenario() -> None:
        await pool.warm_up()
        verdict, seconds = await pool.evaluate(envelope, key_id, keys_model)
        assert verdict
        assert seconds > 0
        started = time.monotonic()
        with pytest.raises(EvaluationError, match="no verdict within 8 s"):
            await pool.evaluate(envelope, "hangs", keys_model)
        assert time.monotonic() - started < 2 * 8 + 20
        assert pool.health()["timeouts"] == 2
        assert not pool.health()["hung"]
        # a fresh process: circuit, keys
        verdict, _ = await pool.evaluate(envelope, key_id, keys_model)
        assert verdict

    try:
        asyncio.run(scenario())
    finally:
        pool.shutdown()


def test_a_pool_process_killed_mid_evaluation_costs_no_verdict(
    tiny_model: TinyModel, partner_keys: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """The evaluating process is SIGKILLed while it waits for its keys (a FIFO written only
    later): the request is tried again in a new process and gets its verdict."""
    keys = partner_keys["alpha"]
    envelope = _request(partner_keys, tiny_model, tmp_path / "real-keys")
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    os.mkfifo(keys_dir / f"{keys.key_id}.keys")
    before = {p.pid for p in multiprocessing.active_children()}
    pool = FhePool(tiny_model.directory, keys_dir, processes=1, timeout=120.0)

    def write_keys() -> None:
        with (keys_dir / f"{keys.key_id}.keys").open("wb") as fifo:  # waits for a reader
            fifo.write(keys.evaluation_keys())

    async def scenario() -> None:
        await pool.warm_up()
        evaluating = pool.evaluate(envelope, keys.key_id, keys.client.version)
        evaluation = asyncio.ensure_future(evaluating)
        await asyncio.sleep(2.0)  # the process is blocked opening the FIFO
        workers = [p for p in multiprocessing.active_children() if p.pid not in before]
        assert len(workers) == 1
        os.kill(workers[0].pid, signal.SIGKILL)
        await asyncio.sleep(2.0)  # the request is retried: a new process blocks on the FIFO
        writer = threading.Thread(target=write_keys, daemon=True)
        writer.start()
        verdict, _ = await evaluation
        assert verdict
        assert pool.health()["processes_died"] == 1
        assert pool.health()["timeouts"] == 0

    try:
        asyncio.run(scenario())
    finally:
        pool.shutdown()
