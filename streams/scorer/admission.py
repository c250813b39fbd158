"""Which requests the scorer evaluates: signed by their key id's owner, recent, not replayed.

The scorer spends seconds of CPU per request, for every partner: a request that its key id's
owner did not sign, that was signed too long ago or ahead of the scorer's clock, or whose nonce
was already seen (a replay) is refused before any FHE work (:mod:`streams.core.signatures`).
Nonces are remembered for as long as a request may be late, with a bound on how many.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from streams.core.errors import SignatureError
from streams.core.messages import ScoringRequest
from streams.core.signatures import RequestClaim, digest_of, verify

__all__ = ["RequestGuard"]


class RequestGuard:
    """Checks each request's signature, age and nonce."""

    def __init__(
        self,
        max_age_s: float,
        max_skew_s: float = 300.0,
        capacity: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Accept requests signed at most ``max_age_s`` ago and ``max_skew_s`` ahead; keep at
        most ``capacity`` nonces (the oldest are forgotten first)."""
        self.max_age_ms = max_age_s * 1000
        self.max_skew_ms = max_skew_s * 1000
        self.capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()

    def admit(
        self, request: ScoringRequest, public_key: bytes, key_id: str, model_version: str
    ) -> None:
        """Return if ``request`` may be evaluated; raise :class:`SignatureError` saying why not.
        ``public_key`` is the registry key of the key id the envelope names."""
        claim = RequestClaim(
            request.partner,
            request.request_id,
            key_id,
            model_version,
            digest_of(request.envelope),
            request.nonce,
            request.signed_at_ms,
        )
        verify([public_key], request.signature, claim)
        now_ms = self._clock() * 1000
        age_ms = now_ms - request.signed_at_ms
        if age_ms > self.max_age_ms:
            msg = f"the request was signed more than {self.max_age_ms / 1000:g} s ago"
            raise SignatureError(msg)
        if -age_ms > self.max_skew_ms:
            msg = f"the request is signed more than {self.max_skew_ms / 1000:g} s ahead"
            raise SignatureError(msg)
        self._forget(now_ms - self.max_age_ms)
        seen = (request.request_id, request.nonce)
        if seen in self._seen:
            msg = "the request is a replay (its nonce was already evaluated)"
            raise SignatureError(msg)
        self._seen[seen] = request.signed_at_ms

    def _forget(self, before_ms: float) -> None:
        """Drop nonces signed before ``before_ms`` (they can no longer be admitted anyway)
        and the oldest ones beyond the capacity."""
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest >= before_ms and len(self._seen) < self.capacity:
                return
            self._seen.popitem(last=False)
