"""Federated rounds in one process, on synthetic rows: the model grows to its size, a member that
does not answer is left out and the card says so, forged answers are refused, the shared binning
and threshold equal central ones, and the federated model scores like the central one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve

from models.errors import FederationError
from models.federation.coordinator import FederatedModel, FederationPlan, run_federation
from models.federation.histograms import (
    binning_from_histogram,
    feature_histogram,
    score_histogram,
    threshold_from_histogram,
)
from models.federation.local import LocalTransport
from models.federation.trainer import LocalRows, PartnerTrainer
from models.federation.trees import TreeParams, bin_inputset, boost, to_concrete
from models.federation.wire import MemberKey, Members
from models.training.binning_fit import fit_binning

NAMES = ["alpha", "bravo", "charlie"]


def _rows(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Counts, a ratio and an amount; fraud more likely with high amounts and counts."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.poisson(3, n),
            rng.integers(0, 2, n),
            rng.random(n).round(2),
            rng.gamma(2.0, 60.0, n).round(2),
        ]
    ).astype(np.float64)
    risk = 0.02 + 0.25 * (x[:, 3] > 220) + 0.1 * (x[:, 0] > 5) + 0.1 * x[:, 2]
    return x, (rng.random(n) < risk).astype(np.int64)


def _run(
    strategy: str = "bagging",
    answers: Callable[[str, str], bool] = lambda member, round_id: True,
) -> tuple[FederatedModel, LocalTransport]:
    keys = {name: MemberKey.generate(name) for name in [*NAMES, "coordinator"]}
    members = Members.of(*keys.values())
    trainers = {
        name: PartnerTrainer(
            keys[name], members, "coordinator", LocalRows(*_rows(seed), "spec-digest")
        )
        for seed, name in enumerate(NAMES)
    }
    transport = LocalTransport(trainers, members, answers)
    plan = FederationPlan("run-1", "spec-digest", 4, strategy=strategy, trees=6)  # type: ignore[arg-type]
    model = run_federation(
        plan,
        key=keys["coordinator"],
        members=members,
        names=NAMES,
        transport=transport,
        say=lambda _: None,
    )
    return model, transport


@pytest.mark.parametrize("strategy", ["bagging", "cyclic"])
def test_a_federated_model_scores_like_the_central_one(strategy: str) -> None:
    """Same size as asked; its AP on fresh rows is within 0.05 of a model trained on the pooled
    rows with the same binning."""
    federated, _ = _run(strategy)
    assert federated.card()["trees"] == 6
    pooled = [_rows(seed) for seed in range(3)]
    x = np.vstack([p[0] for p in pooled])
    y = np.concatenate([p[1] for p in pooled])
    x_test, y_test = _rows(99)
    central = boost(federated.binning.transform(x), y, None, 6, TreeParams())
    scores = {}
    for name, model_json in (("federated", federated.model_json), ("central", central)):
        model = to_concrete(model_json, federated.binning, 3, 2)
        binned = federated.binning.transform(x_test)
        scores[name] = average_precision_score(y_test, model.predict_proba(binned)[:, 1])
    assert scores["federated"] > scores["central"] - 0.05


def test_a_member_that_does_not_answer_is_left_out_of_its_round() -> None:
    """Bravo misses one tree round: the round goes on without it, the card lists it, the model
    still reaches its size."""
    federated, _ = _run(answers=lambda member, round_id: (member, round_id) != ("bravo", "trees-0"))
    card = federated.card()
    first = next(r for r in card["rounds"] if r["round"] == "trees-0")
    assert first["left_out"] == ["bravo"]
    assert first["trees_added"] == 2
    assert card["left_out"] == ["bravo"]
    assert card["trees"] == 6
    assert set(card["participants"]) == set(NAMES)


def test_a_secure_sum_that_loses_a_member_is_rerun_without_it() -> None:
    """Charlie never answers the binning sum: asked again, then summed over alpha and bravo
    as a new round."""
    federated, _ = _run(
        answers=lambda member, round_id: (
            not (member == "charlie" and round_id.startswith("binning"))
        )
    )
    rounds = [r["round"] for r in federated.card()["rounds"] if r["kind"] == "sum-task"]
    assert rounds[:3] == ["binning-0", "binning-0", "binning-1"]


def test_a_run_needs_two_members() -> None:
    """With one member joined there is nothing to hide a sum in: the run stops, saying so."""
    with pytest.raises(FederationError, match="at least two members"):
        _run(answers=lambda member, round_id: member == "alpha")


def test_trainers_refuse_tasks_not_from_their_coordinator() -> None:
    """A task signed by a member other than the coordinator is refused by every trainer."""
    keys = {name: MemberKey.generate(name) for name in ["alpha", "coordinator", "bravo"]}
    members = Members.of(*keys.values())
    trainer = PartnerTrainer(keys["alpha"], members, "coordinator", LocalRows(*_rows(0), "d"))
    plan = FederationPlan("run", "d", 4)
    transport = LocalTransport({"alpha": trainer}, members)
    with pytest.raises(FederationError, match="joined"):
        run_federation(
            plan,
            key=keys["bravo"],
            members=members,
            names=["alpha"],
            transport=transport,
            say=print,
        )
    assert transport.refused
    assert "not from the coordinator" in transport.refused[0][1]


def test_shared_binning_and_threshold_equal_the_central_ones_on_integer_features() -> None:
    """On counts, the summed histograms give the central cut points; the threshold from summed
    score cells is the central best-F1 threshold to within a cell."""
    x, y = _rows(0, 20000)
    counts = x[:, :2]
    central = fit_binning(counts, y, 8)
    shared = binning_from_histogram(feature_histogram(counts, y), 2, 8)
    assert np.array_equal(central.transform(counts), shared.transform(counts))
    scores = np.random.default_rng(1).random(len(y)) * 0.5 + 0.5 * y * np.random.default_rng(
        2
    ).random(len(y))

    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = thresholds[int(np.argmax(f1[:-1]))]
    assert abs(threshold_from_histogram(score_histogram(scores, y)) - best) <= 1 / 4096 + 1e-9


@pytest.mark.slow
def test_fhe_simulation_of_a_federated_model_equals_its_clear_scores() -> None:
    """What lets `federate assess --clear` stand for simulation: the compiled federated circuit
    in FHE simulation gives the quantized clear scores exactly."""
    federated, _ = _run()
    model = federated.concrete_model()
    model.compile(bin_inputset(federated.binning))
    x_test = federated.binning.transform(_rows(7, 300)[0])
    clear = model.predict_proba(x_test, fhe="disable")[:, 1]
    simulated = model.predict_proba(x_test, fhe="simulate")[:, 1]
    assert np.array_equal(clear, simulated)
