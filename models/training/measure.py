"""Real FHE execution of saved artifacts, measured: the deployment path, both roles in one process.

For model cards, assessments and sweeps only: a throw-away partner key is generated in a temporary
folder, features are encrypted with it, the server part evaluates them, the key decrypts them.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from models.fhe.artifacts import ClientArtifact, ServerArtifact, save_artifacts
from models.fhe.client.keys import PartnerKeys
from models.fhe.server import ScoringServer

if TYPE_CHECKING:
    from models.training.fitting import FittedModel, ProtocolData

__all__ = ["FheMeasurement", "measure_fhe", "measure_fitted"]

Tick = Callable[[int, int], None]


@dataclass
class FheMeasurement:
    """Scores from real FHE execution and what each stage cost."""

    scores: list[float] = field(default_factory=list)
    server_seconds: list[float] = field(default_factory=list)
    encrypt_seconds: list[float] = field(default_factory=list)
    decrypt_seconds: list[float] = field(default_factory=list)
    input_bytes: int = 0
    verdict_bytes: int = 0
    evaluation_key_bytes: int = 0
    keygen_seconds: float = 0.0

    @property
    def seconds_per_transaction(self) -> float:
        """Median server-side FHE evaluation time per transaction."""
        return statistics.median(self.server_seconds) if self.server_seconds else float("nan")

    def summary(self) -> dict[str, float | int]:
        """The numbers a model card shows."""
        return {
            "transactions": len(self.scores),
            "server_seconds_median": self.seconds_per_transaction,
            "server_seconds_max": max(self.server_seconds, default=float("nan")),
            "encrypt_seconds_median": statistics.median(self.encrypt_seconds or [float("nan")]),
            "decrypt_seconds_median": statistics.median(self.decrypt_seconds or [float("nan")]),
            "input_bytes": self.input_bytes,
            "verdict_bytes": self.verdict_bytes,
            "evaluation_key_bytes": self.evaluation_key_bytes,
            "keygen_seconds": self.keygen_seconds,
        }


def measure_fitted(
    fitted: FittedModel, data: ProtocolData, x_clear: npt.NDArray[np.float64], card: dict[str, Any]
) -> FheMeasurement:
    """Save ``fitted`` (its card's extra entries ``card``) in a scratch folder and measure the
    rows ``x_clear`` in real FHE through the saved artifacts (what a sweep measures)."""
    with tempfile.TemporaryDirectory(prefix="fhe-measure-") as scratch:
        version_dir = save_artifacts(
            fitted.model,
            fitted.binning,
            fitted.threshold,
            card,
            Path(scratch),
            spec=data.spec,
        )
        return measure_fhe(version_dir, x_clear)


def measure_fhe(
    version_dir: Path, x_clear: npt.NDArray[np.float64], tick: Tick | None = None
) -> FheMeasurement:
    """Encrypt, evaluate and decrypt each row of ``x_clear`` with the saved artifacts."""
    client = ClientArtifact.load(version_dir)
    server = ScoringServer(ServerArtifact.load(version_dir))
    result = FheMeasurement()
    with tempfile.TemporaryDirectory(prefix="fhe-measure-") as scratch:
        started = time.perf_counter()
        keys = PartnerKeys.generate(client, Path(scratch) / "keys", "measure")
        evaluation_keys = keys.evaluation_keys()
        result.keygen_seconds = time.perf_counter() - started
        result.evaluation_key_bytes = len(evaluation_keys)
        server.add_evaluation_keys(keys.key_id, evaluation_keys)
        for done, row in enumerate(x_clear, start=1):
            started = time.perf_counter()
            request = keys.encrypt(row)
            result.encrypt_seconds.append(time.perf_counter() - started)
            verdict = server.evaluate(request)
            result.server_seconds.append(verdict.seconds)
            decrypted = keys.decrypt(verdict.envelope)
            result.decrypt_seconds.append(decrypted.seconds)
            result.scores.append(decrypted.score)
            result.input_bytes = len(request)
            result.verdict_bytes = len(verdict.envelope)
            if tick:
                tick(done, len(x_clear))
    return result
