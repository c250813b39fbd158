"""Partner side: the secret key, and encrypting features / decrypting verdicts with it.

Only partner processes import this module. Concrete-ML has no public-key encryption: whoever
encrypts holds the secret key, so features are encrypted inside the partner. The key directory
is created 0700 and every file in it 0600. ``keys.json`` in it records the key id (a hash of the
evaluation keys), the model version the keys were made for, and the partner.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.artifacts import ClientArtifact
from models.envelope import open_envelope, seal
from models.errors import (
    CiphertextError,
    FeatureVectorError,
    KeyMaterialError,
    KeyMismatchError,
)

__all__ = [
    "Decrypted",
    "KeyRing",
    "PartnerKeys",
    "assert_private",
    "key_id_of",
    "secret_files",
]

_META = "keys.json"


def key_id_of(evaluation_keys: bytes) -> str:
    """The key id: the first 16 hex digits of the SHA-256 of the serialized evaluation keys."""
    return hashlib.sha256(evaluation_keys).hexdigest()[:16]


def _lock_down(directory: Path) -> None:
    directory.chmod(0o700)
    for path in directory.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)


@dataclass(frozen=True)
class Decrypted:
    """A decrypted verdict: the fraud score (trees summed, sigmoid applied) and the decryption
    time."""

    score: float
    seconds: float


class PartnerKeys:
    """One partner's keys for one model version."""

    def __init__(self, client: ClientArtifact, key_dir: Path, key_id: str, partner: str) -> None:
        """Use :meth:`generate` or :meth:`load`."""
        from concrete.ml.deployment import FHEModelClient  # noqa: PLC0415

        self.client = client
        self.key_dir = key_dir
        self.key_id = key_id
        self.partner = partner
        self._fhe = FHEModelClient(str(client.directory), key_dir=str(key_dir))
        self._fhe.generate_private_and_evaluation_keys(force=False)  # loads the cached keys

    @classmethod
    def generate(cls, client: ClientArtifact, key_dir: Path, partner: str) -> PartnerKeys:
        """Create a new secret key and its evaluation keys in an empty ``key_dir``."""
        from concrete.ml.deployment import FHEModelClient  # noqa: PLC0415

        if key_dir.exists() and any(key_dir.iterdir()):
            msg = f"{key_dir} is not empty: refusing to overwrite keys (rotate into a new folder)"
            raise KeyMaterialError(msg)
        previous = os.umask(0o077)  # key files are private from the moment they exist
        try:
            key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fhe = FHEModelClient(str(client.directory), key_dir=str(key_dir))
            fhe.generate_private_and_evaluation_keys(force=True)
            key_id = key_id_of(fhe.get_serialized_evaluation_keys())
            meta = {"key_id": key_id, "model_version": client.version, "partner": partner}
            (key_dir / _META).write_text(json.dumps(meta))
        finally:
            os.umask(previous)
        _lock_down(key_dir)
        return cls(client, key_dir, key_id, partner)

    @classmethod
    def load(cls, client: ClientArtifact, key_dir: Path) -> PartnerKeys:
        """Open existing keys; refuse keys made for another model version."""
        try:
            meta: dict[str, Any] = json.loads((key_dir / _META).read_text())
        except FileNotFoundError as exc:
            msg = f"no keys in {key_dir}: create them with `fraudstream keys generate`"
            raise KeyMaterialError(msg) from exc
        except (OSError, json.JSONDecodeError) as exc:
            msg = f"{key_dir / _META} is unreadable or corrupt: {exc}"
            raise KeyMaterialError(msg) from exc
        if meta.get("model_version") != client.version:
            msg = (
                f"the keys in {key_dir} were made for model {meta.get('model_version')}, "
                f"not {client.version}: generate keys for this model"
            )
            raise KeyMismatchError(msg)
        if not any(p.name != _META for p in secret_files(key_dir)):
            # Concrete would silently make a new secret key here: refuse instead.
            msg = f"{key_dir} has keys.json but no key files: restore them or generate new keys"
            raise KeyMaterialError(msg)
        assert_private(key_dir)
        try:
            loaded = cls(client, key_dir, str(meta["key_id"]), str(meta["partner"]))
        except KeyError as exc:
            msg = f"{key_dir / _META} lacks {exc}: generate new keys"
            raise KeyMaterialError(msg) from exc
        if key_id_of(loaded.evaluation_keys()) != loaded.key_id:
            msg = f"the key files in {key_dir} are not those of key id {loaded.key_id}"
            raise KeyMaterialError(msg)
        return loaded

    def evaluation_keys(self) -> bytes:
        """The serialized evaluation keys, for the scorers (public: they cannot decrypt)."""
        keys: bytes = self._fhe.get_serialized_evaluation_keys()
        return keys

    def encrypt(self, x_clear: npt.ArrayLike) -> bytes:
        """Quantize, encrypt and serialize one transaction's features; return the envelope."""
        x = np.atleast_2d(np.asarray(x_clear, dtype=np.float64))
        if x.shape != (1, len(self.client.feature_names)):
            msg = f"encrypt takes one row of {len(self.client.feature_names)} features"
            raise FeatureVectorError(msg)
        x_prepared = self.client.binning.transform(x) if self.client.binning else x
        x_enc: bytes = self._fhe.quantize_encrypt_serialize(x_prepared)
        return seal("input", self.client.version, self.key_id, x_enc)

    def decrypt(self, verdict: bytes) -> Decrypted:
        """Open a verdict envelope made under this key and return the fraud score."""
        envelope = open_envelope(
            verdict, "verdict", model_version=self.client.version, key_id=self.key_id
        )
        started = time.perf_counter()
        try:
            proba = self._fhe.deserialize_decrypt_dequantize(envelope.payload)
        except (RuntimeError, ValueError, TypeError) as exc:
            msg = f"the verdict could not be decrypted: {exc}"
            raise CiphertextError(msg) from exc
        score = float(np.asarray(proba).reshape(-1)[-1])
        return Decrypted(score=score, seconds=time.perf_counter() - started)

    def is_alert(self, score: float, threshold: float | None = None) -> bool:
        """Whether ``score`` reaches the threshold (the model's default unless given)."""
        return score >= (self.client.threshold if threshold is None else threshold)


class KeyRing:
    """A partner's current keys (they encrypt) and older keys kept to decrypt verdicts of
    requests sent before a key rotation."""

    def __init__(self, current: PartnerKeys, previous: Sequence[PartnerKeys] = ()) -> None:
        """Hold ``current`` and ``previous``; every one must belong to the same partner."""
        partners = {keys.partner for keys in (current, *previous)}
        if len(partners) != 1:
            msg = f"a key ring holds one partner's keys, not those of {sorted(partners)}"
            raise KeyMaterialError(msg)
        self.current = current
        self._by_id = {keys.key_id: keys for keys in (*previous, current)}

    @classmethod
    def load(
        cls, client: ClientArtifact, key_dir: Path, previous_dirs: Sequence[Path] = ()
    ) -> KeyRing:
        """Open the current key folder and the older ones (all for ``client``'s model)."""
        return cls(
            PartnerKeys.load(client, key_dir), [PartnerKeys.load(client, d) for d in previous_dirs]
        )

    @property
    def partner(self) -> str:
        """The partner these keys belong to."""
        return self.current.partner

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this ring can decrypt."""
        return frozenset(self._by_id)

    def encrypt(self, x_clear: npt.ArrayLike) -> bytes:
        """Encrypt with the current keys (see :meth:`PartnerKeys.encrypt`)."""
        return self.current.encrypt(x_clear)

    def decrypt(self, verdict: bytes) -> Decrypted:
        """Decrypt a verdict with whichever held key it was made under."""
        envelope = open_envelope(verdict, "verdict", model_version=self.current.client.version)
        keys = self._by_id.get(envelope.key_id)
        if keys is None:
            msg = f"verdict made under key {envelope.key_id}, which this partner does not hold"
            raise KeyMismatchError(msg)
        return keys.decrypt(verdict)


def secret_files(key_dir: Path) -> list[Path]:
    """Every file of a key directory (for permission checks)."""
    return [p for p in key_dir.rglob("*") if p.is_file()] if key_dir.exists() else []


def assert_private(key_dir: Path) -> None:
    """Raise :class:`KeyMaterialError` if a key file can be read by anyone but its owner."""
    for path in [key_dir, *secret_files(key_dir)]:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            msg = f"{path} has mode {oct(mode)}: key files must be private (0600, folder 0700)"
            raise KeyMaterialError(msg)
