"""The gateway of a model whose terminal label windows use the shared counts: with no sums yet,
every hour counts the partner's own and the request says how many did; with the aggregator's
sums, none falls back and the features count the other partners' transactions too. Real keys,
real encryption (the session's tiny model saved with the shared spec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from models.features.shared import SharedCounts, fallback_spans
from models.features.spec import shared_handbook_spec
from models.fhe.artifacts import ClientArtifact, save_artifacts
from models.fhe.client.keys import KeyRing, PartnerKeys
from streams.core.events import EventLimits
from streams.core.messages import PendingRequest
from streams.core.topics import TopicNames
from streams.partner.context import PartnerContext
from streams.partner.gateway import GatewaySteps
from streams.qa.data_feed import transaction_record
from streams.runtime.agents import Encoded
from tests.support.models import TinyModel

pytestmark = pytest.mark.integration

NAMES = TopicNames("shared")
START = datetime(2018, 6, 1, tzinfo=UTC)
TERMINAL = 7


@dataclass
class Sums:
    """A feed of sums (what the follower hands over), filled by the test."""

    hours: list[int] = field(default_factory=list)
    applied: int = 0

    def apply(self, shared: SharedCounts) -> int:
        size = shared.config.buckets
        transactions, frauds = np.zeros(size, np.int64), np.zeros(size, np.int64)
        transactions[TERMINAL % size], frauds[TERMINAL % size] = 5, 1
        for hour in self.hours:
            shared.add("terminal_id", hour, transactions, frauds)
        self.applied += len(self.hours)
        self.hours = []
        return self.applied


def _row(n: int, at: datetime) -> dict[str, object]:
    return {"transaction_id": n, "timestamp": at, "card_id": 11, "amount": 42.5,
            "terminal_id": TERMINAL, "label": 0}  # fmt: skip


def _pending(context: PartnerContext) -> PendingRequest:
    """History at the terminal for 20 days, then one live transaction at day 40: its request."""
    spec = context.features.spec
    gateway = GatewaySteps(context, EventLimits(frozenset({"alpha"}), 4096, 1e5, spec=spec), {})
    rows = [(_row(n, START + timedelta(hours=10 * n)), True) for n in range(48)]
    rows.append((_row(999, START + timedelta(days=40)), False))
    out = None
    for row, backfill in rows:
        sent = transaction_record(NAMES, row, "alpha", spec=spec, backfill=backfill)
        step = gateway.validate_transaction(_Record(sent.key, sent.value, sent.headers))
        out = gateway.request(_Record(step.key, step.value))
        while isinstance(out, Encoded):
            out = gateway.request(_Record(out.key, out.value))
    assert isinstance(out, tuple)
    return out[0].item


@dataclass(frozen=True)
class _Record:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "t"
    partition: int = 0


def test_a_request_says_how_many_hours_fell_back_to_own_counts(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """No sums: all 720 hours of the terminal's label windows fall back. Sums of every one of
    those hours: none does, and the terminal's counts include the other partners' 5 an hour."""
    spec = shared_handbook_spec()
    fitted = tiny_model.fitted
    directory = save_artifacts(
        fitted.model, fitted.binning, fitted.threshold, {}, tmp_path / "artifacts", spec=spec
    )
    client = ClientArtifact.load(directory)
    PartnerKeys.generate(client, tmp_path / "alpha", "alpha")
    ring = KeyRing.load(client, tmp_path / "alpha", ())

    def context(sums: Sums) -> PartnerContext:
        return PartnerContext("alpha", ring, 0.5, b"s" * 32, (), sums)

    (span,) = fallback_spans(spec, "terminal_id")
    alone = _pending(context(Sums()))
    assert alone.shared_fallback_buckets == span[0] - span[1] == 720

    live_hour = int((START + timedelta(days=40)).timestamp()) // 3600
    summed = _pending(context(Sums(hours=list(range(live_hour - span[0], live_hour - span[1])))))
    assert summed.shared_fallback_buckets == 0
    names = spec.feature_names
    shared_counts = [i for i, n in enumerate(names) if n.startswith("TERMINAL_ID_NB_TX")]
    assert shared_counts
    for i in shared_counts:
        assert summed.features[i] > alone.features[i]
