"""The shared scorer's agent: encrypted requests in, encrypted verdicts out, per partner.

The scorer holds evaluation keys (public) and the compiled server circuit, nothing else: nothing
under ``streams/scorer/`` imports the partner's folder or the client side of the FHE code
(import-linter contracts; a test checks the running process too). A request is the input
envelope (model version and key id inside) with the partner id and the request id in headers;
its key is the request id. The verdict goes to ``<root>.<partner>.verdicts.v1`` under the same
key. A scorer serves one or more model versions at once (during a model change partners send
under the old and the new); each request is evaluated by the model its envelope names, with
keys published for that model. A request that cannot be scored (unknown partner or key, a key of
another partner or of another model, a model not served, a bad ciphertext) is dead-lettered on
``<root>.scoring.deadletter.v1`` with the reason, and the partition moves on.

:class:`ScorerSteps` scores one request (no Faust: testable with a key follower and a pool of
its own); :class:`ScorerAgent` wires it to the app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Any

import faust

from models.errors import KeyMaterialError, ModelMismatchError
from models.fhe.envelope import open_envelope
from models.fhe.proof import Signer
from streams.core.errors import KeyRegistryUnavailableError
from streams.core.messages import RawRecord, ScoringRequest, Verdict
from streams.core.signatures import VerdictClaim, digest_of, sign
from streams.core.topics import SCORING_SCOPE, TopicNames
from streams.runtime.agents import AgentSet, raw_topic, run_agent
from streams.runtime.delivery import deliver
from streams.runtime.logs import get_logger
from streams.scorer.admission import RequestGuard
from streams.scorer.fhe_pool import FhePool
from streams.scorer.key_follower import KeySource, KnownKey
from streams.scorer.metrics import ScorerMetrics

__all__ = ["ScorerAgent", "ScorerSteps"]

_log = get_logger(__name__)


class ScorerSteps:
    """Scoring one request: check it, wait for its key, check its signature, evaluate it in the
    pool, sign the verdict."""

    def __init__(
        self,
        model_versions: Collection[str],
        partners: Collection[str],
        keys: KeySource,
        pool: FhePool,
        key_wait: float,
        *,
        signer: Signer,
        guard: RequestGuard,
        metrics: ScorerMetrics | None = None,
    ) -> None:
        """Serve ``partners`` with the models ``model_versions`` (those ``pool`` holds); sign
        verdicts with ``signer``; admit requests through ``guard``; count in ``metrics``."""
        if isinstance(model_versions, str):  # a str is a collection of characters
            msg = "model_versions is a collection of version ids, not one str"
            raise TypeError(msg)
        self.model_versions = frozenset(model_versions)
        self.partners = frozenset(partners)
        self.keys = keys
        self.pool = pool
        self.key_wait = key_wait
        self.signer = signer
        self.guard = guard
        self.metrics = metrics or ScorerMetrics()
        self.metrics.watch(
            lambda: len(self.keys.known_key_ids()), lambda: self.pool.health()["in_flight"]
        )

    def readiness(self) -> dict[str, Any]:
        """What ``/ready`` shows: ready once the evaluation processes are up and the keys
        topics were read to their end, and while no evaluation hangs past its time limit."""
        caught_up = self.keys.wait_caught_up(0)
        evaluations = self.pool.health()
        return {
            "ready": self.pool.ready
            and not evaluations["hung"]
            and caught_up
            and self.keys.error is None,
            "registry_error": None if self.keys.error is None else str(self.keys.error),
            "evaluators_ready": self.pool.ready,
            "evaluations": evaluations,
            "registry_caught_up": caught_up,
            "models": sorted(self.model_versions),
            "key_ids": sorted(self.keys.known_key_ids()),
        }

    async def score(self, record: RawRecord, timestamp_s: float | None = None) -> Verdict:
        """The encrypted verdict of one request record; raises when it cannot be scored.
        ``timestamp_s`` is the record's Kafka timestamp (how long it queued)."""
        picked_ms = time.time() * 1000
        request = ScoringRequest.from_record(
            record.key, record.value, record.headers, self.partners
        )
        envelope = open_envelope(request.envelope, "input")
        model = envelope.model_version
        if model not in self.model_versions:
            served = ", ".join(sorted(self.model_versions))
            msg = f"ciphertext made for model {model}, which this scorer does not serve ({served})"
            raise ModelMismatchError(msg)
        known = await self.wait_for_key(envelope.key_id, request.partner)
        if known.model_version != model:
            msg = (
                f"key id {envelope.key_id} was published for model {known.model_version}, "
                f"the request is for model {model}"
            )
            raise KeyMaterialError(msg)
        self.guard.admit(request, known.public_key, envelope.key_id, model)
        verdict_enc, fhe_seconds = await self.pool.evaluate(
            request.envelope, envelope.key_id, model
        )
        queued_ms = picked_ms - timestamp_s * 1000 if timestamp_s else None
        self.metrics.scored(
            request.partner, model, fhe_seconds, None if queued_ms is None else queued_ms / 1000
        )
        claim = VerdictClaim(
            request.partner,
            request.request_id,
            envelope.key_id,
            model,
            digest_of(request.envelope),
            digest_of(verdict_enc),
            int(time.time() * 1000),
        )
        return Verdict(
            partner=request.partner,
            request_id=request.request_id,
            envelope=verdict_enc,
            queued_ms=queued_ms or 0.0,
            fhe_ms=fhe_seconds * 1000,
            key_id=envelope.key_id,
            request_digest=claim.request_digest,
            signed_at_ms=claim.signed_at_ms,
            signature=sign(self.signer, claim),
        )

    async def wait_for_key(self, key_id: str, partner: str) -> KnownKey:
        """``key_id``'s stored evaluation keys, once there; raise if they will not come.

        Until the keys topics have been read to their end, the request waits (its keys may be
        there). After that a key id still unknown is refused as soon as the follower has read
        everything published since the request came (nobody published it), and after
        ``key_wait`` at most: one partner's bad request holds the shared scorer ~1 s, not more.
        """
        while not self.keys.wait_caught_up(0):
            if self.keys.error is not None:
                msg = f"the key registry cannot be read: {self.keys.error}"
                raise KeyRegistryUnavailableError(msg)
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + self.key_wait
        mark = self.keys.reads_done()
        known = self.keys.get(key_id)
        while known is None and time.monotonic() < deadline:
            settled = self.keys.read_everything_since(mark)
            known = self.keys.get(key_id)
            if known is not None or settled:
                break
            await asyncio.sleep(0.1)
        if known is None and self.keys.revoked(key_id):
            msg = f"key id {key_id} was revoked by its owner"
            raise KeyMaterialError(msg)
        if known is None:
            msg = f"no evaluation keys for key id {key_id} (none published)"
            raise KeyMaterialError(msg)
        if known.partner != partner:
            msg = f"key id {key_id} belongs to another partner, not to {partner}"
            raise KeyMaterialError(msg)
        return known


class ScorerAgent:
    """The scorer's topics and agent on its Faust app."""

    def __init__(self, app: faust.App, names: TopicNames, steps: ScorerSteps) -> None:
        """Declare the request, verdict and dead-letter topics on ``app``."""
        self.steps = steps
        self.requests = raw_topic(app, names.scoring_requests(), allow_empty=True)
        self.verdicts = {p: raw_topic(app, names.verdicts(p)) for p in sorted(steps.partners)}
        self.dead = raw_topic(app, names.deadletter(SCORING_SCOPE))

    def install(self, app: faust.App, agents: AgentSet) -> None:
        """Attach the agent and the task that starts the key follower and the FHE pool."""
        app.task(self.start_evaluators)
        agents.add(app, self.score_requests, self.requests)

    async def start_evaluators(self) -> None:
        """Follow the keys topics; start the FHE processes before the first request comes."""
        self.steps.keys.start()
        versions = await self.steps.pool.warm_up()
        _log.info("evaluators_ready", processes=self.steps.pool.processes, models=versions)

    async def score_requests(self, stream: faust.StreamT[Any]) -> None:
        """Evaluate each encrypted request and route its encrypted verdict to its partner."""

        async def forward(record: Any, verdict: Verdict) -> None:
            await deliver(
                self.verdicts[verdict.partner],
                key=verdict.key,
                value=verdict.envelope,
                headers=verdict.headers(),
            )
            _log.info(
                "request_scored",
                partner=verdict.partner,
                request_id=verdict.request_id,
                key_id=verdict.key_id,
                fhe_ms=round(verdict.fhe_ms or 0.0, 1),
                queued_ms=round(verdict.queued_ms or 0.0, 1),
                partition=record.partition,
                offset=record.offset,
            )

        # overlap: the verdict (about 160 KB) is delivered while the next request is evaluated;
        # one request in flight per pool process (verdicts still leave in the requests' order).
        await run_agent(
            stream,
            lambda record: self.steps.score(record, record.timestamp),
            forward,
            self.dead,
            overlap=True,
            in_flight=self.steps.pool.processes,
        )
