"""Partner side: the key seed, 128 random bits from which a partner's keys are made.

A :class:`KeySeed` determines the FHE secret key of one model version
(:meth:`models.fhe.client.keys.PartnerKeys.derive`) and the partner's Ed25519 signing key for the
evaluation keys it publishes and the requests it sends, whose public half gives the key id (see
:mod:`models.fhe.proof`). Both are derived from the seed by HKDF-SHA256 with their own ``info``
(domain separation): neither key says anything about the other, nor about the seed.
The seed is a few hundred bytes where the key folder is tens of megabytes (the evaluation keys),
so it is what a deployment stores (e.g. as a Kubernetes Secret) and the key folder is derived
from it when a gateway starts. Evaluation keys made again from the same seed differ in their
bytes (concrete draws fresh noise) but serve the same secret key, so a scorer holding the first
ones keeps working.

The seed *is* the secret key in compact form: only partner processes import this module.
"""

from __future__ import annotations

import json
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from models.errors import KeyMaterialError
from models.fhe.artifacts import ClientArtifact
from models.fhe.proof import Ed25519Signer, key_id_of
from models.fhe.secret_file import create_secret_file

__all__ = ["KeySeed", "PublicationSigner"]

_SEED_FORMAT = "fraudstream-key-seed/3"
_SEED_BITS = 128
_PARTNER_PATTERN = r"[a-z][a-z0-9-]{0,31}"  # streams.core.settings.PARTNER_ID_PATTERN


@dataclass(frozen=True)
class KeySeed:
    """What one partner's keys for one model version are made from.

    ``secret_seed`` *is* the secret key in compact form: keep the seed file as secret as the key
    folder (it is written 0600, and the seed is kept out of ``repr``).
    """

    partner: str
    model_version: str
    secret_seed: int = field(repr=False)

    def __post_init__(self) -> None:
        """Refuse a seed out of range: concrete reads 0 as "draw a random seed"."""
        if not 0 < self.secret_seed < 2**_SEED_BITS:
            msg = f"a key seed is a number of 1 to {_SEED_BITS} bits, not 0 or more"
            raise KeyMaterialError(msg)
        if not re.fullmatch(_PARTNER_PATTERN, self.partner) or not self.model_version:
            msg = f"a key seed names a partner id ({_PARTNER_PATTERN}) and a model version"
            raise KeyMaterialError(msg)

    @classmethod
    def new(cls, client: ClientArtifact, partner: str) -> KeySeed:
        """A fresh random seed for ``partner`` and ``client``'s model version."""
        seed = 0
        while seed == 0:
            seed = secrets.randbits(_SEED_BITS)
        return cls(partner, client.version, seed)

    def _derive(self, purpose: bytes, length: int) -> bytes:
        """``length`` bytes for ``purpose`` (HKDF-SHA256 of the seed, info naming the purpose and
        the model version)."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=length,
            salt=None,
            info=b"fraudstream " + purpose + b"\0" + self.model_version.encode(),
        ).derive(self.secret_seed.to_bytes(_SEED_BITS // 8, "big"))

    def signing_key(self) -> Ed25519PrivateKey:
        """The partner's Ed25519 key for this model version."""
        return Ed25519PrivateKey.from_private_bytes(self._derive(b"registry signing key v1", 32))

    @property
    def fhe_seed(self) -> int:
        """The seed concrete makes the FHE secret key from (never 0: concrete reads 0 as
        "draw a random one")."""
        return int.from_bytes(self._derive(b"fhe secret key v1", _SEED_BITS // 8), "big") or 1

    @property
    def key_id(self) -> str:
        """The key id: derived from the public signing key (see :mod:`models.fhe.proof`)."""
        return key_id_of(PublicationSigner(self.signing_key()).public_key)

    def to_json(self) -> str:
        """The seed file's content."""
        return json.dumps(
            {
                "format": _SEED_FORMAT,
                "partner": self.partner,
                "model_version": self.model_version,
                "secret_seed": f"{self.secret_seed:032x}",
            }
        )

    def write(self, path: Path) -> None:
        """Write the seed file (mode 0600); refuse to overwrite one."""
        try:
            create_secret_file(path, self.to_json() + "\n")
        except FileExistsError as exc:
            msg = f"{path} exists: refusing to overwrite a key seed (write a new file)"
            raise KeyMaterialError(msg) from exc

    @classmethod
    def read(cls, path: Path) -> KeySeed:
        """Read a seed file; a missing, corrupt or foreign file, or one any user outside its
        owner and group may read, is a :class:`KeyMaterialError`. (A Kubernetes Secret volume
        with an ``fsGroup`` makes its files 0440: the group is the pod's own.)"""
        try:
            mode = path.stat().st_mode
            raw: Any = json.loads(path.read_text())
        except FileNotFoundError as exc:
            msg = f"no key seed at {path}: make one with `fraudstream keys seed`"
            raise KeyMaterialError(msg) from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"{path} is not a readable key seed: {exc}"
            raise KeyMaterialError(msg) from exc
        if mode & stat.S_IRWXO:
            msg = f"the key seed {path} may be read by any user (mode {mode & 0o777:o}): chmod 600"
            raise KeyMaterialError(msg)
        found = raw.get("format") if isinstance(raw, dict) else None
        earlier = isinstance(found, str) and found.startswith("fraudstream-key-seed/")
        if earlier and found != _SEED_FORMAT:
            msg = (
                f"{path} is a key seed of an earlier version ({found}, not {_SEED_FORMAT}): "
                "make a new one with `fraudstream keys seed`"
            )
            raise KeyMaterialError(msg)
        if not isinstance(raw, dict) or found != _SEED_FORMAT:
            msg = f'{path} is not a key seed (no "format": "{_SEED_FORMAT}")'
            raise KeyMaterialError(msg)
        try:
            return cls(
                str(raw["partner"]), str(raw["model_version"]), int(str(raw["secret_seed"]), 16)
            )
        except KeyError as exc:
            msg = f"the key seed {path} lacks {exc}"
            raise KeyMaterialError(msg) from exc
        except ValueError as exc:
            msg = f"the key seed {path} has a secret_seed that is not hexadecimal"
            raise KeyMaterialError(msg) from exc


class PublicationSigner(Ed25519Signer):
    """Signs registry chunks, revocations and requests with the partner's Ed25519 key."""
