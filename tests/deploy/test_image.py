"""The container image's recipe, checked without a Docker engine: what the Dockerfile installs is
the project's wheel (built here with uv), which must carry the bundled data; the image runs as a
non-root user, sets only settings the code reads, and its build context holds no key."""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path

from tests.deploy.tools import ROOT, SETTINGS

DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"


def stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.MULTILINE)[1:]


def test_the_image_runs_as_a_non_root_user_with_known_settings() -> None:
    run = stages()[-1]
    assert re.search(r"^USER 10001:10001$", run, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["fraudstream"]' in run
    env = set(re.findall(r"\b(FRAUD_[A-Z_]+)=", run))
    assert env == {"FRAUD_MODEL_DIR", "FRAUD_DATA_DIR", "FRAUD_WEB_HOST"}
    assert env <= SETTINGS


def test_the_build_context_never_holds_keys() -> None:
    """The .dockerignore is an allow-list; key folders, seeds and state stay out."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {
        "requirements.lock",
        "pyproject.toml",
        "README.md",
        "streams/",
        "models/",
        "artifacts/",
    }
    assert {"**/keys/", "**/*seed*.json"} <= set(lines)
    copies = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("COPY")]
    assert copies
    assert not [line for line in copies if "key" in line.lower() or "seed" in line.lower()]


def test_the_installed_package_carries_the_bundled_data(tmp_path: Path) -> None:
    """The image installs the wheel (`uv pip install .`), not the source tree: the demo data
    and its attribution must be inside it."""
    uv = Path(os.environ.get("FRAUDSTREAM_CACHE_DIR", Path.home() / ".cache/fraudstream"))
    result = subprocess.run(
        [str(uv / "tools" / "bin" / "uv"), "build", "--wheel", "--out-dir", str(tmp_path), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (ROOT / "models" / "data" / "fdh").iterdir():
        assert f"models/data/fdh/{data.name}" in names
    assert "streams/cli/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/")]
