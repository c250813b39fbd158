"""The key seed file: what a deployment stores instead of a 30 MB key folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.errors import KeyMaterialError
from models.keys import KeySeed


def test_a_seed_file_round_trips_and_is_private(tmp_path: Path) -> None:
    seed = KeySeed("alpha", "5b7bcd09f512", "00112233aabbccdd", 2**128 - 1)
    path = tmp_path / "seed.json"
    seed.write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert KeySeed.read(path) == seed
    assert len(path.read_bytes()) < 300
    with pytest.raises(KeyMaterialError, match="refusing to overwrite"):
        seed.write(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a readable key seed"),
        ("[1, 2]", "is not a key seed"),
        ('{"partner": "alpha"}', "is not a key seed"),
        (
            '{"format": "fraudstream-key-seed/1", "partner": "a", "model_version": "m"}',
            "lacks 'key_id'",
        ),
        (
            '{"format": "fraudstream-key-seed/1", "partner": "a", "model_version": "m", '
            '"key_id": "k", "secret_seed": "xyz"}',
            "not hexadecimal",
        ),
        (
            '{"format": "fraudstream-key-seed/1", "partner": "a", "model_version": "m", '
            f'"key_id": "k", "secret_seed": "{2**130:x}"}}',
            "more than 128 bits",
        ),
    ],
)
def test_bad_seed_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(content)
    with pytest.raises(KeyMaterialError, match=message):
        KeySeed.read(path)


def test_a_missing_seed_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="fraudstream keys seed"):
        KeySeed.read(tmp_path / "nothing.json")


def test_the_seed_file_format_is_stable(tmp_path: Path) -> None:
    """Seeds live in clusters' Secrets for months: the fields are a contract."""
    raw = json.loads(KeySeed("bravo", "v", "k", 255).to_json())
    assert raw == {
        "format": "fraudstream-key-seed/1",
        "partner": "bravo",
        "model_version": "v",
        "key_id": "k",
        "secret_seed": f"{255:032x}",
    }
