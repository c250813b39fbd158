"""A federated model becomes a model version: compiled without data, saved with its card.

The card says who took part and what each reported (rows and frauds of its training period),
every round (asked, answered, left out, trees added, seconds, bytes), the shared binning and
threshold's origin (secure sums), and the circuit's cost. It holds no row and no metric: quality
is measured by each partner on its own test data, or by ``fraudstream federate assess`` on the
bundled data.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from models.features.spec import FeatureSpec
from models.federation.coordinator import FederatedModel
from models.federation.trees import bin_inputset
from models.fhe.artifacts import save_artifacts

__all__ = ["federated_card_markdown", "save_federated"]


def save_federated(result: FederatedModel, spec: FeatureSpec, out: Path) -> Path:
    """Compile ``result`` on a grid of bin indices and save it under ``out``; its folder."""
    model = result.concrete_model()
    started = time.perf_counter()
    circuit = model.compile(bin_inputset(result.binning))
    plan = result.plan
    card: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "training": "federated",
        "federation": result.card(),
        "features": list(spec.feature_names),
        "feature_spec": {"name": spec.name, "digest": spec.digest, "description": spec.description},
        "spec": {
            "kind": "xgb",
            "n_bits": plan.n_bits,
            "depth": plan.params.depth,
            "trees": plan.trees,
            "p_error": None,
            "binning": True,
            "seed": plan.params.seed,
        },
        "binning": "supervised, per feature, from secure sums of the members' histograms",
        "circuit": {
            "max_bit_width": int(circuit.graph.maximum_integer_bit_width()),
            "programmable_bootstraps": int(circuit.programmable_bootstrap_count),
            "compile_seconds": time.perf_counter() - started,
        },
        "libraries": {
            name: version(name) for name in ("concrete-ml", "concrete-python", "xgboost")
        },
    }
    version_dir = save_artifacts(model, result.binning, result.threshold, card, out, spec=spec)
    saved = json.loads((version_dir / "model_card.json").read_text())
    (version_dir / "model_card.md").write_text(federated_card_markdown(saved))
    return version_dir


def federated_card_markdown(card: dict[str, Any]) -> str:
    """A federated model's card as Markdown."""
    federation, circuit, spec = card["federation"], card["circuit"], card["spec"]
    members = ", ".join(
        f"{name} ({counts['rows']:,} rows, {counts['frauds']} frauds)"
        for name, counts in federation["participants"].items()
    )
    lines = [
        f"# Model card: {card.get('version', '(unsaved)')} (federated)",
        "",
        f"- model: xgb, {federation['trees']} trees of depth {spec['depth']}, n_bits "
        f"{spec['n_bits']}, grown by {federation['strategy']} over run `{federation['run']}`",
        f"- members: {members}",
        f"- left out of a round: {', '.join(federation['left_out']) or 'nobody'}",
        f"- feature spec: {card['feature_spec']['name']} `{card['feature_spec']['digest']}`",
        f"- binning: {card['binning']}; alert threshold {card.get('threshold', 0):.4f} (best F1 "
        "on the secure sum of the members' score histograms)",
        f"- circuit: {circuit['max_bit_width']}-bit, {circuit['programmable_bootstraps']} "
        f"programmable bootstraps, compiled in {circuit['compile_seconds']:.1f} s",
        "",
        "| round | task | asked | answered | left out | trees added | seconds | bytes sent |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for log in federation["rounds"]:
        lines.append(
            f"| {log['round']} | {log['kind']} | {', '.join(log['asked'])} | "
            f"{', '.join(log['answered'])} | {', '.join(log['left_out'])} | "
            f"{log['trees_added']} | {log['seconds']:.2f} | {sum(log['bytes_sent'].values()):,} |"
        )
    return "\n".join([*lines, ""])
