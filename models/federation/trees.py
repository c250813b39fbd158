"""Trees that travel: a partner boosts trees on its own rows, the coordinator appends them, and the
assembled ensemble is imported into Concrete-ML without a single row.

The unit that moves is a list of XGBoost trees in XGBoost's own JSON model format (no pickle: a
tree is split features, thresholds and leaf values). A partner continues boosting from the current
ensemble on its binned features (:func:`boost`), so its new trees correct what the ensemble gets
wrong on its data; the coordinator appends every update's trees (:func:`append_trees`), as
Flower's FedXgbBagging does. Bagging and cyclic training differ only in who boosts each round.

The model's inputs are bin indices ``0 .. len(cuts)`` of the shared binning
(:mod:`models.fhe.binning`), so the coordinator knows every input's range without data: the
calibration set Concrete-ML needs to quantize inputs is a grid of bin indices
(:func:`bin_inputset`), and :func:`to_concrete` imports the ensemble with
``XGBClassifier.from_sklearn_model``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from models.errors import FederationError
from models.fhe.binning import Binning

__all__ = ["TreeParams", "append_trees", "bin_inputset", "boost", "count_trees", "to_concrete"]

_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TreeParams:
    """How every partner boosts: the same for all, sent with each task."""

    depth: int = 2
    learning_rate: float = 0.3
    seed: int = 0

    def xgboost(self) -> dict[str, Any]:
        """XGBoost's training parameters. ``hist`` puts every split on a bin edge (an integer):
        an exact-method split between bins 2 and 3 at 2.5 would be rounded to even by
        Concrete-ML's threshold quantization and move a bin to the wrong side."""
        return {
            "tree_method": "hist",
            "max_depth": self.depth,
            "eta": self.learning_rate,
            "objective": "binary:logistic",
            "base_score": 0.5,
            "seed": self.seed,
            "nthread": 2,
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _model(model_json: bytes) -> dict[str, Any]:
    try:
        model: dict[str, Any] = json.loads(model_json)
        model["learner"]["gradient_booster"]["model"]["trees"]  # shape check
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"not an XGBoost JSON tree model: {exc}"
        raise FederationError(msg) from exc
    return model


def count_trees(model_json: bytes) -> int:
    """How many trees the model holds."""
    return len(_model(model_json)["learner"]["gradient_booster"]["model"]["trees"])


def boost(
    x_binned: _Floats, labels: npt.ArrayLike, base: bytes | None, trees: int, params: TreeParams
) -> bytes:
    """``trees`` new trees boosted on these rows on top of ``base``: only the new trees, as a
    model (JSON bytes) of their own."""
    import xgboost  # noqa: PLC0415  # seconds to import; the CLI's --help should not wait

    rows = xgboost.DMatrix(x_binned, label=np.asarray(labels))
    start = None
    if base is not None:
        start = xgboost.Booster()
        start.load_model(bytearray(base))
    booster = xgboost.train(params.xgboost(), rows, num_boost_round=trees, xgb_model=start)
    model = _model(bytes(booster.save_raw("json")))
    grown = model["learner"]["gradient_booster"]["model"]
    return _with_trees(model, grown["trees"][len(grown["trees"]) - trees :])


def _with_trees(model: dict[str, Any], trees: list[dict[str, Any]]) -> bytes:
    grown = model["learner"]["gradient_booster"]["model"]
    for index, tree in enumerate(trees):
        tree["id"] = index
    grown["trees"] = trees
    grown["tree_info"] = [0] * len(trees)
    grown["gbtree_model_param"]["num_trees"] = str(len(trees))
    grown["iteration_indptr"] = list(range(len(trees) + 1))
    return json.dumps(model, separators=(",", ":")).encode()


def append_trees(base: bytes | None, update: bytes) -> bytes:
    """The ensemble ``base`` followed by the trees of ``update`` (both XGBoost JSON models with
    the same features and objective)."""
    added = _model(update)
    if base is None:
        return _with_trees(added, added["learner"]["gradient_booster"]["model"]["trees"])
    model = _model(base)
    for part in ("num_feature", "num_class"):
        if model["learner"]["learner_model_param"].get(part) != added["learner"][
            "learner_model_param"
        ].get(part):
            msg = f"an update's trees have another {part} than the ensemble's"
            raise FederationError(msg)
    trees = model["learner"]["gradient_booster"]["model"]["trees"]
    return _with_trees(model, trees + added["learner"]["gradient_booster"]["model"]["trees"])


def bin_inputset(binning: Binning, rows: int = 4096, seed: int = 0) -> _Floats:
    """Bin indices covering every feature's whole range: Concrete-ML's calibration set without
    data (first row all zeros, second all maxima, the rest drawn uniformly)."""
    highest = np.array([len(cuts) for cuts in binning.edges], dtype=np.int64)
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, highest + 1, size=(max(rows, 2), len(highest)))
    grid[0], grid[1] = 0, highest
    return grid.astype(np.float64)


def to_concrete(model_json: bytes, binning: Binning, n_bits: int, depth: int) -> Any:
    """The ensemble (trees of at most ``depth`` levels) as a fitted Concrete-ML
    ``XGBClassifier``, not compiled yet."""
    import xgboost  # noqa: PLC0415
    from concrete.ml.sklearn import XGBClassifier  # noqa: PLC0415

    plain = xgboost.XGBClassifier(n_estimators=count_trees(model_json), max_depth=depth)
    plain.load_model(bytearray(model_json))
    plain.n_classes_ = 2  # load_model of xgboost 1.6 restores the booster, not the classes
    plain.classes_ = np.array([0, 1])
    return XGBClassifier.from_sklearn_model(plain, bin_inputset(binning), n_bits=n_bits)
