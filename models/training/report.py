"""Model cards and assessment tables: what a model is, what it costs and how good it is.

Everything here is computed by commands (``fraudstream model train|assess|sweep``); the numbers
in docs/model.md come from their output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.training.fitting import CircuitCost, FittedModel, ProtocolData
from models.training.protocol import Metrics, score_metrics

__all__ = [
    "BASELINES",
    "AssessmentRow",
    "baseline_scores",
    "card_markdown",
    "fhe_sample_rows",
    "model_card",
    "model_scores",
    "rows_markdown",
    "rows_of",
    "simulate_in_chunks",
    "write_card",
]

Tick = Callable[[int, int], None]
_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AssessmentRow:
    """One line of an assessment table."""

    name: str
    scope: str
    metrics: Metrics

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"name": self.name, "scope": self.scope, **asdict(self.metrics)}


def simulate_in_chunks(fitted: FittedModel, x_clear: _Floats, tick: Tick | None = None) -> _Floats:
    """FHE simulation of many rows, in chunks so progress can be shown."""
    chunks = np.array_split(np.arange(len(x_clear)), max(1, len(x_clear) // 2000))
    parts = []
    for done, rows in enumerate(chunks, start=1):
        parts.append(fitted.predict_simulated(x_clear[rows]))
        if tick:
            tick(done, len(chunks))
    return np.concatenate(parts)


#: The plaintext baselines, with the handbook's settings; the first is the reference.
BASELINES = (
    "plaintext XGBoost (handbook defaults)",
    "plaintext random forest (100 trees)",
    "plaintext decision tree (depth 2)",
)


def _baseline_model(name: str) -> Any:
    import xgboost  # noqa: PLC0415
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415
    from sklearn.tree import DecisionTreeClassifier  # noqa: PLC0415

    if name == BASELINES[0]:
        return xgboost.XGBClassifier(random_state=0, n_jobs=2)
    if name == BASELINES[1]:
        return RandomForestClassifier(random_state=0, n_jobs=2)
    return DecisionTreeClassifier(max_depth=2, random_state=0)


def baseline_scores(data: ProtocolData, names: tuple[str, ...] = BASELINES) -> dict[str, _Floats]:
    """Test-week scores of each named plaintext baseline, trained on the same split."""
    scores = {}
    for name in names:
        model = _baseline_model(name).fit(data.x_train, data.y_train)
        scores[name] = model.predict_proba(data.x_test)[:, 1]
    return scores


def rows_of(test: Any, scores: dict[str, _Floats], scope: str = "test week") -> list[AssessmentRow]:
    """One assessment row per named score vector."""
    return [AssessmentRow(name, scope, score_metrics(test, s)) for name, s in scores.items()]


def model_scores(
    fitted: FittedModel, data: ProtocolData, *, simulate: bool, tick: Tick | None = None
) -> dict[str, _Floats]:
    """Float twin, quantized clear and (optionally) simulated FHE scores on the test week."""
    x_test, label = data.x_test, fitted.spec.label()
    scores = {
        f"{label}: float twin (unbinned)": fitted.predict_float(x_test),
        f"{label}: quantized, in the clear": fitted.predict_clear(x_test),
    }
    if simulate:
        scores[f"{label}: FHE simulation"] = simulate_in_chunks(fitted, x_test, tick)
    return scores


def fhe_sample_rows(data: ProtocolData, n: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Rows of the test week for real FHE: ``n`` at random plus every fraud of its first day."""
    test = data.split.test
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(len(test), size=min(n, len(test)), replace=False).tolist())
    first_day = test["DAY"].min()
    frauds = np.flatnonzero((test["label"] == 1).to_numpy() & (test["DAY"] == first_day).to_numpy())
    return np.array(sorted(chosen | set(frauds.tolist())), dtype=np.int64)


def model_card(
    fitted: FittedModel,
    data: ProtocolData,
    cost: CircuitCost,
    rows: list[AssessmentRow],
    fhe: dict[str, float | int] | None,
) -> dict[str, Any]:
    """The model card's content (the version is added when the artifacts are saved)."""
    protocol = data.protocol
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "source": (
                ", ".join(Path(source).name for source in data.sources)
                if data.sources
                else "Fraud Detection Handbook simulated transactions (Le Borgne et al., 2022)"
            ),
            "train": f"{protocol.train_start}..{protocol.train_end}",
            "test": f"{protocol.test_start}..{protocol.test_end}",
            "train_transactions": len(data.split.train),
            "test_transactions": len(data.split.test),
            "train_frauds": int(data.split.train["label"].sum()),
            "test_frauds": int(data.split.test["label"].sum()),
            "feature_scope": (
                f"per partner ({', '.join(data.partners)})" if data.partners else "global"
            ),
        },
        "features": data.feature_names,
        "feature_spec": {
            "name": data.spec.name,
            "digest": data.spec.digest,
            "description": data.spec.description,
        },
        "spec": fitted.spec.to_json(),
        "binning": "supervised, per feature" if fitted.binning else "none",
        "circuit": asdict(cost),
        "fhe_execution": fhe,
        "metrics": [row.to_json() for row in rows],
        "libraries": {
            name: version(name) for name in ("concrete-ml", "concrete-python", "xgboost")
        },
    }


def rows_markdown(rows: list[AssessmentRow]) -> str:
    """An assessment table in Markdown."""
    lines = [
        "| model | scope | AUC ROC | average precision | card precision@100 | transactions |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        m = row.metrics
        lines.append(
            f"| {row.name} | {row.scope} | {m.auc_roc:.3f} | {m.average_precision:.3f} | "
            f"{m.card_precision_100:.3f} | {m.n_transactions:,} ({m.n_frauds} frauds) |"
        )
    return "\n".join(lines)


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown."""
    spec, circuit, fhe = card["spec"], card["circuit"], card.get("fhe_execution") or {}
    fhe_lines = (
        [
            f"- real FHE, server side: median **{fhe['server_seconds_median']:.2f} s** per "
            f"transaction (max {fhe['server_seconds_max']:.2f} s) over "
            f"{fhe['transactions']} test transactions",
            f"- encrypt {fhe['encrypt_seconds_median'] * 1000:.1f} ms, decrypt "
            f"{fhe['decrypt_seconds_median'] * 1000:.1f} ms (medians); key generation "
            f"{fhe['keygen_seconds']:.1f} s",
            f"- sizes: request {fhe['input_bytes']:,} B, verdict {fhe['verdict_bytes']:,} B, "
            f"evaluation keys {fhe['evaluation_key_bytes'] / 1e6:.1f} MB",
        ]
        if fhe
        else ["- real FHE execution: not measured"]
    )
    rows = [
        AssessmentRow(
            r["name"],
            r["scope"],
            Metrics(**{k: r[k] for k in Metrics.__dataclass_fields__}),
        )
        for r in card["metrics"]
    ]
    return "\n".join(
        [
            f"# Model card: {card.get('version', '(unsaved)')}",
            "",
            f"- model: {spec['kind']}, {spec['trees']} trees of depth {spec['depth']}, "
            f"n_bits {spec['n_bits']}, p_error {spec['p_error'] or 'default'}, "
            f"binning {card['binning']}",
            f"- data: {card['data']['source']}; train {card['data']['train']} "
            f"({card['data']['train_transactions']:,} transactions), test "
            f"{card['data']['test']} ({card['data']['test_transactions']:,}, "
            f"{card['data']['test_frauds']} frauds); features computed "
            f"{card['data'].get('feature_scope', 'global')}",
            f"- feature spec: {_spec_line(card)}",
            f"- features ({len(card['features'])}): {', '.join(card['features'])}",
            f"- circuit: {circuit['max_bit_width']}-bit, "
            f"{circuit['programmable_bootstraps']} programmable bootstraps, compiled in "
            f"{circuit['compile_seconds']:.1f} s",
            *fhe_lines,
            f"- alert threshold (best F1 on the training week): {card.get('threshold', 0):.4f}",
            f"- libraries: {', '.join(f'{k} {v}' for k, v in card['libraries'].items())}",
            "",
            rows_markdown(rows),
            "",
        ]
    )


def _spec_line(card: dict[str, Any]) -> str:
    spec = card.get("feature_spec")
    if not spec:
        return "handbook (saved before feature specs)"
    described = f" ({spec['description']})" if spec.get("description") else ""
    return f"{spec['name']} `{spec['digest']}`{described}"


def write_card(version_dir: Path, card: dict[str, Any]) -> None:
    """Write model_card.json (keeping its version) and model_card.md."""
    path = version_dir / "model_card.json"
    saved = json.loads(path.read_text())
    card = {
        **card,
        "version": saved["version"],
        "threshold": saved.get("threshold"),
        "files": saved["files"],
    }
    path.write_text(json.dumps(card, indent=2) + "\n")
    (version_dir / "model_card.md").write_text(card_markdown(card))
