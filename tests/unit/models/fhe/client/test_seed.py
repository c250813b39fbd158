"""The key seed file: what a deployment stores instead of a 30 MB key folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models.errors import KeyMaterialError
from models.fhe.client.seed import KeySeed


def test_a_seed_file_round_trips_and_is_private(tmp_path: Path) -> None:
    seed = KeySeed("alpha", "5b7bcd09f512", 2**128 - 1)
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
            '{"format": "fraudstream-key-seed/3", "partner": "a", "model_version": "m"}',
            "lacks 'secret_seed'",
        ),
        (
            '{"format": "fraudstream-key-seed/3", "partner": "a", "model_version": "m", '
            '"secret_seed": "xyz"}',
            "not hexadecimal",
        ),
        (
            '{"format": "fraudstream-key-seed/3", "partner": "a", "model_version": "m", '
            f'"secret_seed": "{2**130:x}"}}',
            "1 to 128 bits",
        ),
        (
            '{"format": "fraudstream-key-seed/3", "partner": "a", "model_version": "m", '
            '"secret_seed": "0"}',
            "1 to 128 bits",  # concrete reads seed 0 as "random": a new key at every start
        ),
    ],
)
def test_bad_seed_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyMaterialError, match=message):
        KeySeed.read(path)


def test_a_seed_of_an_earlier_format_is_refused_by_name(tmp_path: Path) -> None:
    """Format 1 carried its own key id; the id is now derived (a signing key's hash)."""
    path = tmp_path / "old.json"
    path.write_text(
        '{"format": "fraudstream-key-seed/1", "partner": "a", "model_version": "m", '
        '"key_id": "00112233aabbccdd", "secret_seed": "ff"}'
    )
    path.chmod(0o600)
    with pytest.raises(KeyMaterialError, match=r"earlier version .*fraudstream keys seed"):
        KeySeed.read(path)


def test_a_seed_names_a_valid_partner() -> None:
    with pytest.raises(KeyMaterialError, match="partner id"):
        KeySeed("alpha\0bravo", "v", 7)


def test_a_missing_seed_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="fraudstream keys seed"):
        KeySeed.read(tmp_path / "nothing.json")


def test_the_seed_file_format_is_stable(tmp_path: Path) -> None:
    """Seeds live in clusters' Secrets for months: the fields are a contract."""
    raw = json.loads(KeySeed("bravo", "v", 255).to_json())
    assert raw == {
        "format": "fraudstream-key-seed/3",
        "partner": "bravo",
        "model_version": "v",
        "secret_seed": f"{255:032x}",
    }


def test_the_key_id_is_derived_from_the_seed_and_the_model_version() -> None:
    """Same seed, same id (restarts keep their key id); another model version or seed, another
    id; the seed never shows in a repr (logs, tracebacks)."""
    seed = KeySeed("alpha", "v1", 12345)
    assert seed.key_id == KeySeed("alpha", "v1", 12345).key_id
    assert re.fullmatch(r"[0-9a-f]{32}", seed.key_id)
    assert seed.key_id != KeySeed("alpha", "v2", 12345).key_id
    assert seed.key_id != KeySeed("alpha", "v1", 12346).key_id
    assert "12345" not in repr(seed)


def test_the_fhe_seed_and_the_signing_key_are_separate_derivations() -> None:
    """Neither the FHE key's seed nor the signing key is the raw seed or each other: each is
    HKDF of the seed with its own purpose and the model version."""
    seed = KeySeed("alpha", "v1", 12345)
    signing = seed.signing_key().private_bytes_raw()
    assert seed.fhe_seed not in (seed.secret_seed, 0)
    assert seed.fhe_seed.to_bytes(16, "big") not in signing
    assert seed.fhe_seed != KeySeed("alpha", "v2", 12345).fhe_seed
    assert seed.fhe_seed == KeySeed("alpha", "v1", 12345).fhe_seed


def test_a_seed_file_any_user_may_read_is_refused(tmp_path: Path) -> None:
    """World-readable: refused, saying how to fix it; group-readable (a Kubernetes Secret with
    an fsGroup) is read."""
    path = tmp_path / "seed.json"
    KeySeed("alpha", "v", 7).write(path)
    path.chmod(0o440)
    assert KeySeed.read(path).partner == "alpha"
    path.chmod(0o644)
    with pytest.raises(KeyMaterialError, match="chmod 600"):
        KeySeed.read(path)


def test_a_seed_of_the_format_before_domain_separation_is_refused_by_name(tmp_path: Path) -> None:
    """Format 2 made the FHE key from the raw seed: its keys are not this version's."""
    path = tmp_path / "old.json"
    path.write_text(
        '{"format": "fraudstream-key-seed/2", "partner": "a", "model_version": "m", '
        '"secret_seed": "ff"}'
    )
    path.chmod(0o600)
    with pytest.raises(KeyMaterialError, match=r"earlier version .*fraudstream keys seed"):
        KeySeed.read(path)
