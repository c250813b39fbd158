"""What a federated model needs from the data besides trees, computed from summed histograms.

Central training fits the binning's cut points on the training rows and picks the alert
threshold on their scores (:mod:`models.training.binning_fit`, ``fit_model``). Federated, nobody
holds the rows: each partner counts its rows in fixed cells, by label, and the cells are summed
by secure aggregation (:mod:`models.federation.secure_sum`), so the coordinator sees only how
many transactions of all partners together fall in each cell.

- **Binning**: cells on a grid fixed before any data is seen (:data:`VALUE_GRID`: 0, steps of
  0.01 up to 1, every integer up to 1,000, then steps of 2.3 % up to 10^12, mirrored below 0), so
  counts and flags are cut exactly where central training would cut them and amounts to within
  2.3 %. One weighted one-feature tree per feature on the summed cells gives the cut points.
- **Threshold**: the trained model's scores counted in :data:`SCORE_CELLS` equal cells of
  [0, 1], by label; the threshold is the cell edge with the best F1, as central training's.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.tree import DecisionTreeClassifier

from models.errors import FederationError
from models.federation.secure_sum import Counts
from models.fhe.binning import Binning

__all__ = [
    "SCORE_CELLS",
    "VALUE_GRID",
    "binning_from_histogram",
    "feature_histogram",
    "score_histogram",
    "threshold_from_histogram",
]

_Floats = npt.NDArray[np.float64]


def _value_grid() -> _Floats:
    fractions = np.arange(1, 100) / 100
    integers = np.arange(1, 1001, dtype=np.float64)
    geometric = 1000 * 10 ** (np.arange(1, 901) / 100)
    positive = np.unique(np.concatenate([fractions, integers, geometric]))
    return np.concatenate([-positive[::-1], [0.0], positive])


#: Cell edges: a value falls in the first cell whose edge is >= it (the last cell: above all).
VALUE_GRID = _value_grid()
#: Score cells of the threshold's histogram.
SCORE_CELLS = 4096


def feature_histogram(x_clear: _Floats, labels: npt.ArrayLike) -> Counts:
    """Rows per (feature, value cell, label), flattened: a partner's share of the binning."""
    x = np.atleast_2d(np.asarray(x_clear, dtype=np.float64))
    y = np.asarray(labels, dtype=np.int64)
    cells = len(VALUE_GRID) + 1
    counts = np.zeros((x.shape[1], cells, 2), dtype=np.uint32)
    for feature in range(x.shape[1]):
        cell = np.searchsorted(VALUE_GRID, x[:, feature], side="left")
        np.add.at(counts[feature], (cell, y), 1)
    return counts.reshape(-1)


def binning_from_histogram(
    counts: Counts, n_features: int, n_bins: int, min_samples_leaf: int = 50
) -> Binning:
    """The ``n_bins - 1`` most informative cut points per feature, from summed cell counts."""
    cells = len(VALUE_GRID) + 1
    if len(counts) != n_features * cells * 2:
        msg = f"a binning histogram of {len(counts)} counts is not {n_features} features' cells"
        raise FederationError(msg)
    table = np.asarray(counts, dtype=np.float64).reshape(n_features, cells, 2)
    edges: list[tuple[float, ...]] = []
    for feature in range(n_features):
        cell, label = np.nonzero(table[feature])
        weights = table[feature][cell, label]
        total = weights.sum()
        if total == 0 or len(np.unique(cell)) < 2:
            edges.append(())
            continue
        tree = DecisionTreeClassifier(
            max_leaf_nodes=n_bins,
            min_weight_fraction_leaf=min(0.5, min_samples_leaf / total),
            random_state=0,
        ).fit(cell.reshape(-1, 1).astype(np.float64), label, sample_weight=weights)
        splits = tree.tree_.threshold[tree.tree_.feature >= 0]
        # A split at c + 0.5 sends cells <= c left: the cut is cell c's upper edge.
        below = np.floor(np.sort(splits)).astype(np.int64)
        edges.append(tuple(float(VALUE_GRID[c]) for c in below))
    return Binning(tuple(edges))


def score_histogram(scores: npt.ArrayLike, labels: npt.ArrayLike) -> Counts:
    """Rows per (score cell, label), flattened: a partner's share of the threshold."""
    cell = np.clip((np.asarray(scores, dtype=np.float64) * SCORE_CELLS).astype(np.int64), 0, None)
    counts = np.zeros((SCORE_CELLS, 2), dtype=np.uint32)
    np.add.at(counts, (np.minimum(cell, SCORE_CELLS - 1), np.asarray(labels, np.int64)), 1)
    return counts.reshape(-1)


def threshold_from_histogram(counts: Counts) -> float:
    """The score cell edge whose ``score >= edge`` alerts have the best F1 (0.5 without frauds):
    within a cell of central training's threshold."""
    table = np.asarray(counts, dtype=np.float64).reshape(SCORE_CELLS, 2)
    # Alerts at edge k: every row in cells k and above.
    alerted = table[::-1].cumsum(axis=0)[::-1]
    frauds = table[:, 1].sum()
    if frauds == 0:
        return 0.5
    true_alerts, all_alerts = alerted[:, 1], alerted.sum(axis=1)
    precision = np.divide(true_alerts, all_alerts, out=np.zeros(SCORE_CELLS), where=all_alerts > 0)
    recall = true_alerts / frauds
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1))
    # Empty cells above the best edge alert the same rows: take the edge of the first non-empty
    # one, just below the lowest alerted score (central training's threshold is that score).
    occupied = np.flatnonzero(table[best:].sum(axis=1))
    return float((best + (occupied[0] if len(occupied) else 0)) / SCORE_CELLS)
