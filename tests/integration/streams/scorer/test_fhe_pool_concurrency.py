"""The scorer's FHE pool with several evaluations at once, with real FHE: processes and threads
as set, and each verdict of requests evaluated side by side the one its request gets alone."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from streams.scorer.fhe_pool import FhePool
from tests.support.models import TinyModel

pytestmark = pytest.mark.integration


def test_two_processes_of_one_thread_evaluate_side_by_side(
    tiny_model: TinyModel, partner_keys: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    keys = partner_keys["alpha"]
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / f"{keys.key_id}.keys").write_bytes(keys.evaluation_keys())
    width = len(ClientArtifact.load(tiny_model.directory).spec.feature_names)
    rows = np.random.default_rng(7).uniform(0, 500, size=(4, width))
    requests = [keys.encrypt(row.tolist()) for row in rows]
    before = {p.pid for p in multiprocessing.active_children()}
    pool = FhePool(tiny_model.directory, keys_dir, processes=2, threads=1)

    async def scenario() -> tuple[list[float], list[float]]:
        await pool.warm_up()
        assert len([p for p in multiprocessing.active_children() if p.pid not in before]) == 2
        assert set(await pool.openmp_threads()) == {1}
        together = await asyncio.gather(
            *(pool.evaluate(r, keys.key_id, keys.client.version) for r in requests)
        )
        alone = [(await pool.evaluate(r, keys.key_id, keys.client.version)) for r in requests]
        return (
            [keys.decrypt(verdict).score for verdict, _ in together],
            [keys.decrypt(verdict).score for verdict, _ in alone],
        )

    try:
        together, alone = asyncio.run(scenario())
    finally:
        pool.shutdown()
    assert together == pytest.approx(alone)
