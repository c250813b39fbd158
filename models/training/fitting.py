"""Training a Concrete-ML tree model on a protocol, and compiling it to FHE.

``ModelSpec`` holds the model's knobs; :func:`load_protocol_data` computes the feature spec's
features once (batch path) and splits them; :func:`fit_model` bins the features and fits the
quantized tree ensemble next to its plaintext float twin; :func:`compile_model` compiles the
FHE circuit and reads its cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.data.handbook import TRANSACTIONS_FILE, partner_of
from models.data.sources import TransactionData, read_transactions_data
from models.features.batch import compute_features
from models.features.shared import SharedCounts
from models.features.spec import FeatureSpec, handbook_spec
from models.fhe.binning import Binning
from models.training.binning_fit import fit_binning
from models.training.protocol import (
    PROTOCOL,
    Protocol,
    Split,
    check_frauds,
    handbook_split,
    resolve_protocol,
)

__all__ = [
    "CircuitCost",
    "FittedModel",
    "ModelSpec",
    "ProtocolChoice",
    "ProtocolData",
    "compile_model",
    "estimators_for",
    "fit_model",
    "load_protocol_data",
]

ModelKind = Literal["xgb", "rf", "dt", "lr"]
#: Kinds whose ``trees`` and ``depth`` mean nothing.
NO_TREES = frozenset({"lr"})
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
    #: Sum the trees inside FHE (one output ciphertext instead of one per tree): a smaller
    #: verdict for wider accumulators (xgb and rf only).
    fhe_sum: bool = False

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
        if self.fhe_sum and self.kind in {"dt", *NO_TREES}:
            problems.append(f"fhe_sum sums the trees of an ensemble: {self.kind} has none")
        if problems:
            msg = "; ".join(problems)
            raise ValueError(msg)

    def label(self) -> str:
        """A short human name, e.g. ``xgb-10x3-3bit``."""
        binned = "" if self.binning else "-unbinned"
        if self.kind in NO_TREES:
            return f"{self.kind}-{self.n_bits}bit{binned}"
        trees = "" if self.kind == "dt" else f"{self.trees}x"
        summed = "-sum" if self.fhe_sum else ""
        return f"{self.kind}-{trees}{self.depth}-{self.n_bits}bit{binned}{summed}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (in the model card)."""
        return asdict(self)


@dataclass(frozen=True)
class ProtocolData:
    """Features of the protocol's train and test transactions, and where they came from."""

    protocol: Protocol
    split: Split
    spec: FeatureSpec = field(default_factory=handbook_spec)
    partners: tuple[str, ...] = ()
    #: The files the transactions were read from.
    sources: tuple[str, ...] = ()
    #: What the user should know about the data (rows sorted, windows short of history).
    notes: tuple[str, ...] = ()

    @property
    def feature_names(self) -> list[str]:
        """The model's input columns, in order."""
        return list(self.spec.feature_names)

    @property
    def x_train(self) -> _Floats:
        """Training features, in the spec's order."""
        return self.split.train[self.feature_names].to_numpy(np.float64)

    @property
    def y_train(self) -> npt.NDArray[np.int64]:
        """Training labels."""
        return self.split.train["label"].to_numpy(np.int64)

    @property
    def x_test(self) -> _Floats:
        """Test features, in the spec's order."""
        return self.split.test[self.feature_names].to_numpy(np.float64)


@dataclass(frozen=True)
class ProtocolChoice:
    """What the user chose of the protocol; ``None`` is taken from the data
    (:func:`models.training.protocol.resolve_protocol`)."""

    train_start: date | None = None
    train_days: int | None = None
    delay_days: int | None = None
    test_days: int | None = None

    def resolve(self, days: pd.Series[Any], spec: FeatureSpec, last_hour: int) -> Protocol:
        """The protocol of data whose transactions fall on ``days`` (the last one ending at
        ``last_hour``, local); the label delay defaults to the spec's."""
        delay = self.delay_days
        if delay is None:
            delay = spec.label_delay_days or PROTOCOL.delay_days
        return resolve_protocol(
            days.min(),
            days.max(),
            last_day_complete=last_hour == 23,
            train_start=self.train_start,
            train_days=self.train_days,
            delay_days=delay,
            test_days=self.test_days,
        )


def load_protocol_data(
    data: TransactionData | None = None,
    spec: FeatureSpec | None = None,
    choice: ProtocolChoice | Protocol = ProtocolChoice(),
    partners: tuple[str, ...] = (),
    shared: SharedCounts | None = None,
) -> ProtocolData:
    """Transactions → the spec's features (batch path) → the protocol's train and test sets.

    Without ``data``, the bundled handbook transactions with the handbook's spec. With
    ``partners``, cards are split between them (:func:`models.data.handbook.partner_of`) and
    each partner's features are computed from its own transactions and labels only, as its gateway
    will compute them in the stream; card features are unchanged, other entities' windows see only
    the partner's share of them (the spec's shared windows read ``shared``, the sums of every
    partner's counts, where it has them). Without, features are global, as in the handbook.
    """
    spec = spec or handbook_spec()
    if data is None:
        data = read_transactions_data([TRANSACTIONS_FILE], spec)
    raw = data.frame
    if partners:
        owner = raw["card_id"].map(lambda card: partner_of(int(card), partners))
        frame = pd.concat(
            [compute_features(raw[owner == partner], spec, shared) for partner in partners]
        ).loc[raw.index]
    else:
        frame = compute_features(raw, spec, shared)
    local = raw["timestamp"].dt.tz_convert(spec.timestamps.timezone)
    frame["DAY"] = local.dt.date
    frame["card_id"] = raw["card_id"].to_numpy()
    frame["label"] = raw["label"].to_numpy()
    protocol = (
        choice
        if isinstance(choice, Protocol)
        else choice.resolve(frame["DAY"], spec, int(local.iloc[-1].hour) if len(local) else 0)
    )
    notes = list(data.notes)
    if len(raw) and spec.history_days:
        first = frame["DAY"].min()
        short = (first + timedelta(days=spec.history_days)) - protocol.train_start
        if short.days > 0:
            notes.append(
                f"the windows reach {spec.history_days} days back but the data starts on {first}: "
                f"the first {short.days} training days have windows short of history"
            )
    split = handbook_split(frame, protocol)
    check_frauds(split, protocol)
    return ProtocolData(
        protocol=protocol,
        split=split,
        spec=spec,
        partners=partners,
        sources=data.sources,
        notes=tuple(notes),
    )


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
        LogisticRegression,
        RandomForestClassifier,
        XGBClassifier,
    )
    from sklearn.ensemble import RandomForestClassifier as FloatForest  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression as FloatLogistic  # noqa: PLC0415
    from sklearn.tree import DecisionTreeClassifier as FloatTree  # noqa: PLC0415

    if spec.kind == "lr":
        # Inputs and weights quantized to n_bits; the sigmoid is applied after decryption.
        return (
            LogisticRegression(n_bits=spec.n_bits, max_iter=1000, random_state=spec.seed),
            FloatLogistic(max_iter=1000, random_state=spec.seed),
        )

    common = {"max_depth": spec.depth, "random_state": spec.seed}
    if spec.kind == "dt":
        return DecisionTreeClassifier(n_bits=spec.n_bits, **common), FloatTree(**common)
    if spec.kind == "xgb":
        model = XGBClassifier(n_bits=spec.n_bits, n_estimators=spec.trees, n_jobs=2, **common)
        float_model = xgboost.XGBClassifier(n_estimators=spec.trees, n_jobs=2, **common)
    else:
        model = RandomForestClassifier(
            n_bits=spec.n_bits, n_estimators=spec.trees, n_jobs=2, **common
        )
        float_model = FloatForest(n_estimators=spec.trees, n_jobs=2, **common)
    # Concrete-ML 1.9 (the latest release) sums an ensemble's trees in the clear after
    # decryption unless this private switch is set before compiling. Its deployment client does
    # not carry the switch over: save_artifacts records it, the partner's client sets it.
    model._fhe_ensembling = spec.fhe_sum
    return model, float_model


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
    fitted: FittedModel,
    data: ProtocolData,
    say: Progress = print,
    inputset_rows: int = 5000,
    configuration: Any = None,
) -> CircuitCost:
    """Compile the FHE circuit on (a sample of) the training features (with Concrete's
    ``configuration``, a ``concrete.fhe.Configuration``, when one is given; None leaves
    Concrete-ML's choice)."""
    rng = np.random.default_rng(fitted.spec.seed)
    x_train = data.x_train
    rows = rng.choice(len(x_train), size=min(inputset_rows, len(x_train)), replace=False)
    inputset = fitted.prepare(x_train[np.sort(rows)])
    started = time.perf_counter()
    kwargs: dict[str, Any] = {} if fitted.spec.p_error is None else {"p_error": fitted.spec.p_error}
    if configuration is not None:
        kwargs["configuration"] = configuration
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
