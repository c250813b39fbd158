"""An Ed25519 signer for tests: a partner's registry key, the scorer's key, or a stranger's."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.fhe.proof import Ed25519Signer, key_id_of

__all__ = ["Signer"]


class Signer(Ed25519Signer):
    """A fresh Ed25519 key: its raw public key, the key id it gives, and ``sign``."""

    def __init__(self) -> None:
        super().__init__(Ed25519PrivateKey.generate())
        self.key_id = key_id_of(self.public_key)
