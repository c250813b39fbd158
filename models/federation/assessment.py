"""What federation costs and buys, on a protocol: the rows of docs/federation.md's table.

For N partners (cards split as :func:`models.data.handbook.partner_of` splits them), every model
has the same shape (the ``ModelSpec``) and is scored on the whole test period in FHE simulation:

- central training on global features (every partner's rows pooled: the upper bound);
- central training on per-partner features (each partner's windows see its own rows only);
- each partner alone: trained on its own rows, scoring its own test transactions;
- federated (each strategy): trainers on per-partner features, the coordinator sees no row;
- federated + secure sums: the same with a spec whose shared windows read the summed counts.

This module is the experiment, run by a model engineer on data that holds every partner's rows
(the bundled slice); in production each trainer holds only its own
(:mod:`models.federation.trainer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from models.data.handbook import TRANSACTIONS_FILE, partner_of
from models.data.sources import TransactionData, read_transactions_data
from models.features.spec import FeatureSpec
from models.federation.coordinator import FederatedModel, FederationPlan, run_federation
from models.federation.local import LocalTransport
from models.federation.terminal_sums import Tick, secure_bucket_sums
from models.federation.trainer import LocalRows, PartnerTrainer
from models.federation.trees import TreeParams, bin_inputset
from models.federation.wire import MemberKey, Members
from models.training.fitting import (
    ModelSpec,
    ProtocolData,
    compile_model,
    fit_model,
    load_protocol_data,
)
from models.training.protocol import Metrics, Protocol, Split, score_metrics

__all__ = [
    "PARTNER_NAMES",
    "FederationRow",
    "Fhe",
    "central_global",
    "federated_run",
    "owners",
    "rows_for",
    "shared_protocol_data",
]

#: Partner names of the experiments, in order.
PARTNER_NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
Say = Callable[[str], None]
#: How the test period is scored: FHE simulation, or the quantized model in the clear (the same
#: numbers for these tree circuits, checked by the tests; seconds instead of minutes).
Fhe = Literal["simulate", "disable"]
_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FederationRow:
    """One line of the table."""

    name: str
    partners: int
    metrics: Metrics
    #: For federated rows: rounds, bytes sent per partner (mean), seconds per round (mean).
    federation: dict[str, Any] = field(default_factory=dict)


def owners(frame: Any, names: tuple[str, ...]) -> npt.NDArray[np.str_]:
    """The partner of each row's card."""
    return np.asarray(frame["card_id"].map(lambda card: partner_of(int(card), names)))


def shared_protocol_data(
    spec: FeatureSpec,
    names: tuple[str, ...],
    protocol: Protocol,
    data: TransactionData | None = None,
    tick: Tick | None = None,
) -> ProtocolData:
    """Per-partner features whose shared windows read the partners' secure sums (every time
    bucket of the data summed by masked rounds, as the aggregator would)."""
    data = data or read_transactions_data([TRANSACTIONS_FILE], spec)
    owner = owners(data.frame, names)
    frames = {name: data.frame[owner == name] for name in names}
    sums = secure_bucket_sums(frames, spec, tick=tick)
    return load_protocol_data(data, spec, protocol, names, shared=sums)


def _scores(model: Any, x_model: _Floats, fhe: Fhe, chunk: int = 4000) -> _Floats:
    parts = [
        model.predict_proba(x_model[start : start + chunk], fhe=fhe)[:, 1]
        for start in range(0, len(x_model), chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def _central(data: ProtocolData, spec: ModelSpec, say: Say, fhe: Fhe) -> _Floats:
    fitted = fit_model(spec, data, say=say)
    compile_model(fitted, data, say=say)
    return _scores(fitted.model, fitted.prepare(data.x_test), fhe)


def _alone(
    data: ProtocolData, spec: ModelSpec, names: tuple[str, ...], say: Say, fhe: Fhe
) -> _Floats:
    train_owner, test_owner = owners(data.split.train, names), owners(data.split.test, names)
    scores = np.zeros(len(data.split.test))
    for name in names:
        own = Split(data.split.train[train_owner == name], data.split.test[test_owner == name])
        mine = ProtocolData(data.protocol, own, data.spec, data.partners)
        scores[test_owner == name] = _central(mine, spec, say, fhe)
    return scores


def federated_run(
    data: ProtocolData,
    spec: ModelSpec,
    names: tuple[str, ...],
    strategy: str,
    say: Say,
) -> FederatedModel:
    """A federated run in one process: one trainer per partner on its own training rows."""
    keys = {name: MemberKey.generate(name) for name in (*names, "coordinator")}
    members = Members.of(*keys.values())
    train_owner = owners(data.split.train, names)
    trainers = {
        name: PartnerTrainer(
            keys[name],
            members,
            "coordinator",
            LocalRows(
                data.x_train[train_owner == name],
                data.y_train[train_owner == name],
                data.spec.digest,
            ),
        )
        for name in names
    }
    plan = FederationPlan(
        run=f"assess-{strategy}-{len(names)}",
        spec_digest=data.spec.digest,
        n_features=len(data.feature_names),
        strategy=strategy,  # type: ignore[arg-type]  # one of the two, from the caller's list
        trees=spec.trees,
        n_bits=spec.n_bits,
        params=TreeParams(depth=spec.depth, seed=spec.seed),
    )
    return run_federation(
        plan,
        key=keys["coordinator"],
        members=members,
        names=list(names),
        transport=LocalTransport(trainers, members),
        say=say,
    )


@dataclass
class _Federated:
    """A federated run's test scores, its summary and its compiled model."""

    scores: _Floats
    summary: dict[str, Any]
    result: FederatedModel
    model: Any


def _federated(
    data: ProtocolData,
    spec: ModelSpec,
    names: tuple[str, ...],
    strategy: str,
    *,
    say: Say,
    fhe: Fhe,
) -> _Federated:
    result = federated_run(data, spec, names, strategy, say)
    model = result.concrete_model()
    model.compile(bin_inputset(result.binning))
    scores = _scores(model, result.binning.transform(data.x_test), fhe)
    card = result.card()
    tree_rounds = [r for r in card["rounds"] if r["kind"] == "boost-task"]
    summary = {
        "strategy": strategy,
        "rounds": len(tree_rounds),
        "bytes_per_partner": int(np.mean(list(card["bytes_sent"].values()))),
        "seconds_per_round": float(np.mean([r["seconds"] for r in card["rounds"]])),
        "bootstraps": int(model.fhe_circuit.programmable_bootstrap_count),
    }
    return _Federated(scores, summary, result, model)


def central_global(
    global_data: ProtocolData, spec: ModelSpec, fhe: Fhe = "simulate", say: Say = print
) -> Metrics:
    """Central training on global features (every partner's rows pooled): the upper bound."""
    return score_metrics(global_data.split.test, _central(global_data, spec, say, fhe))


def rows_for(
    names: tuple[str, ...],
    partner_data: ProtocolData,
    spec: ModelSpec,
    *,
    upper_bound: Metrics,
    shared_data: ProtocolData | None = None,
    strategies: tuple[str, ...] = ("bagging", "cyclic"),
    fhe: Fhe = "simulate",
    say: Say = print,
) -> tuple[list[FederationRow], _Federated | None]:
    """The table's rows for the partners ``names`` (``shared_data``: features whose shared
    windows read the secure sums; without it, no such row), and the last federated run."""
    n = len(names)
    rows = [
        FederationRow("central, global features", n, upper_bound),
        FederationRow(
            "central, per-partner features",
            n,
            score_metrics(partner_data.split.test, _central(partner_data, spec, say, fhe)),
        ),
        FederationRow(
            "each partner alone",
            n,
            score_metrics(partner_data.split.test, _alone(partner_data, spec, names, say, fhe)),
        ),
    ]
    runs = [(partner_data, "")] + (
        [(shared_data, " + secure terminal sums")] if shared_data else []
    )
    last = None
    for data, suffix in runs:
        for strategy in strategies:
            last = _federated(data, spec, names, strategy, say=say, fhe=fhe)
            metrics = score_metrics(data.split.test, last.scores)
            rows.append(FederationRow(f"federated ({strategy}){suffix}", n, metrics, last.summary))
    return rows, last
