"""The scorer's own Ed25519 key: it signs every verdict; partners pin its public half.

The key file is JSON (``{"format": "fraudstream-scorer-key/1", "private_key": <hex>}``), written
0600 by ``fraudstream keys scorer`` and refused on read when any user outside its owner and group
may read it (a Kubernetes Secret volume with an ``fsGroup`` makes its files 0440: the group is the
pod's own).
It is not an FHE key: it cannot decrypt anything, it only says "this scorer produced this verdict
for this request". Partners set ``FRAUD_SCORER_PUBLIC_KEYS`` to its public key (two during a
rotation of the scorer's key).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.fhe.proof import Ed25519Signer
from models.fhe.secret_file import create_secret_file
from streams.core.errors import ConfigError

__all__ = ["ScorerKey"]

_FORMAT = "fraudstream-scorer-key/1"


class ScorerKey(Ed25519Signer):
    """The scorer's signing key (it signs verdict claims); use :meth:`generate` or
    :meth:`load`."""

    @classmethod
    def generate(cls, path: Path) -> ScorerKey:
        """Make a new key and write it to ``path`` (0600); refuse to overwrite a file."""
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            create_secret_file(
                path, json.dumps({"format": _FORMAT, "private_key": raw.hex()}) + "\n"
            )
        except FileExistsError as exc:
            msg = f"{path} exists: refusing to overwrite the scorer's key (name a new file)"
            raise ConfigError(msg) from exc
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> ScorerKey:
        """Read the key file; :class:`ConfigError` saying what to do when it is missing,
        readable by others, or not a scorer key."""
        try:
            mode = path.stat().st_mode
            raw: Any = json.loads(path.read_text())
        except FileNotFoundError as exc:
            msg = f"no scorer key at {path}: make one with `fraudstream keys scorer {path}`"
            raise ConfigError(msg) from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"{path} is not a readable scorer key: {exc}"
            raise ConfigError(msg) from exc
        if mode & stat.S_IRWXO:
            msg = f"{path} may be read by any user (mode {stat.S_IMODE(mode):o}): chmod 600 it"
            raise ConfigError(msg)
        if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
            msg = f'{path} is not a scorer key (no "format": "{_FORMAT}")'
            raise ConfigError(msg)
        try:
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(str(raw["private_key"])))
        except (KeyError, ValueError) as exc:
            msg = f"{path} holds no valid private_key (64 hex digits)"
            raise ConfigError(msg) from exc
        return cls(key)
