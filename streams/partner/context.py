"""What a partner's agents hold: its keys, its alert thresholds, its request-id secret and the
scorer's public keys it pins; during a model change, the candidate's keys it shadow-scores with.

Only the partner's worker builds a :class:`PartnerContext` (:mod:`streams.partner.worker`); the
secret key inside :class:`~models.fhe.client.keys.KeyRing` never leaves this folder.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from models.features.incremental import StreamFeatures
from models.features.shared import SharedCounts
from models.fhe.client.keys import KeyRing, PartnerKeys
from models.fhe.client.seed import PublicationSigner
from streams.core.messages import ScoringRequest
from streams.core.signatures import RequestClaim, digest_of, sign

__all__ = ["PartnerContext", "SumsFeed", "request_id_of"]


class SumsFeed(Protocol):
    """Where the shared counts' sums come from (:class:`~streams.partner.sums_follower.
    SumsFollower`)."""

    def apply(self, shared: SharedCounts) -> int:
        """Add the sums that came since the last call; how many."""


@dataclass(frozen=True)
class PartnerContext:
    """A partner's keys, its threshold, the secret its request ids are made with and the
    scorer keys whose verdicts it accepts."""

    partner: str
    ring: KeyRing
    threshold: float
    request_secret: bytes
    #: The scorer's Ed25519 public keys (raw) this partner pins: a verdict signed by none of
    #: them is refused.
    scorer_keys: tuple[bytes, ...] = field(default=())
    #: The aggregator's sums, when the model's spec shares counts and the partner is a member
    #: of the secure sums; without it, shared label windows count the partner's own only.
    sums: SumsFeed | None = None
    #: The alert threshold of each other model version the ring holds keys for (``threshold``
    #: is the current model's): a verdict is compared with its own model's threshold.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    #: A candidate model's keys (held in ``ring`` too, to decrypt): each transaction is also
    #: scored with them, and those scores go to the shadow-scores topic, never to alerts.
    shadow: PartnerKeys | None = None

    @cached_property
    def _signers(self) -> dict[str, PublicationSigner]:
        held = [self.ring.current] + ([self.shadow] if self.shadow is not None else [])
        return {keys.key_id: keys.signer() for keys in held}

    def signed_request(
        self, request_id: str, envelope: bytes, keys: PartnerKeys | None = None
    ) -> ScoringRequest:
        """The scoring request for ``envelope`` made with ``keys`` (the current keys unless
        given), signed with that key's registry key over a fresh nonce and the time
        (:class:`~streams.core.signatures.RequestClaim`)."""
        keys = keys or self.ring.current
        nonce = secrets.token_hex(16)
        signed_at_ms = int(time.time() * 1000)
        claim = RequestClaim(
            self.partner,
            request_id,
            keys.key_id,
            keys.client.version,
            digest_of(envelope),
            nonce,
            signed_at_ms,
        )
        signature = sign(self._signers[keys.key_id], claim)
        return ScoringRequest(self.partner, request_id, envelope, nonce, signed_at_ms, signature)

    def threshold_for(self, model_version: str) -> float:
        """The alert threshold of a verdict made by ``model_version``."""
        if model_version == self.model_version:
            return self.threshold
        return self.thresholds.get(model_version, self.threshold)

    @cached_property
    def features(self) -> StreamFeatures:
        """The features of the model the partner's keys are for, from its feature spec (its
        shared label windows reading the sums when there is a feed)."""
        spec = self.ring.current.client.spec
        config = spec.shared_counts
        shared = SharedCounts(config) if config is not None and self.sums is not None else None
        return StreamFeatures(spec, shared)

    def refresh_sums(self) -> None:
        """Take the sums that came since the last call (before computing features)."""
        shared = self.features.shared
        if self.sums is not None and shared is not None:
            self.sums.apply(shared)

    @property
    def model_version(self) -> str:
        """The model the partner's keys are for."""
        return self.ring.current.client.version

    @property
    def key_id(self) -> str:
        """The key id requests are encrypted under now."""
        return self.ring.current.key_id


def request_id_of(
    secret: bytes, partner: str, transaction_id: int, *, shadow_key: str | None = None
) -> str:
    """An opaque request id: the same for a transaction processed twice (after a crash), and
    meaningless to the scorer (a keyed hash with a secret only the partner holds). A shadow
    request (under the candidate's key ``shadow_key``) has an id of its own."""
    message = f"{partner}:{transaction_id}".encode()
    if shadow_key is not None:
        message += f":shadow:{shadow_key}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]
