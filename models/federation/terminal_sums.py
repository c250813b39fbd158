"""The cross-partner terminal signal, shared as sums only: one secure sum per time bucket.

For each time bucket (an hour by default) whose labels are final, every partner submits its own
transactions and frauds per entity bucket (:func:`models.features.contribution.own_counts`),
masked (:mod:`models.federation.secure_sum`); the aggregator sums the masked vectors and learns
the per-bucket totals of all partners together, which every gateway then reads
(:class:`models.features.shared.SharedCounts`). A time bucket that misses a partner is not
summed: the gateways use their own counts for it, and their features say how many buckets did.

:func:`secure_bucket_sums` runs these rounds in one process over partners' frames: the batch path
of training and of the experiments, with the very masks the service uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from models.errors import FederationError
from models.features.contribution import own_counts
from models.features.shared import SharedCounts
from models.features.spec import FeatureSpec
from models.federation.secure_sum import (
    Ledger,
    MaskingKey,
    Roster,
    masked_message,
    masking_key_message,
    sum_masked,
)
from models.federation.shared_rounds import bucket_round
from models.federation.wire import MemberKey, Members

__all__ = ["secure_bucket_sums"]

Tick = Callable[[int, int], None]


def secure_bucket_sums(
    frames: Mapping[str, pd.DataFrame],
    spec: FeatureSpec,
    *,
    answers: Callable[[str, int], bool] = lambda partner, time_bucket: True,
    tick: Tick | None = None,
) -> SharedCounts:
    """The sums over ``frames`` (partner → its canonical frame) of every time bucket the frames
    span, each computed by a secure sum; a bucket for which ``answers(partner, bucket)`` is false
    for some partner is skipped (left out of the sums)."""
    config = spec.shared_counts
    if config is None:
        msg = f"the feature spec {spec.name} has no [shared_counts]: nothing to sum"
        raise FederationError(msg)
    names = sorted(frames)
    keys = {name: MemberKey.generate(name) for name in names}
    masking = {name: MaskingKey() for name in names}
    members = Members.of(*keys.values())
    run = f"shared-counts/{spec.digest}"
    roster = Roster.from_messages(
        (masking_key_message(keys[n], masking[n], run) for n in names), members, run
    )
    contributions = {name: own_counts(frame, spec) for name, frame in frames.items()}
    ledgers = {name: Ledger() for name in names}
    shared = SharedCounts(config)
    for entity in config.entities:
        buckets = sorted({b for counts in contributions.values() for b in counts[entity]})
        for done, time_bucket in enumerate(buckets, start=1):
            round_id = bucket_round(entity, time_bucket)
            masked = []
            for name in names:
                if not answers(name, time_bucket):
                    continue
                transactions, frauds = contributions[name][entity].get(
                    time_bucket, (np.zeros(config.buckets, np.int64),) * 2
                )
                masked.append(
                    masked_message(
                        np.concatenate([transactions, frauds]).astype(np.uint32),
                        member=keys[name],
                        masking=masking[name],
                        roster=roster,
                        run=run,
                        round_id=round_id,
                        ledger=ledgers[name],
                    )
                )
            if len(masked) == len(names):
                total = sum_masked(masked, members, roster, round_id).astype(np.int64)
                shared.add(entity, time_bucket, total[: config.buckets], total[config.buckets :])
            if tick:
                tick(done, len(buckets))
    return shared
