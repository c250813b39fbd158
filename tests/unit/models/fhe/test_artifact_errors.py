"""A model folder that is not whole says what to do: copy the version folder again or train."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import ArtifactError
from models.fhe.artifacts import check_library_versions


def test_a_missing_circuit_file_names_the_folder_and_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a whole model folder") as missing:
        check_library_versions(tmp_path / "client.zip")
    assert "fraudstream model train" in str(missing.value)


def test_a_corrupt_circuit_file_says_so(tmp_path: Path) -> None:
    corrupt = tmp_path / "server.zip"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="corrupt or not a Concrete-ML artifact") as bad:
        check_library_versions(corrupt)
    assert "copy the model's version folder again" in str(bad.value)
