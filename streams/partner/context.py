"""What a partner's agents hold: its keys, its alert threshold and its request-id secret.

Only the partner's worker builds a :class:`PartnerContext` (:mod:`streams.partner.worker`); the
secret key inside :class:`~models.fhe.client.keys.KeyRing` never leaves this folder.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from models.fhe.client.keys import KeyRing

__all__ = ["PartnerContext", "request_id_of"]


@dataclass(frozen=True)
class PartnerContext:
    """A partner's keys, its threshold and the secret its request ids are made with."""

    partner: str
    ring: KeyRing
    threshold: float
    request_secret: bytes

    @property
    def model_version(self) -> str:
        """The model the partner's keys are for."""
        return self.ring.current.client.version

    @property
    def key_id(self) -> str:
        """The key id requests are encrypted under now."""
        return self.ring.current.key_id


def request_id_of(secret: bytes, partner: str, transaction_id: int) -> str:
    """An opaque request id: the same for a transaction processed twice (after a crash), and
    meaningless to the scorer (a keyed hash with a secret only the partner holds)."""
    message = f"{partner}:{transaction_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]
