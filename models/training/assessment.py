"""``fraudstream model assess``: a saved model against the plaintext baselines, on the protocol.

Rows: plaintext baselines, the model's float twin, the quantized model in the clear, FHE
simulation (all on the whole test week), then real FHE execution on a sample next to the
quantized clear model on the same sample, and how many scores agree exactly. ("Assess" is about
the model's quality; "evaluate" means FHE evaluation only, as in
:meth:`models.fhe.server.ScoringServer.evaluate`.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.errors import ArtifactError
from models.fhe.artifacts import DEV_MODEL_FILE, ClientArtifact
from models.training.fitting import FittedModel, ModelSpec, ProtocolData, estimators_for
from models.training.measure import measure_fhe
from models.training.protocol import score_metrics
from models.training.report import (
    BASELINES,
    AssessmentRow,
    baseline_scores,
    fhe_sample_rows,
    model_scores,
    rows_markdown,
    rows_of,
)

__all__ = [
    "ASSESSMENT_FILES",
    "Assessment",
    "assess_version",
    "load_dev_model",
    "precision_recall_plot",
]

Tick = Callable[[int, int], None]

#: What :func:`assess_version` writes into the version folder.
ASSESSMENT_FILES = ("assessment.json", "assessment.md", "pr_curve.png")


@dataclass(frozen=True)
class Assessment:
    """What ``model assess`` found."""

    version: str
    rows: list[AssessmentRow]
    sample_size: int
    agreeing: int
    fhe_seconds_median: float

    def markdown(self) -> str:
        """The table and the agreement line."""
        return (
            rows_markdown(self.rows)
            + f"\n\nReal FHE equals the quantized clear model on {self.agreeing} of "
            f"{self.sample_size} sampled transactions; median server-side FHE time "
            f"{self.fhe_seconds_median:.2f} s per transaction.\n"
        )


def load_dev_model(version_dir: Path) -> Any:
    """The fitted Concrete-ML model saved beside the artifacts (for assessment)."""
    from concrete.ml.common.serialization.loaders import loads  # noqa: PLC0415

    path = version_dir / DEV_MODEL_FILE
    try:
        return loads(path.read_text())
    except FileNotFoundError as exc:
        msg = f"{path} is missing: assess needs the artifacts written by `model train`"
        raise ArtifactError(msg) from exc
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{path} is corrupt: {exc}"
        raise ArtifactError(msg) from exc


def _refit(version_dir: Path, data: ProtocolData) -> FittedModel:
    try:
        card = json.loads((version_dir / "model_card.json").read_text())
        spec = ModelSpec(**card["spec"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        msg = f"{version_dir / 'model_card.json'} is missing or corrupt: {exc}"
        raise ArtifactError(msg) from exc
    client = ClientArtifact.load(version_dir)
    if client.spec.digest != data.spec.digest:
        msg = (
            f"{version_dir} was trained with the feature spec {client.spec.name} "
            f"`{client.spec.digest}`, the data was read with {data.spec.name} "
            f"`{data.spec.digest}`: assess it with its own spec"
        )
        raise ArtifactError(msg)
    model = load_dev_model(version_dir)
    _, float_model = estimators_for(spec)
    float_model.fit(data.x_train, data.y_train)
    fitted = FittedModel(spec, client.binning, model, float_model, client.threshold)
    inputset = fitted.prepare(data.x_train[:: max(1, len(data.x_train) // 5000)])
    kwargs = {} if spec.p_error is None else {"p_error": spec.p_error}
    fitted.model.compile(inputset, **kwargs)  # simulation needs the circuit
    return fitted


def assess_version(
    version_dir: Path,
    data: ProtocolData,
    fhe_sample: int,
    *,
    simulate_tick: Tick | None = None,
    fhe_tick: Tick | None = None,
    say: Callable[[str], None] = print,
) -> Assessment:
    """Assess a saved version; write :data:`ASSESSMENT_FILES` beside it."""
    say("refitting the plaintext baselines and the float twin…")
    curves = baseline_scores(data)
    fitted = _refit(version_dir, data)
    curves |= model_scores(fitted, data, simulate=True, tick=simulate_tick)
    rows = rows_of(data.split.test, curves)
    sample = fhe_sample_rows(data, fhe_sample)
    measured = measure_fhe(version_dir, data.x_test[sample], fhe_tick)
    clear_sample = fitted.predict_clear(data.x_test[sample])
    test_sample = data.split.test.iloc[sample]
    label = fitted.spec.label()
    rows += [
        AssessmentRow(
            f"{label}: quantized, in the clear",
            "FHE sample",
            score_metrics(test_sample, clear_sample),
        ),
        AssessmentRow(
            f"{label}: real FHE execution",
            "FHE sample",
            score_metrics(test_sample, np.asarray(measured.scores)),
        ),
    ]
    agreeing = int(np.sum(np.isclose(measured.scores, clear_sample, rtol=0, atol=1e-9)))
    version = version_dir.resolve().name
    assessment = Assessment(version, rows, len(sample), agreeing, measured.seconds_per_transaction)
    _write_report(version_dir, assessment, measured.summary())
    del curves[BASELINES[1]], curves[BASELINES[2]]  # the plot compares with the reference only
    precision_recall_plot(
        data.split.test["label"].to_numpy(), curves, version_dir / ASSESSMENT_FILES[2]
    )
    return assessment


def _write_report(
    version_dir: Path, assessment: Assessment, fhe_execution: dict[str, float | int]
) -> None:
    report: dict[str, Any] = {
        "version": assessment.version,
        "rows": [row.to_json() for row in assessment.rows],
        "fhe_sample": assessment.sample_size,
        "fhe_equals_clear": assessment.agreeing,
        "fhe_execution": fhe_execution,
    }
    (version_dir / ASSESSMENT_FILES[0]).write_text(json.dumps(report, indent=2) + "\n")
    (version_dir / ASSESSMENT_FILES[1]).write_text(assessment.markdown())


def precision_recall_plot(
    labels: npt.ArrayLike, curves: dict[str, npt.NDArray[np.float64]], path: Path
) -> None:
    """Precision against recall of each named score vector, to a PNG."""
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from sklearn.metrics import average_precision_score, precision_recall_curve  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(7, 5), dpi=110)
    for name, scores in curves.items():
        precision, recall, _ = precision_recall_curve(labels, scores)
        ap = average_precision_score(labels, scores)
        axes.step(recall, precision, where="post", label=f"{name} (AP {ap:.3f})")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_title("Precision-recall on the test week (2018-08-08..14)")
    axes.legend(fontsize=7, loc="upper right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
