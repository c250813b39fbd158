"""``fraudstream federate assess``: the table of docs/federation.md, and its real-FHE check.

For each partner count: the rows of :func:`models.federation.assessment.rows_for` (FHE simulation
on the whole test period, the same model shape for every row), then a sample of the test period
run in real FHE through the last federated model's saved artifacts, next to its quantized clear
scores. The last line is the ratio the issue asks for, in a form a script reads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.features.spec import FeatureSpec, handbook_spec, shared_handbook_spec
from models.federation.assessment import (
    PARTNER_NAMES,
    FederationRow,
    Fhe,
    central_global,
    rows_for,
    shared_protocol_data,
)
from models.fhe.artifacts import save_artifacts
from models.training.fitting import ModelSpec, load_protocol_data
from models.training.measure import measure_fhe
from models.training.report import fhe_sample_rows

__all__ = ["FederationAssessment", "assess_federation", "federation_markdown"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class FederationAssessment:
    """Rows per partner count, and the real-FHE check of each count's last federated model."""

    model: ModelSpec
    rows: list[FederationRow]
    #: Partner count → {"sample", "agreeing", "seconds_median"}.
    fhe: dict[int, dict[str, float]]
    #: How the test period was scored.
    fhe_mode: Fhe = "simulate"
    #: The shared spec's entity buckets and hours per time bucket (what one masked vector holds).
    buckets: int = 65_536
    bucket_hours: int = 1

    def ratio(self, partners: int) -> float:
        """AP of federated + secure sums / AP of the central global model, with the default
        strategy (bagging) when it was run: no choosing the better strategy on the test week."""
        mine = [r for r in self.rows if r.partners == partners]
        upper = next(r for r in mine if r.name.startswith("central, global"))
        shared = [r for r in mine if r.name.endswith("secure terminal sums")]
        chosen = next((r for r in shared if "(bagging)" in r.name), shared[0])
        return chosen.metrics.average_precision / upper.metrics.average_precision

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "model": self.model.to_json(),
            "rows": [
                {
                    "name": r.name,
                    "partners": r.partners,
                    **asdict(r.metrics),
                    **r.federation,
                }
                for r in self.rows
            ],
            "fhe": {str(k): v for k, v in self.fhe.items()},
        }


def assess_federation(
    counts: tuple[int, ...],
    model: ModelSpec,
    *,
    strategies: tuple[str, ...] = ("bagging", "cyclic"),
    fhe: Fhe = "simulate",
    fhe_sample: int = 20,
    spec: FeatureSpec | None = None,
    shared_spec: FeatureSpec | None = None,
    say: Say = print,
) -> FederationAssessment:
    """The table for each partner count in ``counts`` (on the bundled data)."""
    spec, shared_spec = spec or handbook_spec(), shared_spec or shared_handbook_spec()
    global_data = load_protocol_data(spec=spec)
    say("central training on global features (the upper bound)…")
    upper = central_global(global_data, model, fhe, say)
    rows: list[FederationRow] = []
    checks: dict[int, dict[str, float]] = {}
    for count in counts:
        names = PARTNER_NAMES[:count]
        say(f"{count} partners ({', '.join(names)}): features per partner, secure sums…")
        partner_data = load_protocol_data(spec=spec, partners=names)
        shared_data = shared_protocol_data(shared_spec, names, global_data.protocol)
        mine, last = rows_for(
            names,
            partner_data,
            model,
            upper_bound=upper,
            shared_data=shared_data,
            strategies=strategies,
            fhe=fhe,
            say=say,
        )
        rows += mine
        if last is not None and fhe_sample:
            sample = fhe_sample_rows(shared_data, fhe_sample)[:fhe_sample]
            x_sample = shared_data.x_test[sample]
            clear = last.model.predict_proba(last.result.binning.transform(x_sample))[:, 1]
            with tempfile.TemporaryDirectory(prefix="federated-") as scratch:
                version = save_artifacts(
                    last.model,
                    last.result.binning,
                    last.result.threshold,
                    {"federation": last.result.card()},
                    Path(scratch),
                    spec=shared_spec,
                )
                measured = measure_fhe(version, x_sample)
            agreeing = int(np.sum(np.isclose(measured.scores, clear, rtol=0, atol=1e-9)))
            checks[count] = {
                "sample": len(sample),
                "agreeing": agreeing,
                "seconds_median": measured.seconds_per_transaction,
            }
            say(f"real FHE of the federated model: {agreeing}/{len(sample)} equal the clear scores")
    config = shared_spec.shared_counts
    if config is None:
        msg = f"the shared spec {shared_spec.name} has no [shared_counts]"
        raise ValueError(msg)
    return FederationAssessment(model, rows, checks, fhe, config.buckets, config.bucket_hours)


def federation_markdown(assessment: FederationAssessment) -> str:
    """The table, the real-FHE lines and the ratio line."""
    scored = (
        "FHE simulation"
        if assessment.fhe_mode == "simulate"
        else "the quantized model in the clear"
    )
    lines = [
        f"Every model scored by {scored} on the whole test period.",
        "",
        "| partners | model | AP | CP@100 | AUC | rounds | bytes sent per partner | s per round |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in assessment.rows:
        m, fed = row.metrics, row.federation
        rounds = str(fed["rounds"]) if fed else ""
        sent = f"{fed['bytes_per_partner']:,}" if fed else ""
        seconds = f"{fed['seconds_per_round']:.2f}" if fed else ""
        lines.append(
            f"| {row.partners} | {row.name} | {m.average_precision:.3f} | "
            f"{m.card_precision_100:.3f} | {m.auc_roc:.3f} | {rounds} | {sent} | {seconds} |"
        )
    lines.append("")
    for count, check in assessment.fhe.items():
        lines.append(
            f"- {count} partners: real FHE of the last federated + secure sums model equals its "
            f"quantized clear scores on {int(check['agreeing'])} of {int(check['sample'])} test "
            f"transactions (median {check['seconds_median']:.2f} s each, server side)."
        )
    vector = 2 * 4 * assessment.buckets
    per_day = 24 // assessment.bucket_hours * vector
    lines.append(
        f"- secure terminal sums: each partner sends one masked vector of {vector:,} bytes "
        f"(transactions and frauds of {assessment.buckets:,} terminal buckets, 32 bits each) per "
        f"{assessment.bucket_hours}-hour bucket, {per_day / 1e6:.1f} MB a day; the bytes and "
        "rounds above are those of training."
    )
    counts = sorted({row.partners for row in assessment.rows})
    ratios = ", ".join(f"{assessment.ratio(c):.2f} ({c} partners)" for c in counts)
    lines += ["", f"AP ratio, federated + secure sums / central global: {ratios}", ""]
    return "\n".join(lines)
