"""Supervised binning of features before FHE: the partner's plaintext pre-processing.

An FHE tree model quantizes each input uniformly to ``n_bits`` levels. With 3 bits a feature like
the amount (0 to ~1,100) gets steps of ~140: the handbook's amount > 220 rule falls between levels.
Binning each feature first on its most informative cut points (a one-feature decision tree with
``2**n_bits`` leaves, fitted on the training labels) makes every level count: the FHE model then
sees bin indices ``0 .. 2**n_bits - 1``, which its quantizer represents exactly.

Binning is plaintext and runs on the partner side, before encryption; its edges are part of the
model artifact (and so of the model version). This module applies and stores the edges (numpy
only, loaded by partners and scorers); finding them is training's job
(:func:`models.training.binning_fit.fit_binning`, scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.errors import ArtifactError

__all__ = ["Binning"]

_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Binning:
    """Per-feature sorted cut points; a value's bin is the number of cut points below it."""

    edges: tuple[tuple[float, ...], ...]

    @property
    def n_features(self) -> int:
        """How many features the binning expects."""
        return len(self.edges)

    def transform(self, x_clear: _Floats) -> _Floats:
        """Bin indices (as floats) for each feature of each row."""
        x = np.atleast_2d(np.asarray(x_clear, dtype=np.float64))
        if x.shape[1] != self.n_features:
            msg = f"expected {self.n_features} features, got {x.shape[1]}"
            raise ValueError(msg)
        # A tree sends x <= cut to the left: the bin is the number of cuts strictly below x.
        columns = [
            np.searchsorted(np.asarray(edges), x[:, j], side="left")
            for j, edges in enumerate(self.edges)
        ]
        return np.column_stack(columns).astype(np.float64)

    def to_json(self) -> dict[str, list[list[float]]]:
        """A JSON-ready form, stored with the client artifact."""
        return {"edges": [list(e) for e in self.edges]}

    @classmethod
    def from_json(cls, data: object) -> Binning:
        """The inverse of :meth:`to_json`; an :class:`ArtifactError` if it is malformed."""
        try:
            edges = data["edges"]  # type: ignore[index]  # validated just below
            return cls(tuple(tuple(float(v) for v in column) for column in edges))
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"malformed binning in the model artifact: {exc}"
            raise ArtifactError(msg) from exc
