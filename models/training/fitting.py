"""Training a Concrete-ML tree model on the handbook protocol, and compiling it to FHE.

``ModelSpec`` holds the knobs; :func:`load_protocol_data` computes the features once (batch path)
and splits them; :func:`fit_model` bins the features and fits the quantized tree ensemble next to
its plaintext float twin; :func:`compile_model` compiles the FHE circuit and reads its cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.data.handbook import TRANSACTIONS_FILE, partner_of
from models.features.batch import compute_features
from models.features.definition import FEATURE_NAMES
from models.fhe.binning import Binning
from models.training.binning_fit import fit_binning
from models.training.protocol import PROTOCOL, Protocol, Split, handbook_split

__all__ = [
    "CircuitCost",
    "FittedModel",
    "ModelSpec",
    "ProtocolData",
    "compile_model",
    "estimators_for",
    "fit_model",
    "load_protocol_data",
]

ModelKind = Literal["xgb", "rf", "dt"]
_Floats = npt.NDArray[np.float64]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ModelSpec:
    """The knobs of a model. ``p_error`` None means Concrete-ML's default."""

    kind: ModelKind = "xgb"
    n_bits: int = 3
    depth: int = 2
    trees: int = 10
    p_error: float | None = None
    binning: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse knobs that cannot make a model."""
        problems = []
        if not 2 <= self.n_bits <= 8:
            problems.append(f"n_bits must be 2..8, not {self.n_bits}")
        if not 1 <= self.depth <= 10:
            problems.append(f"depth must be 1..10, not {self.depth}")
        if not 1 <= self.trees <= 500:
            problems.append(f"trees must be 1..500, not {self.trees}")
        if self.p_error is not None and not 0 < self.p_error < 1:
            problems.append(f"p_error must be in (0, 1), not {self.p_error}")
        if problems:
            msg = "; ".join(problems)
            raise ValueError(msg)

    def label(self) -> str:
        """A short human name, e.g. ``xgb-10x3-3bit``."""
        trees = "" if self.kind == "dt" else f"{self.trees}x"
        binned = "" if self.binning else "-unbinned"
        return f"{self.kind}-{trees}{self.depth}-{self.n_bits}bit{binned}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (in the model card)."""
        return asdict(self)


@dataclass(frozen=True)
class ProtocolData:
    """Features of the protocol's train and test transactions."""

    protocol: Protocol
    split: Split
    partners: tuple[str, ...] = ()

    @property
    def x_train(self) -> _Floats:
        """Training features, in FEATURE_NAMES order."""
        return self.split.train[list(FEATURE_NAMES)].to_numpy(np.float64)

    @property
    def y_train(self) -> npt.NDArray[np.int64]:
        """Training labels."""
        return self.split.train["TX_FRAUD"].to_numpy(np.int64)

    @property
    def x_test(self) -> _Floats:
        """Test features, in FEATURE_NAMES order."""
        return self.split.test[list(FEATURE_NAMES)].to_numpy(np.float64)


def load_protocol_data(
    path: Path = TRANSACTIONS_FILE,
    protocol: Protocol = PROTOCOL,
    partners: tuple[str, ...] = (),
) -> ProtocolData:
    """Raw transactions → the 15 features (batch path) → the protocol's train and test sets.

    With ``partners``, cards are split between them (:func:`models.data.handbook.partner_of`) and
    each partner's features are computed from its own transactions and labels only, as its gateway
    will compute them in the stream; card features are unchanged, terminal features see only the
    partner's share of each terminal. Without, features are global, as in the handbook.
    """
    raw = pd.read_csv(path)
    if partners:
        owner = raw["CUSTOMER_ID"].map(lambda card: partner_of(int(card), partners))
        frame = pd.concat([compute_features(raw[owner == partner]) for partner in partners]).loc[
            raw.index
        ]
    else:
        frame = compute_features(raw)
    frame["DAY"] = pd.to_datetime(raw["TX_DATETIME"]).dt.date
    frame["CUSTOMER_ID"] = raw["CUSTOMER_ID"].to_numpy()
    frame["TX_FRAUD"] = raw["TX_FRAUD"].to_numpy()
    return ProtocolData(protocol, handbook_split(frame, protocol), partners)


@dataclass
class FittedModel:
    """A fitted quantized model, its binning, and the plaintext float model of the same shape."""

    spec: ModelSpec
    binning: Binning | None
    model: Any  # a concrete.ml.sklearn tree model (untyped library)
    float_model: Any  # the matching xgboost / scikit-learn model on unbinned features
    threshold: float = 0.5

    def prepare(self, x_clear: _Floats) -> _Floats:
        """Features as the FHE model takes them (binned when the spec says so)."""
        return self.binning.transform(x_clear) if self.binning else np.asarray(x_clear, float)

    def predict_clear(self, x_clear: _Floats) -> _Floats:
        """Fraud probability of the quantized model, computed in the clear."""
        proba: _Floats = self.model.predict_proba(self.prepare(x_clear), fhe="disable")[:, 1]
        return proba

    def predict_simulated(self, x_clear: _Floats) -> _Floats:
        """Fraud probability in FHE simulation (the circuit's arithmetic, without encryption)."""
        proba: _Floats = self.model.predict_proba(self.prepare(x_clear), fhe="simulate")[:, 1]
        return proba

    def predict_float(self, x_clear: _Floats) -> _Floats:
        """Fraud probability of the plaintext float twin."""
        proba: _Floats = self.float_model.predict_proba(x_clear)[:, 1]
        return proba


def estimators_for(spec: ModelSpec) -> tuple[Any, Any]:
    """The unfitted Concrete-ML model of ``spec`` and its plaintext float twin."""
    # Imported here: concrete-ml takes seconds to import and the CLI's --help should not.
    import xgboost  # noqa: PLC0415
    from concrete.ml.sklearn import (  # noqa: PLC0415
        DecisionTreeClassifier,
        RandomForestClassifier,
        XGBClassifier,
    )
    from sklearn.ensemble import RandomForestClassifier as FloatForest  # noqa: PLC0415
    from sklearn.tree import DecisionTreeClassifier as FloatTree  # noqa: PLC0415

    common = {"max_depth": spec.depth, "random_state": spec.seed}
    if spec.kind == "xgb":
        return (
            XGBClassifier(n_bits=spec.n_bits, n_estimators=spec.trees, n_jobs=2, **common),
            xgboost.XGBClassifier(n_estimators=spec.trees, n_jobs=2, **common),
        )
    if spec.kind == "rf":
        return (
            RandomForestClassifier(n_bits=spec.n_bits, n_estimators=spec.trees, n_jobs=2, **common),
            FloatForest(n_estimators=spec.trees, n_jobs=2, **common),
        )
    return DecisionTreeClassifier(n_bits=spec.n_bits, **common), FloatTree(**common)


def _best_f1_threshold(labels: npt.NDArray[np.int64], scores: _Floats) -> float:
    """The score threshold with the best F1 on the training set (the partner may override it)."""
    from sklearn.metrics import precision_recall_curve  # noqa: PLC0415

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def fit_model(spec: ModelSpec, data: ProtocolData, say: Progress = print) -> FittedModel:
    """Fit the binning, the quantized model and its float twin on the training week."""
    x_train, y_train = data.x_train, data.y_train
    binning = fit_binning(x_train, y_train, 2**spec.n_bits) if spec.binning else None
    model, float_model = estimators_for(spec)
    started = time.perf_counter()
    x_model = binning.transform(x_train) if binning else x_train
    model.fit(x_model, y_train)
    float_model.fit(x_train, y_train)
    say(
        f"fitted {spec.label()} on {len(y_train):,} transactions in "
        f"{time.perf_counter() - started:.1f} s"
    )
    fitted = FittedModel(spec, binning, model, float_model)
    fitted.threshold = _best_f1_threshold(y_train, fitted.predict_clear(x_train))
    return fitted


@dataclass(frozen=True)
class CircuitCost:
    """What the compiled circuit costs: its widest integer and its bootstraps."""

    max_bit_width: int
    programmable_bootstraps: int
    compile_seconds: float


def compile_model(
    fitted: FittedModel, data: ProtocolData, say: Progress = print, inputset_rows: int = 5000
) -> CircuitCost:
    """Compile the FHE circuit on (a sample of) the training features."""
    rng = np.random.default_rng(fitted.spec.seed)
    x_train = data.x_train
    rows = rng.choice(len(x_train), size=min(inputset_rows, len(x_train)), replace=False)
    inputset = fitted.prepare(x_train[np.sort(rows)])
    started = time.perf_counter()
    kwargs = {} if fitted.spec.p_error is None else {"p_error": fitted.spec.p_error}
    circuit = fitted.model.compile(inputset, **kwargs)
    seconds = time.perf_counter() - started
    cost = CircuitCost(
        max_bit_width=int(circuit.graph.maximum_integer_bit_width()),
        programmable_bootstraps=int(circuit.programmable_bootstrap_count),
        compile_seconds=seconds,
    )
    say(
        f"compiled: {cost.max_bit_width}-bit circuit, {cost.programmable_bootstraps} "
        f"programmable bootstraps, in {seconds:.1f} s"
    )
    return cost
