"""Binning, the protocol split and the card-precision metric on small frames."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models.errors import ArtifactError
from models.fhe.binning import Binning
from models.training.binning_fit import fit_binning
from models.training.fitting import ModelSpec
from models.training.protocol import Protocol, card_precision_top_k, handbook_split


def test_binning_finds_the_informative_cut_and_round_trips() -> None:
    """A label that flips at 220 gives a cut near 220; bins count the cuts below a value."""
    x = np.column_stack([np.linspace(0, 1000, 2001), np.zeros(2001)])
    y = (x[:, 0] > 220).astype(int)
    binning = fit_binning(x, y, n_bins=4, min_samples_leaf=5)
    assert any(abs(cut - 220) < 1 for cut in binning.edges[0])
    assert binning.edges[1] == ()
    bins = binning.transform(np.array([[0.0, 5.0], [1000.0, 5.0]]))
    assert bins[0, 0] < bins[1, 0]
    assert list(bins[:, 1]) == [0.0, 0.0]
    assert Binning.from_json(binning.to_json()) == binning
    assert binning.transform(x).max() <= 3


def test_binning_refuses_wrong_shapes_and_bad_json() -> None:
    """Too few features or a malformed artifact give clear errors."""
    binning = Binning(((1.0,), (2.0,)))
    with pytest.raises(ValueError, match="expected 2 features"):
        binning.transform(np.zeros((1, 3)))
    with pytest.raises(ArtifactError):
        Binning.from_json({"edges": [["x"]]})


def test_card_precision_counts_compromised_cards_among_the_top_k_per_day() -> None:
    """Per day, cards ranked by their highest score; share of frauds among the top k."""
    frame = pd.DataFrame(
        {
            "DAY": [date(2018, 8, 8)] * 4 + [date(2018, 8, 9)] * 2,
            "card_id": [1, 1, 2, 3, 1, 2],
            "label": [0, 1, 0, 0, 0, 1],
        }
    )
    scores = np.array([0.9, 0.1, 0.8, 0.1, 0.2, 0.3])
    # day 1: top-2 cards are 1 (fraud) and 2 (not) → 0.5; day 2: top-2 are 2 (fraud), 1 → 0.5
    assert card_precision_top_k(frame, scores, k=2) == pytest.approx(0.5)


def test_split_removes_cards_known_compromised() -> None:
    """A card with a fraud in the training week is not in the test week."""
    protocol = Protocol(train_start=date(2018, 1, 1), train_days=1, delay_days=1, test_days=1)
    frame = pd.DataFrame(
        {
            "DAY": [date(2018, 1, 1), date(2018, 1, 1), date(2018, 1, 3), date(2018, 1, 3)],
            "card_id": [1, 2, 1, 2],
            "label": [1, 0, 0, 0],
        }
    )
    split = handbook_split(frame, protocol)
    assert list(split.train["card_id"]) == [1, 2]
    assert list(split.test["card_id"]) == [2]


@pytest.mark.parametrize(
    "knobs",
    [
        {"n_bits": 1},
        {"depth": 0},
        {"trees": 0},
        {"p_error": 2.0},
        {"fhe_sum": True, "kind": "dt"},
        {"fhe_sum": True, "kind": "lr"},
    ],
)
def test_impossible_knobs_are_refused(knobs: dict[str, object]) -> None:
    """A spec that cannot make a model fails at once with the knob named."""
    with pytest.raises(ValueError, match=next(iter(knobs))):
        ModelSpec(**knobs)  # type: ignore[arg-type]


def test_a_model_summed_in_fhe_says_so_in_its_label_and_its_estimator() -> None:
    """``fhe_sum`` names the model ``...-sum`` and sets Concrete-ML's ensembling switch."""
    from models.training.fitting import estimators_for  # noqa: PLC0415  (imports concrete-ml)

    summed = ModelSpec(kind="xgb", n_bits=3, depth=2, trees=10, fhe_sum=True)
    assert summed.label() == "xgb-10x2-3bit-sum"
    assert ModelSpec().label() == "xgb-10x2-3bit"
    model, _ = estimators_for(summed)
    assert model._fhe_ensembling is True
    plain, _ = estimators_for(ModelSpec(kind="rf"))
    assert plain._fhe_ensembling is False


def test_the_frontier_grid_has_every_kind_and_trees_summed_in_fhe() -> None:
    """The sweep measures XGBoost, random forests, decision trees and logistic regression, and
    XGBoost shapes with their trees summed inside FHE next to the same shapes without."""
    from models.training.sweep import STANDARD_GRID  # noqa: PLC0415

    assert {s.kind for s in STANDARD_GRID} == {"xgb", "rf", "dt", "lr"}
    labels = {s.label() for s in STANDARD_GRID}
    assert {"xgb-10x2-3bit", "xgb-10x2-3bit-sum", "lr-8bit", "dt-5-3bit"} <= labels
    assert ModelSpec(kind="lr", n_bits=6, trees=99).label() == "lr-6bit"
