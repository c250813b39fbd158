"""Partner side: the secret key, and encrypting features / decrypting verdicts with it.

Only partner processes import this module. Concrete-ML has no public-key encryption: whoever
encrypts holds the secret key, so features are encrypted inside the partner. The key directory
is created 0700 and every file in it 0600. ``keys.json`` in it records the key id, the model
version the keys were made for, the partner and a digest of the evaluation keys.

A key folder is made from a :class:`models.fhe.client.seed.KeySeed` (and holds its seed file), so
the same seed always gives the same secret key and key id.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.errors import (
    CiphertextError,
    FeatureVectorError,
    KeyMaterialError,
    KeyMismatchError,
)
from models.fhe.artifacts import ClientArtifact
from models.fhe.client.seed import KeySeed, PublicationSigner
from models.fhe.envelope import open_envelope, seal

__all__ = [
    "Decrypted",
    "KeyRing",
    "PartnerKeys",
    "assert_private",
    "key_folder_ids",
    "secret_files",
]

_META = "keys.json"
_KEYSET = "keyset.bin"
_SEED = "seed.json"


def _digest(evaluation_keys: bytes) -> str:
    return hashlib.sha256(evaluation_keys).hexdigest()


def _check_replaceable(key_dir: Path, seed: KeySeed) -> None:
    """Replacing is for a folder derived from ``seed`` before (or a partial one): refuse a
    folder holding anything else, above all another key that nothing could make again."""
    if not key_dir.exists():
        return
    names = {path.name for path in key_dir.iterdir()}
    if not names <= {_META, _KEYSET, _SEED}:
        msg = f"{key_dir} holds files that are not keys ({sorted(names)[:3]}): refusing to replace"
        raise KeyMaterialError(msg)
    if not names:
        return
    try:
        held = KeySeed.read(key_dir / _SEED).key_id
    except KeyMaterialError as exc:
        msg = f"{key_dir} holds keys that no seed describes: refusing to replace them"
        raise KeyMaterialError(msg) from exc
    if held != seed.key_id:
        msg = f"{key_dir} holds the keys of key id {held}, not {seed.key_id}: refusing to replace"
        raise KeyMaterialError(msg)


def _fhe_client(client: ClientArtifact) -> Any:
    # No key_dir: concrete's key cache would look keys up by seed and, on a miss, silently make
    # new ones. The key set is saved and loaded as one file instead.
    from concrete.ml.deployment import FHEModelClient  # noqa: PLC0415

    fhe = FHEModelClient(str(client.directory))
    if client.trees_summed_in_fhe:
        # Concrete-ML 1.9's client builds a fresh model that sums the tree outputs in the clear;
        # the circuit summed them already (one ciphertext), so that sum must not run again.
        fhe.model._fhe_ensembling = True
    return fhe


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

    def __init__(self, client: ClientArtifact, key_dir: Path, seed: KeySeed) -> None:
        """Use :meth:`generate`, :meth:`derive` or :meth:`load`."""
        self.client = client
        self.key_dir = key_dir
        self._seed = seed
        self.key_id = seed.key_id
        self.partner = seed.partner
        self._fhe = _fhe_client(client)
        try:
            self._fhe.client.keys.load(key_dir / _KEYSET)
        except (RuntimeError, ValueError) as exc:
            msg = f"the key set {key_dir / _KEYSET} could not be read: {exc}"
            raise KeyMaterialError(msg) from exc

    @classmethod
    def generate(cls, client: ClientArtifact, key_dir: Path, partner: str) -> PartnerKeys:
        """Create a new secret key and its evaluation keys in an empty ``key_dir``."""
        return cls.derive(client, KeySeed.new(client, partner), key_dir)

    @classmethod
    def derive(
        cls, client: ClientArtifact, seed: KeySeed, key_dir: Path, *, replace: bool = False
    ) -> PartnerKeys:
        """Make the secret key of ``seed`` and fresh evaluation keys in an empty ``key_dir``.

        With ``replace``, whatever ``key_dir`` holds is replaced (a folder derived again at each
        start, e.g. by an init container that may run twice): the keys are made in a sibling
        folder first, so an interrupted run never leaves a half-made folder in its place.
        """
        if seed.model_version != client.version:
            msg = (
                f"the key seed of {seed.partner} (key id {seed.key_id}) is for model "
                f"{seed.model_version}, not {client.version}: make a seed for this model"
            )
            raise KeyMismatchError(msg)
        if replace:
            _check_replaceable(key_dir, seed)
        elif key_dir.exists() and any(key_dir.iterdir()):
            msg = f"{key_dir} is not empty: refusing to overwrite keys (rotate into a new folder)"
            raise KeyMaterialError(msg)
        key_dir.parent.mkdir(parents=True, exist_ok=True)
        for stale in key_dir.parent.glob(f".{key_dir.name}.making-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted run
        # Made in a private sibling, then renamed into place: never a half-made key folder.
        work = Path(tempfile.mkdtemp(prefix=f".{key_dir.name}.making-", dir=key_dir.parent))
        previous = os.umask(0o077)  # key files are private from the moment they exist
        try:
            fhe = _fhe_client(client)
            fhe.client.keygen(force=True, secret_seed=seed.fhe_seed)
            fhe.client.keys.save(work / _KEYSET)
            seed.write(work / _SEED)
            meta = {
                "key_id": seed.key_id,
                "model_version": client.version,
                "partner": seed.partner,
                "evaluation_keys_sha256": _digest(fhe.get_serialized_evaluation_keys()),
            }
            (work / _META).write_text(json.dumps(meta))
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            os.umask(previous)
        _lock_down(work)
        if key_dir.exists():  # empty (maybe a mount point), or this seed's earlier derivation
            key_dir.chmod(0o700)
            for name in (_KEYSET, _SEED, _META):  # keys.json, which load reads first, last
                (work / name).replace(key_dir / name)
            work.rmdir()
        else:
            work.rename(key_dir)
        return cls(client, key_dir, seed)

    @classmethod
    def load(cls, client: ClientArtifact, key_dir: Path) -> PartnerKeys:
        """Open existing keys; refuse keys made for another model version."""
        meta = _read_meta(key_dir)
        if meta.get("model_version") != client.version:
            msg = (
                f"the keys in {key_dir} were made for model {meta.get('model_version')}, "
                f"not {client.version}: generate keys for this model"
            )
            raise KeyMismatchError(msg)
        missing = [name for name in (_KEYSET, _SEED) if not (key_dir / name).is_file()]
        if missing:
            # Concrete would silently make a new secret key here: refuse instead.
            msg = (
                f"{key_dir} has keys.json but no {' or '.join(missing)} (keys made by an older "
                "version, or a damaged folder): restore the files or generate new keys"
            )
            raise KeyMaterialError(msg)
        assert_private(key_dir)
        seed = KeySeed.read(key_dir / _SEED)
        try:
            recorded, expected = str(meta["key_id"]), str(meta["evaluation_keys_sha256"])
        except KeyError as exc:
            msg = f"{key_dir / _META} lacks {exc}: generate new keys"
            raise KeyMaterialError(msg) from exc
        if recorded != seed.key_id:
            msg = f"the seed in {key_dir} is not that of key id {recorded}"
            raise KeyMaterialError(msg)
        loaded = cls(client, key_dir, seed)
        if _digest(loaded.evaluation_keys()) != expected:
            msg = f"the key files in {key_dir} are not those of key id {loaded.key_id}"
            raise KeyMaterialError(msg)
        return loaded

    def signer(self) -> PublicationSigner:
        """The signer of this key's publications on the registry (see :mod:`models.fhe.proof`)."""
        return PublicationSigner(self._seed.signing_key())

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
    requests sent before a key rotation or a model change (each key for its own model)."""

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
        cls,
        client: ClientArtifact,
        key_dir: Path,
        previous_dirs: Sequence[Path] = (),
        other_models: Sequence[ClientArtifact] = (),
    ) -> KeyRing:
        """Open the current key folder (for ``client``'s model) and the older ones, each with
        the model it was made for (``client`` or one of ``other_models``)."""
        models = {artifact.version: artifact for artifact in (*other_models, client)}
        return cls(
            PartnerKeys.load(client, key_dir),
            [PartnerKeys.load(_model_of(d, models), d) for d in previous_dirs],
        )

    @property
    def partner(self) -> str:
        """The partner these keys belong to."""
        return self.current.partner

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this ring can decrypt."""
        return frozenset(self._by_id)

    def keys(self, key_id: str) -> PartnerKeys:
        """The held keys of ``key_id``; :class:`KeyMismatchError` if this ring has none."""
        keys = self._by_id.get(key_id)
        if keys is None:
            msg = f"verdict made under key {key_id}, which this partner does not hold"
            raise KeyMismatchError(msg)
        return keys

    def encrypt(self, x_clear: npt.ArrayLike) -> bytes:
        """Encrypt with the current keys (see :meth:`PartnerKeys.encrypt`)."""
        return self.current.encrypt(x_clear)

    def decrypt(self, verdict: bytes) -> Decrypted:
        """Decrypt a verdict with whichever held key it was made under (that key's model)."""
        return self.keys(open_envelope(verdict, "verdict").key_id).decrypt(verdict)


def _read_meta(key_dir: Path) -> dict[str, Any]:
    """``keys.json`` of a key folder; :class:`KeyMaterialError` when missing or unreadable."""
    try:
        meta = json.loads((key_dir / _META).read_text())
    except FileNotFoundError as exc:
        msg = f"no keys in {key_dir}: create them with `fraudstream keys generate`"
        raise KeyMaterialError(msg) from exc
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"{key_dir / _META} is unreadable or corrupt: {exc}"
        raise KeyMaterialError(msg) from exc
    if not isinstance(meta, dict):
        msg = f"{key_dir / _META} is unreadable or corrupt: not a JSON object"
        raise KeyMaterialError(msg)
    return meta


def key_folder_ids(key_dir: Path) -> tuple[str, str]:
    """The key id of the keys in ``key_dir`` and the model version they were made for (from
    its ``keys.json``)."""
    meta = _read_meta(key_dir)
    try:
        return str(meta["key_id"]), str(meta["model_version"])
    except KeyError as exc:
        msg = f"{key_dir / _META} lacks {exc}: generate new keys"
        raise KeyMaterialError(msg) from exc


def _model_of(key_dir: Path, models: dict[str, ClientArtifact]) -> ClientArtifact:
    """The model artifact the keys in ``key_dir`` were made for, among ``models``."""
    _, version = key_folder_ids(key_dir)
    if version not in models:
        msg = (
            f"the keys in {key_dir} were made for model {version}, which is not loaded "
            f"({', '.join(sorted(models))}): add its folder to FRAUD_OTHER_MODEL_DIRS"
        )
        raise KeyMismatchError(msg)
    return models[version]


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
