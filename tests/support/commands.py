"""Running the ``fraudstream`` command as a user would, for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def fraudstream(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``python -m streams ARGS`` with no inherited FRAUD_* variables, output captured."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        check=False,
    )
