"""Scorer side: evaluate encrypted requests with the partners' evaluation keys.

This module never sees a secret key and cannot import :mod:`models.fhe.client` (an import-linter
contract and a test check it). It holds deserialized evaluation keys for many partners at once, by
key id, so keys (tens of MB) are deserialized once, not per request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from models.errors import CiphertextError, InferenceError, KeyMaterialError
from models.fhe.artifacts import ServerArtifact
from models.fhe.envelope import open_envelope, seal

__all__ = ["ScoringServer", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    """An encrypted verdict envelope and how long the FHE evaluation took."""

    envelope: bytes
    key_id: str
    seconds: float


class ScoringServer:
    """The compiled circuit and a cache of deserialized evaluation keys by key id."""

    def __init__(self, artifact: ServerArtifact, max_keys: int = 16) -> None:
        """Load the circuit (checked for library versions by :class:`ServerArtifact`).

        At most ``max_keys`` deserialized key sets are held (tens of MB each); the least
        recently used is dropped first and can be added again from the key registry. (Importing
        :mod:`models.fhe` has set the FHE runtime's idle settings: :mod:`models.fhe.idle_threads`.)
        """
        from concrete.ml.deployment import FHEModelServer  # noqa: PLC0415

        if max_keys < 1:
            msg = "max_keys must be at least 1"
            raise ValueError(msg)
        self.artifact = artifact
        self.max_keys = max_keys
        self._server = FHEModelServer(str(artifact.directory))
        self._keys: OrderedDict[str, Any] = OrderedDict()

    @property
    def model_version(self) -> str:
        """The version of the model this server evaluates."""
        return self.artifact.version

    def known_keys(self) -> frozenset[str]:
        """Key ids whose evaluation keys are loaded."""
        return frozenset(self._keys)

    def add_evaluation_keys(self, key_id: str, evaluation_keys: bytes) -> None:
        """Deserialize and cache evaluation keys (the registry has checked their digest)."""
        from concrete import fhe  # noqa: PLC0415

        if key_id in self._keys:
            self._keys.move_to_end(key_id)
            return
        try:
            self._keys[key_id] = fhe.EvaluationKeys.deserialize(evaluation_keys)
        except Exception as exc:
            msg = f"evaluation keys {key_id} could not be deserialized: {exc}"
            raise KeyMaterialError(msg) from exc
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def evaluate(self, request: bytes) -> Verdict:
        """Run the circuit on an encrypted input envelope; return the encrypted verdict."""
        envelope = open_envelope(request, "input", model_version=self.model_version)
        keys = self._keys.get(envelope.key_id)
        if keys is None:
            msg = f"no evaluation keys for key id {envelope.key_id}"
            raise KeyMaterialError(msg)
        self._keys.move_to_end(envelope.key_id)
        started = time.perf_counter()
        try:
            verdict_enc = self._server.run(envelope.payload, keys)
        except (RuntimeError, ValueError, TypeError, AssertionError) as exc:
            msg = f"the ciphertext is not a valid input of this model: {exc}"
            raise CiphertextError(msg) from exc
        except Exception as exc:
            msg = f"FHE evaluation failed: {type(exc).__name__}: {exc}"
            raise InferenceError(msg) from exc
        seconds = time.perf_counter() - started
        return Verdict(
            seal("verdict", self.model_version, envelope.key_id, verdict_enc),
            envelope.key_id,
            seconds,
        )
