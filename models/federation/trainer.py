"""A partner's trainer: it answers the coordinator's tasks from its own rows and sends nothing else.

It runs inside the partner, next to its gateway, on features computed by the same code (batch
path of the same feature spec). What leaves it, each message signed with its member key:

- ``joined``: how many training rows and frauds it holds (they go on the model card), its feature
  spec's digest, and its masking key for the run's secure sums;
- a masked histogram of its features by label (the shared binning) and, once the model is built,
  of its scores by label (the shared threshold), each masked so that only the sum over all
  members can be read (:mod:`models.federation.secure_sum`);
- trees boosted on its rows on top of the current ensemble (:mod:`models.federation.trees`).

It refuses any task not signed by the coordinator it was given, for another run, for another
feature spec, or that would mask a vector for a roster without another member.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.errors import FederationError
from models.federation.histograms import feature_histogram, score_histogram
from models.federation.secure_sum import (
    Ledger,
    MaskingKey,
    Roster,
    masked_message,
)
from models.federation.trees import TreeParams, boost, to_concrete
from models.federation.wire import (
    BOOST,
    JOIN,
    MASKING_KEY,
    SUM,
    TREES,
    Envelope,
    MemberKey,
    Members,
)
from models.fhe.binning import Binning

__all__ = ["LocalRows", "PartnerTrainer", "roster_of"]

_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LocalRows:
    """A partner's labelled training rows: features in the spec's order, and labels."""

    x_clear: _Floats
    labels: npt.NDArray[np.int64]
    spec_digest: str

    @property
    def frauds(self) -> int:
        """How many rows are frauds."""
        return int(self.labels.sum())


def roster_of(body: dict[str, object], members: Members, run: str) -> Roster:
    """The roster a sum task carries (each member's signed masking key, checked)."""
    frames = body.get("roster")
    if not isinstance(frames, list):
        msg = "a sum task carries no roster"
        raise FederationError(msg)
    return Roster.from_messages((base64.b64decode(f) for f in frames), members, run)


@dataclass
class PartnerTrainer:
    """Answers one coordinator's tasks from ``rows``; never sends a row."""

    member: MemberKey
    members: Members
    coordinator: str
    rows: LocalRows
    ledger: Ledger = field(default_factory=Ledger)
    _masking: MaskingKey = field(default_factory=MaskingKey)

    def handle(self, frame: bytes) -> bytes:
        """The signed answer to the task in ``frame``."""
        task = Envelope.decode(frame, self.members)
        if task.sender != self.coordinator:
            msg = f"a task from {task.sender!r}, not from the coordinator {self.coordinator!r}"
            raise FederationError(msg)
        if task.body.get("spec") != self.rows.spec_digest:
            msg = (
                f"the run's feature spec is {task.body.get('spec')!r}, this partner's features "
                f"are {self.rows.spec_digest!r}: the trees would not fit its features"
            )
            raise FederationError(msg)
        if task.kind == JOIN:
            return self._join(task)
        deadline = float(task.body.get("deadline", 0))
        if time.time() > deadline:
            msg = f"task {task.round!r} is past its deadline: not answered (see docs/federation.md)"
            raise FederationError(msg)
        if task.kind == SUM:
            return self._sum(task)
        if task.kind == BOOST:
            return self._boost(task)
        msg = f"unknown task kind {task.kind!r}"
        raise FederationError(msg)

    def _join(self, task: Envelope) -> bytes:
        body: dict[str, object] = {
            "rows": len(self.rows.labels),
            "frauds": self.rows.frauds,
            "spec": self.rows.spec_digest,
        }
        reply = Envelope(MASKING_KEY, self.member.name, task.run, task.round, body)
        return Envelope(
            reply.kind, reply.sender, reply.run, reply.round, reply.body, self._masking.public_key
        ).encode(self.member)

    def _sum(self, task: Envelope) -> bytes:
        roster = roster_of(task.body, self.members, task.run)
        binning = Binning.from_json(task.body["binning"]) if "binning" in task.body else None
        if task.body.get("of") == "features":
            counts = feature_histogram(self.rows.x_clear, self.rows.labels)
        elif task.body.get("of") == "scores" and binning is not None:
            model = to_concrete(
                str(task.body["model"]).encode(),
                binning,
                int(task.body["n_bits"]),
                int(task.body["depth"]),
            )
            scores = model.predict_proba(binning.transform(self.rows.x_clear), fhe="disable")
            counts = score_histogram(scores[:, 1], self.rows.labels)
        else:
            msg = f"a sum task of {task.body.get('of')!r}: only features or scores are summed"
            raise FederationError(msg)
        return masked_message(
            counts,
            member=self.member,
            masking=self._masking,
            roster=roster,
            run=task.run,
            round_id=task.round,
            ledger=self.ledger,
        )

    def _boost(self, task: Envelope) -> bytes:
        binning = Binning.from_json(task.body["binning"])
        params = TreeParams(**task.body["params"])
        base = task.body.get("model")
        update = boost(
            binning.transform(self.rows.x_clear),
            self.rows.labels,
            None if base is None else str(base).encode(),
            int(task.body["trees"]),
            params,
        )
        body = {"rows": len(self.rows.labels), "frauds": self.rows.frauds}
        return Envelope(TREES, self.member.name, task.run, task.round, body, update).encode(
            self.member
        )
