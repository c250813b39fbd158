"""Terminal counts summed by secure sums: the sums are every partner's counts together, and a
time bucket that misses a partner is left out (gateways then use their own counts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import FederationError
from models.features.contribution import own_counts
from models.features.spec import handbook_spec, shared_handbook_spec
from models.federation.terminal_sums import secure_bucket_sums


def _frame(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2018-07-01", tz="UTC")
    seconds = np.sort(rng.integers(0, 3 * 86400, n))
    return pd.DataFrame(
        {
            "transaction_id": np.arange(n) + seed * 10_000,
            "timestamp": start + pd.to_timedelta(seconds, unit="s"),
            "card_id": rng.integers(0, 50, n) + seed * 1000,
            "terminal_id": rng.integers(0, 30, n),
            "amount": rng.gamma(2.0, 50.0, n),
            "label": (rng.random(n) < 0.1).astype(np.int64),
        }
    )


def test_the_secure_sums_are_the_counts_of_all_partners_together() -> None:
    """Every time bucket's sums equal the counts of the partners' rows pooled."""
    spec = shared_handbook_spec()
    frames = {"alpha": _frame(1), "bravo": _frame(2), "charlie": _frame(3)}
    shared = secure_bucket_sums(frames, spec)
    pooled = own_counts(pd.concat(frames.values()).sort_values("timestamp"), spec)["terminal_id"]
    assert len(shared.time_buckets("terminal_id")) == len(pooled)
    for time_bucket, (transactions, frauds) in pooled.items():
        held = shared.counts("terminal_id", time_bucket)
        assert {b: tx for b, (tx, _) in held.items()} == {
            int(b): int(transactions[b]) for b in np.flatnonzero(transactions)
        }
        assert sum(fr for _, fr in held.values()) == int(frauds.sum())


def test_a_bucket_a_partner_missed_is_not_summed() -> None:
    """Bravo misses two hours: those hours have no sums at all (no partial sum), the rest do."""
    spec = shared_handbook_spec()
    frames = {"alpha": _frame(1), "bravo": _frame(2)}
    everything = secure_bucket_sums(frames, spec)
    buckets = everything.time_buckets("terminal_id")
    missed = {int(buckets[3]), int(buckets[10])}
    shared = secure_bucket_sums(
        frames, spec, answers=lambda partner, bucket: not (partner == "bravo" and bucket in missed)
    )
    assert set(map(int, shared.time_buckets("terminal_id"))) == set(map(int, buckets)) - missed


def test_a_spec_without_shared_counts_has_nothing_to_sum() -> None:
    """Summing with a spec that declares no shared counts is refused, saying so."""
    with pytest.raises(FederationError, match="no \\[shared_counts\\]"):
        secure_bucket_sums({"alpha": _frame(1), "bravo": _frame(2)}, handbook_spec())
