"""Finding the binning's cut points: a one-feature decision tree per feature (scikit-learn).

The fitted :class:`models.fhe.binning.Binning` travels with the model artifact; partners only
apply it, so scikit-learn stays on the model engineer's side.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.tree import DecisionTreeClassifier

from models.fhe.binning import Binning

__all__ = ["fit_binning"]


def fit_binning(
    x_clear: npt.NDArray[np.float64], y: npt.ArrayLike, n_bins: int, min_samples_leaf: int = 50
) -> Binning:
    """The ``n_bins - 1`` most informative cut points of each feature for the labels ``y``."""
    labels = np.asarray(y)
    edges = []
    for column in range(x_clear.shape[1]):
        tree = DecisionTreeClassifier(
            max_leaf_nodes=n_bins, min_samples_leaf=min_samples_leaf, random_state=0
        ).fit(x_clear[:, column : column + 1], labels)
        cuts = tree.tree_.threshold[tree.tree_.feature >= 0]
        edges.append(tuple(float(c) for c in np.sort(cuts)))
    return Binning(tuple(edges))
