"""Versioned model artifacts: the client part (for partners) and the server part (for scorers).

Layout of one version, ``<root>/<version>/``::

    client/client.zip            Concrete-ML client specs and quantizers (FHEModelDev)
    client/preprocessing.json    feature names and spec, binning edges, default threshold
    server/server.zip            the compiled circuit (CPU-architecture specific)
    dev/model.json               the fitted model, for assessment only (never deployed)
    model_card.json, model_card.md

The version id is the first 12 hex digits of a SHA-256 over the client and server files, so the
same bytes always have the same id and any change gives a new one. Partners receive ``client/``,
scorers ``server/``; neither part holds a key. Both sides load this module, each its own part;
:func:`save_artifacts` writes a version where the model is trained (:mod:`models.training`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import ArtifactError, ArtifactVersionError, SpecError
from models.features.spec import FeatureSpec, handbook_spec, parse_spec
from models.fhe.binning import Binning

__all__ = [
    "DEV_MODEL_FILE",
    "ClientArtifact",
    "ServerArtifact",
    "artifact_version",
    "check_library_versions",
    "file_digests",
    "save_artifacts",
]

_VERSION_FILES = ("client/client.zip", "client/preprocessing.json", "server/server.zip")
#: The fitted model, saved beside the parts for assessment (read by :mod:`models.training`).
DEV_MODEL_FILE = "dev/model.json"


def file_digests(root: Path) -> dict[str, str]:
    """SHA-256 of each shipped file, so each part can be checked on its own."""
    return {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest()
        for name in _VERSION_FILES
        if (root / name).is_file()
    }


def artifact_version(root: Path) -> str:
    """The content hash of a version directory's client and server files."""
    digest = hashlib.sha256()
    for name in _VERSION_FILES:
        path = root / name
        if not path.is_file():
            msg = f"{path} is missing: not a complete model artifact"
            raise ArtifactError(msg)
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def check_library_versions(zip_path: Path) -> dict[str, str]:
    """Read ``versions.json`` from a Concrete-ML zip and compare it with what is installed."""
    from importlib.metadata import version  # noqa: PLC0415

    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open("versions.json") as handle:
            recorded: dict[str, str] = json.load(handle)
    except FileNotFoundError as exc:
        msg = (
            f"{zip_path} is missing: {zip_path.parent} is not a whole model folder; copy the "
            "whole version folder (as `fraudstream model train` wrote it) or train one"
        )
        raise ArtifactError(msg) from exc
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        msg = (
            f"{zip_path} is corrupt or not a Concrete-ML artifact ({exc}): copy the model's "
            "version folder again, or train one with `fraudstream model train`"
        )
        raise ArtifactError(msg) from exc
    wrong = []
    for package in ("concrete-python", "concrete-ml"):
        installed = version(package)
        if recorded.get(package) != installed:
            wrong.append(f"{package} {recorded.get(package)} (installed: {installed})")
    if wrong:
        msg = (
            f"{zip_path} was made with {', '.join(wrong)}: install the versions it was made "
            "with, or retrain with `fraudstream model train`"
        )
        raise ArtifactVersionError(msg)
    return recorded


@dataclass(frozen=True)
class ClientArtifact:
    """The partner's part: where client.zip is and how to prepare features for it."""

    directory: Path
    version: str
    binning: Binning | None
    threshold: float
    feature_names: tuple[str, ...]
    #: The feature spec the model was trained with: the gateway computes exactly these.
    spec: FeatureSpec
    #: Whether the circuit sums the trees itself (one output ciphertext, `model train --fhe-sum`).
    trees_summed_in_fhe: bool = False

    @classmethod
    def load(cls, version_dir: Path) -> ClientArtifact:
        """Check and read ``<version_dir>/client``."""
        client = version_dir / "client"
        check_library_versions(client / "client.zip")
        try:
            meta = json.loads((client / "preprocessing.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            msg = f"{client / 'preprocessing.json'} is missing or corrupt: {exc}"
            raise ArtifactError(msg) from exc
        names = tuple(meta.get("feature_names", ()))
        try:
            # Versions saved before feature specs were trained on the handbook's.
            spec = parse_spec(meta.get("feature_spec") or handbook_spec().to_json(), str(client))
        except SpecError as exc:
            msg = f"{client / 'preprocessing.json'}: its feature spec is unreadable: {exc}"
            raise ArtifactError(msg) from exc
        if names != spec.feature_names:
            msg = f"{version_dir} expects features {names}, its spec computes {spec.feature_names}"
            raise ArtifactError(msg)
        binning = Binning.from_json(meta["binning"]) if meta.get("binning") else None
        return cls(
            client,
            _read_version(version_dir),
            binning,
            float(meta["threshold"]),
            names,
            spec,
            bool(meta.get("trees_summed_in_fhe", False)),
        )


@dataclass(frozen=True)
class ServerArtifact:
    """The scorer's part: where server.zip is."""

    directory: Path
    version: str

    @classmethod
    def load(cls, version_dir: Path) -> ServerArtifact:
        """Check ``<version_dir>/server``."""
        server = version_dir / "server"
        check_library_versions(server / "server.zip")
        return cls(server, _read_version(version_dir))


def _read_version(version_dir: Path) -> str:
    card = version_dir / "model_card.json"
    try:
        saved = json.loads(card.read_text())
        recorded, expected = str(saved["version"]), dict(saved["files"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        msg = f"{card} is missing or corrupt: {exc}"
        raise ArtifactError(msg) from exc
    # A partner holds only client/, a scorer only server/: check whichever files are here.
    for name, digest in file_digests(version_dir).items():
        if expected.get(name) != digest:
            msg = f"{version_dir / name} does not hash to what the card of {recorded} says: corrupt"
            raise ArtifactError(msg)
    return recorded


def save_artifacts(
    model: Any,
    binning: Binning | None,
    threshold: float,
    card: dict[str, Any],
    root: Path,
    *,
    spec: FeatureSpec,
) -> Path:
    """Write a new version under ``root``; return its directory (named by its version). The
    feature ``spec`` goes into the client part (the version covers it)."""
    from concrete.ml.deployment import FHEModelDev  # noqa: PLC0415

    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        FHEModelDev(str(staging / "dev"), model).save()
        (staging / "client").mkdir()
        (staging / "server").mkdir()
        shutil.move(staging / "dev" / "client.zip", staging / "client" / "client.zip")
        shutil.move(staging / "dev" / "server.zip", staging / "server" / "server.zip")
        shutil.rmtree(staging / "dev")
        preprocessing = {
            "feature_names": list(spec.feature_names),
            "binning": binning.to_json() if binning else None,
            "threshold": threshold,
            "feature_spec": spec.to_json(),
            # Trees summed inside FHE: the client must not sum the decrypted output again.
            # Concrete-ML 1.9's deployment client does not carry the switch over; see
            # models.fhe.client.keys._fhe_client.
            "trees_summed_in_fhe": bool(getattr(model, "_fhe_ensembling", False)),
        }
        (staging / "client" / "preprocessing.json").write_text(json.dumps(preprocessing))
        # For assessment only (the fitted quantized model, to re-run it in the clear or in
        # simulation); never shipped to partners or scorers and not part of the version hash.
        (staging / DEV_MODEL_FILE).parent.mkdir()
        (staging / DEV_MODEL_FILE).write_text(model.dumps())
        version = artifact_version(staging)
        card = {"version": version, **card, "threshold": threshold, "files": file_digests(staging)}
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
        final = root / version
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
