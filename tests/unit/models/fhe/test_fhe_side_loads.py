"""What the FHE side loads: no training library (module and function sizes are checked for the
whole project by tests/unit/test_layout.py)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT

MODELS = ROOT / "models"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
TRAINING_SIDE = (
    "pandas",
    "sklearn",
    "xgboost",
    "matplotlib",
    "models.training",
    "models.data",
    "models.features.batch",
    "models.features.parity",
)


def test_the_fhe_side_loads_no_training_library() -> None:
    """Importing every module of models.fhe (both sides) loads neither pandas, scikit-learn,
    xgboost nor matplotlib, nor the training code, the data or the batch feature path (the
    import-linter contract checks the imports; this checks what a process really loads)."""
    modules = sorted(
        ".".join(path.relative_to(MODELS.parent).with_suffix("").parts)
        for path in (MODELS / "fhe").rglob("*.py")
        if path.name != "__init__.py"
    )
    assert "models.fhe.server" in modules
    assert "models.fhe.client.keys" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = [
        name
        for name in result.stdout.split()
        if any(name == f or name.startswith(f"{f}.") for f in TRAINING_SIDE)
    ]
    assert loaded == []
