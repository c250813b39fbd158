"""The model side's layout rules: what the FHE side loads, and the size of modules and functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

MODELS = Path(__file__).resolve().parents[2] / "models"
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


def _python_files() -> list[Path]:
    return sorted(MODELS.rglob("*.py"))


def test_modules_stay_small() -> None:
    """No module of models/ is over 400 lines: split by concept."""
    long = {
        str(path.relative_to(MODELS)): n
        for path in _python_files()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_long_functions_say_why() -> None:
    """A function of models/ over 60 lines says why on its def line (``# long: <reason>``)."""
    unexplained = []
    for path in _python_files():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and "# long: " not in lines[node.lineno - 1]:
                unexplained.append(f"{path.relative_to(MODELS)}:{node.lineno} {node.name}")
    assert unexplained == []
