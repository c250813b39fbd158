"""The batch side of a check: what a model gives a recording's transactions without the stream.

For each partner of the input, its transactions (history and live, in send order) and its
labels become a canonical frame; the model's own feature spec computes their features with the
batch path (:mod:`models.features.batch`, the code training uses) and the fitted model scores
them in the clear. ``verify --batch`` compares these with what the real pipeline (incremental
features, encryption, FHE, decryption) gave the live transactions: a difference is a bug in one
of the two paths, or an FHE error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from models.features.batch import compute_features, rows_frame
from models.fhe.artifacts import ClientArtifact
from models.training.assessment import load_dev_model
from streams.core.errors import VerifyError
from streams.qa.replay_plan import ReplayMessage
from streams.qa.score_comparison import Outcome

__all__ = ["BatchScores", "batch_scores"]


@dataclass(frozen=True)
class BatchScores:
    """The batch outcome and features of each live transaction, by (partner, transaction id)."""

    outcomes: dict[tuple[str, int], Outcome]
    features: dict[tuple[str, int], tuple[float, ...]]


def _event(message: ReplayMessage) -> dict[str, Any]:
    try:
        event = orjson.loads(message.value or b"")
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        msg = f"{message.topic}: an input event is not valid JSON with a timestamp: {exc}"
        raise VerifyError(msg) from exc
    if not isinstance(event, dict):
        msg = f"{message.topic}: an input event is not a JSON object"
        raise VerifyError(msg)
    return event


def batch_scores(
    messages: Sequence[ReplayMessage], model_dir: Path, threshold: float | None = None
) -> BatchScores:
    """Batch features and clear scores of the live transactions among ``messages`` (a
    recording's inputs, in send order) under the model of ``model_dir``. ``threshold``: the
    partners' (default: the model's own)."""
    client = ClientArtifact.load(model_dir)
    model = load_dev_model(model_dir)
    spec = client.spec
    threshold = client.threshold if threshold is None else threshold
    outcomes: dict[tuple[str, int], Outcome] = {}
    features: dict[tuple[str, int], tuple[float, ...]] = {}
    for partner in sorted({m.partner for m in messages if m.is_transaction}):
        mine = [m for m in messages if m.partner == partner]
        frauds = {int(_event(m)["transaction_id"]) for m in mine if m.is_label}
        sent = [(m, _event(m)) for m in mine if m.is_transaction]
        rows = [{**event, "label": int(event["transaction_id"] in frauds)} for _, event in sent]
        try:
            frame = rows_frame(rows, spec)
        except KeyError as exc:
            msg = f"{partner}'s events lack the field {exc} of the model's spec {spec.name}"
            raise VerifyError(msg) from exc
        computed = compute_features(frame, spec)
        live = np.array([not m.backfill for m, _ in sent], dtype=bool)
        x = computed.loc[live, list(spec.feature_names)].to_numpy(np.float64)
        if not len(x):
            continue
        prepared = client.binning.transform(x) if client.binning else x
        scores = model.predict_proba(prepared, fhe="disable")[:, 1]
        ids = pd.Series(frame["transaction_id"]).to_numpy()[live]
        for tx_id, vector, score in zip(ids, x, scores, strict=True):
            key = (partner, int(tx_id))
            features[key] = tuple(float(v) for v in vector)
            outcomes[key] = Outcome(
                partner=partner,
                transaction_id=int(tx_id),
                score=float(score),
                alert=bool(score >= threshold),
                threshold=threshold,
                model_version=client.version,
            )
    return BatchScores(outcomes, features)
