"""The scorer's signing key file: made 0600, never overwritten, refused when anyone may read it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from streams.core.errors import ConfigError
from streams.scorer.signing_key import ScorerKey


def test_a_key_is_made_private_and_reads_back_the_same(tmp_path: Path) -> None:
    """A new key file is 0600 and loads to the same public key; an existing one is kept."""
    path = tmp_path / "signing.key"
    made = ScorerKey.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ScorerKey.load(path).public_key == made.public_key
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        ScorerKey.generate(path)
    assert ScorerKey.load(path).public_key == made.public_key


def test_a_key_file_anyone_may_read_or_that_is_no_key_is_refused(tmp_path: Path) -> None:
    """World-readable, missing, or not a scorer key: a ConfigError that says what to do."""
    path = tmp_path / "signing.key"
    ScorerKey.generate(path)
    path.chmod(0o440)  # group-readable, as a Kubernetes Secret with an fsGroup mounts it
    ScorerKey.load(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        ScorerKey.load(path)
    with pytest.raises(ConfigError, match="fraudstream keys scorer"):
        ScorerKey.load(tmp_path / "missing.key")
    other = tmp_path / "other.key"
    other.write_text('{"format": "something else"}')
    other.chmod(0o600)
    with pytest.raises(ConfigError, match="not a scorer key"):
        ScorerKey.load(other)
