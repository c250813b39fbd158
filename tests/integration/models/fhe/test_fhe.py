"""Real FHE on a tiny model: partner encrypt → server evaluate → partner decrypt."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.errors import (
    ArtifactError,
    ArtifactVersionError,
    CiphertextError,
    KeyMaterialError,
    KeyMismatchError,
    ModelMismatchError,
)
from models.fhe.artifacts import ClientArtifact, ServerArtifact
from models.fhe.client.keys import KeyRing, PartnerKeys, assert_private, secret_files
from models.fhe.client.seed import KeySeed
from models.fhe.envelope import open_envelope, seal
from models.fhe.server import ScoringServer
from models.training.fitting import ModelSpec, ProtocolData
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def partners(partner_keys: dict[str, PartnerKeys]) -> dict[str, PartnerKeys]:
    return partner_keys


@pytest.fixture(scope="module")
def server(tiny_model: TinyModel, partners: dict[str, PartnerKeys]) -> ScoringServer:
    scoring = ScoringServer(ServerArtifact.load(tiny_model.directory))
    for keys in partners.values():
        scoring.add_evaluation_keys(keys.key_id, keys.evaluation_keys())
    return scoring


def sample_rows(data: ProtocolData, n_frauds: int = 3, n_legit: int = 5) -> np.ndarray:
    labels = data.split.test["label"].to_numpy()
    rows = [*np.flatnonzero(labels == 1)[:n_frauds], *np.flatnonzero(labels == 0)[:n_legit]]
    return data.x_test[rows]


def test_fhe_equals_the_quantized_clear_model(
    tiny_model: TinyModel,
    protocol_data: ProtocolData,
    partners: dict[str, PartnerKeys],
    server: ScoringServer,
) -> None:
    """For every transaction tried (frauds among them), the decrypted FHE score equals the
    quantized model's score computed in the clear."""
    rows = sample_rows(protocol_data)
    expected = tiny_model.fitted.predict_clear(rows)
    keys = partners["alpha"]
    for x_clear, score_clear in zip(rows, expected, strict=True):
        verdict = server.evaluate(keys.encrypt(x_clear))
        assert keys.decrypt(verdict.envelope).score == pytest.approx(score_clear, abs=1e-12)


def test_two_partners_round_trip_and_cannot_read_each_other(
    protocol_data: ProtocolData, partners: dict[str, PartnerKeys], server: ScoringServer
) -> None:
    """Each partner decrypts its own verdicts; the other partner's keys fail clearly."""
    x_clear = protocol_data.x_test[0]
    alpha, bravo = partners["alpha"], partners["bravo"]
    assert alpha.key_id != bravo.key_id
    verdict_a = server.evaluate(alpha.encrypt(x_clear))
    verdict_b = server.evaluate(bravo.encrypt(x_clear))
    assert alpha.decrypt(verdict_a.envelope).score == bravo.decrypt(verdict_b.envelope).score
    with pytest.raises(KeyMismatchError, match="not under this key"):
        bravo.decrypt(verdict_a.envelope)
    with pytest.raises(KeyMismatchError):
        alpha.decrypt(verdict_b.envelope)


def test_request_under_an_unknown_key_is_refused(
    tiny_model: TinyModel, protocol_data: ProtocolData, partners: dict[str, PartnerKeys]
) -> None:
    """A server without a partner's evaluation keys says so instead of computing garbage."""
    only_alpha = ScoringServer(ServerArtifact.load(tiny_model.directory))
    alpha = partners["alpha"]
    only_alpha.add_evaluation_keys(alpha.key_id, alpha.evaluation_keys())
    with pytest.raises(KeyMaterialError, match="no evaluation keys"):
        only_alpha.evaluate(partners["bravo"].encrypt(protocol_data.x_test[0]))


def test_bytes_that_are_not_evaluation_keys_are_refused(tiny_model: TinyModel) -> None:
    """Damaged evaluation keys are a clear error (the registry checks their digest first)."""
    scoring = ScoringServer(ServerArtifact.load(tiny_model.directory))
    with pytest.raises(KeyMaterialError, match="could not be deserialized"):
        scoring.add_evaluation_keys("0123456789abcdef", b"not evaluation keys")


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "not_an_envelope"])
def test_damaged_ciphertexts_give_a_ciphertext_error(
    protocol_data: ProtocolData,
    partners: dict[str, PartnerKeys],
    server: ScoringServer,
    damage: str,
) -> None:
    """A truncated, altered or fake ciphertext is refused with CiphertextError, no crash."""
    request = partners["alpha"].encrypt(protocol_data.x_test[0])
    envelope = open_envelope(request, "input")
    if damage == "truncated":
        bad = request[: len(request) // 2]
    elif damage == "flipped":
        bad = request[:-10] + bytes([request[-10] ^ 0xFF]) + request[-9:]
    elif damage == "garbage":  # a well-formed envelope around bytes that are no ciphertext
        bad = seal("input", envelope.model_version, envelope.key_id, b"\x01" * 600)
    else:
        bad = b"hello"
    with pytest.raises(CiphertextError):
        server.evaluate(bad)


def test_request_for_another_model_is_refused(
    protocol_data: ProtocolData, partners: dict[str, PartnerKeys], server: ScoringServer
) -> None:
    """A ciphertext made for another model version is named as such."""
    envelope = open_envelope(partners["alpha"].encrypt(protocol_data.x_test[0]), "input")
    other = seal("input", "000000000000", envelope.key_id, envelope.payload)
    with pytest.raises(ModelMismatchError, match="made for model 000000000000"):
        server.evaluate(other)


def test_secret_key_files_are_private(partners: dict[str, PartnerKeys]) -> None:
    """Key folders are 0700 and every key file 0600."""
    for keys in partners.values():
        assert secret_files(keys.key_dir)
        assert_private(keys.key_dir)
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in secret_files(keys.key_dir))


def test_keys_refuse_another_model_and_an_empty_folder(
    tiny_model: TinyModel, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """Keys made for one model version do not load for another; no keys is a clear error."""
    keys = partners["alpha"]
    meta = json.loads((keys.key_dir / "keys.json").read_text())
    copy = tmp_path / "copy"
    shutil.copytree(keys.key_dir, copy)
    (copy / "keys.json").write_text(json.dumps({**meta, "model_version": "ffffffffffff"}))
    client = ClientArtifact.load(tiny_model.directory)
    with pytest.raises(KeyMismatchError, match="made for model ffffffffffff"):
        PartnerKeys.load(client, copy)
    with pytest.raises(KeyMaterialError, match="no keys in"):
        PartnerKeys.load(client, tmp_path / "nothing")
    with pytest.raises(KeyMaterialError, match="not empty"):
        PartnerKeys.generate(client, keys.key_dir, "alpha")
    assert PartnerKeys.load(client, keys.key_dir).key_id == keys.key_id


def _copy_model(tiny_model: TinyModel, tmp_path: Path) -> Path:
    target = tmp_path / tiny_model.directory.name
    shutil.copytree(tiny_model.directory, target)
    return target


def test_missing_artifact_is_a_clear_error(tiny_model: TinyModel, tmp_path: Path) -> None:
    """A missing server.zip is named, with what to do."""
    model = _copy_model(tiny_model, tmp_path)
    (model / "server" / "server.zip").unlink()
    with pytest.raises(ArtifactError, match=r"server\.zip is missing"):
        ServerArtifact.load(model)


def test_corrupt_artifact_is_a_clear_error(tiny_model: TinyModel, tmp_path: Path) -> None:
    """A corrupt client.zip is named as corrupt."""
    model = _copy_model(tiny_model, tmp_path)
    (model / "client" / "client.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArtifactError, match="corrupt"):
        ClientArtifact.load(model)


def test_altered_artifact_no_longer_matches_its_version(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    """Changing a file of a version (here the threshold) is detected by the content hash."""
    model = _copy_model(tiny_model, tmp_path)
    pre = model / "client" / "preprocessing.json"
    pre.write_text(json.dumps({**json.loads(pre.read_text()), "threshold": 0.01}))
    with pytest.raises(ArtifactError, match="does not hash to"):
        ClientArtifact.load(model)


def test_artifact_from_another_library_version(tiny_model: TinyModel, tmp_path: Path) -> None:
    """Artifacts made with another concrete-ml version are refused with what to do."""
    model = _copy_model(tiny_model, tmp_path)
    server_zip = model / "server" / "server.zip"
    with zipfile.ZipFile(server_zip) as old:
        entries = {name: old.read(name) for name in old.namelist()}
    versions = json.loads(entries["versions.json"])
    entries["versions.json"] = json.dumps({**versions, "concrete-ml": "0.0.1"}).encode()
    with zipfile.ZipFile(server_zip, "w") as new:
        for name, data in entries.items():
            new.writestr(name, data)
    with pytest.raises(ArtifactVersionError, match=r"concrete-ml 0\.0\.1"):
        ServerArtifact.load(model)


def test_server_module_does_not_load_the_client_side(
    tiny_model: TinyModel,
    partners: dict[str, PartnerKeys],
    protocol_data: ProtocolData,
    tmp_path: Path,
) -> None:
    """Loading the scoring server and evaluating a request imports nothing of models.fhe.client
    (the secret key and its seed)."""
    alpha = partners["alpha"]
    (tmp_path / "evk").write_bytes(alpha.evaluation_keys())
    (tmp_path / "request").write_bytes(alpha.encrypt(protocol_data.x_test[0]))
    code = (
        "import sys, pathlib; from models.fhe.server import ScoringServer; "
        "from models.fhe.artifacts import ServerArtifact; "
        f"d = pathlib.Path({str(tmp_path)!r}); "
        f"s = ScoringServer(ServerArtifact.load(pathlib.Path({str(tiny_model.directory)!r}))); "
        f"s.add_evaluation_keys({alpha.key_id!r}, (d / 'evk').read_bytes()); "
        "v = s.evaluate((d / 'request').read_bytes()); "
        "print(len(v.envelope) > 0, any(m.startswith('models.fhe.client') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "True False"


def test_key_cache_keeps_the_most_recently_used(
    tiny_model: TinyModel, protocol_data: ProtocolData, partners: dict[str, PartnerKeys]
) -> None:
    """With room for one key set, adding a second drops the first; re-adding brings it back."""
    alpha, bravo = partners["alpha"], partners["bravo"]
    scoring = ScoringServer(ServerArtifact.load(tiny_model.directory), max_keys=1)
    scoring.add_evaluation_keys(alpha.key_id, alpha.evaluation_keys())
    scoring.add_evaluation_keys(bravo.key_id, bravo.evaluation_keys())
    assert scoring.known_keys() == {bravo.key_id}
    with pytest.raises(KeyMaterialError, match="no evaluation keys"):
        scoring.evaluate(alpha.encrypt(protocol_data.x_test[0]))
    scoring.add_evaluation_keys(alpha.key_id, alpha.evaluation_keys())
    verdict = scoring.evaluate(alpha.encrypt(protocol_data.x_test[0]))
    expected = tiny_model.fitted.predict_clear(protocol_data.x_test[:1])[0]
    assert alpha.decrypt(verdict.envelope).score == pytest.approx(expected, abs=1e-12)


def test_key_ring_decrypts_verdicts_made_before_a_rotation(
    tiny_model: TinyModel,
    protocol_data: ProtocolData,
    partners: dict[str, PartnerKeys],
    server: ScoringServer,
    tmp_path: Path,
) -> None:
    """After a rotation the ring encrypts with the new key and still decrypts verdicts of
    requests made under the old one; another partner's verdict is refused."""
    old = partners["alpha"]
    new = PartnerKeys.generate(ClientArtifact.load(tiny_model.directory), tmp_path / "new", "alpha")
    server.add_evaluation_keys(new.key_id, new.evaluation_keys())
    ring = KeyRing(new, [old])
    x_clear = protocol_data.x_test[2]
    expected = tiny_model.fitted.predict_clear(protocol_data.x_test[2:3])[0]
    assert open_envelope(ring.encrypt(x_clear), "input").key_id == new.key_id
    before = server.evaluate(old.encrypt(x_clear)).envelope
    after = server.evaluate(ring.encrypt(x_clear)).envelope
    assert ring.decrypt(before).score == pytest.approx(expected, abs=1e-12)
    assert ring.decrypt(after).score == pytest.approx(expected, abs=1e-12)
    with pytest.raises(KeyMismatchError, match="does not hold"):
        ring.decrypt(server.evaluate(partners["bravo"].encrypt(x_clear)).envelope)
    with pytest.raises(KeyMaterialError, match="one partner"):
        KeyRing(new, [partners["bravo"]])


def test_keys_derived_twice_from_one_seed_serve_each_other(
    tiny_model: TinyModel, protocol_data: ProtocolData, tmp_path: Path
) -> None:
    """A seed gives the same secret key every time (the chart re-derives the key folder at each
    start) with fresh evaluation keys: ciphertexts of one derivation are evaluated with the
    other's evaluation keys and decrypted by either, exactly."""
    client = ClientArtifact.load(tiny_model.directory)
    seed = KeySeed.new(client, "alpha")
    first = PartnerKeys.derive(client, seed, tmp_path / "first")
    again = PartnerKeys.derive(client, seed, tmp_path / "again")
    assert first.key_id == again.key_id == seed.key_id
    assert first.evaluation_keys() != again.evaluation_keys()  # fresh noise, same secret

    scoring = ScoringServer(ServerArtifact.load(tiny_model.directory))
    scoring.add_evaluation_keys(first.key_id, first.evaluation_keys())
    x_clear = protocol_data.x_test[5]
    expected = tiny_model.fitted.predict_clear(protocol_data.x_test[5:6])[0]
    verdict = scoring.evaluate(again.encrypt(x_clear)).envelope
    assert again.decrypt(verdict).score == pytest.approx(expected, abs=1e-12)
    # The first derivation decrypts what the second encrypted: one secret key.
    assert first.decrypt(verdict).score == pytest.approx(expected, abs=1e-12)
    assert PartnerKeys.load(client, again.key_dir).key_id == seed.key_id
    # Derived again over its own folder (an init container run twice): replaced, private, and
    # no work folder left; a folder of another key, or with other files, is never replaced.
    before = (again.key_dir / "keyset.bin").read_bytes()
    replaced = PartnerKeys.derive(client, seed, again.key_dir, replace=True)
    assert (replaced.key_dir / "keyset.bin").read_bytes() != before
    assert PartnerKeys.load(client, replaced.key_dir).key_id == seed.key_id
    assert sorted(p.name for p in again.key_dir.iterdir()) == [
        "keys.json",
        "keyset.bin",
        "seed.json",
    ]
    assert_private(again.key_dir)
    assert not list(tmp_path.glob(".*making*"))
    other = KeySeed.new(client, "alpha")
    with pytest.raises(KeyMaterialError, match=f"holds the keys of key id {seed.key_id}"):
        PartnerKeys.derive(client, other, again.key_dir, replace=True)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "notes.txt").write_text("precious")
    with pytest.raises(KeyMaterialError, match="files that are not keys"):
        PartnerKeys.derive(client, seed, tmp_path / "project", replace=True)
    assert (tmp_path / "project" / "notes.txt").read_text() == "precious"

    other_model = KeySeed("alpha", "ffffffffffff", 7)
    with pytest.raises(KeyMismatchError, match="for model ffffffffffff"):
        PartnerKeys.derive(client, other_model, tmp_path / "other")


@pytest.mark.parametrize("kind", ["xgb", "rf"])
def test_trees_summed_in_fhe_decrypt_to_the_clear_score(
    kind: str,
    protocol_data: ProtocolData,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`--fhe-sum` through the deployment path: one output ciphertext per verdict, and the
    partner's client (which Concrete-ML 1.9 would have sum the trees again) gets the clear
    model's score."""
    from tests.conftest import _compiled  # noqa: PLC0415  (the session's way to build a model)

    spec = ModelSpec(kind=kind, n_bits=2, depth=2, trees=3, fhe_sum=True)  # type: ignore[arg-type]
    summed = _compiled(spec, protocol_data, tmp_path_factory)
    assert ClientArtifact.load(summed.directory).trees_summed_in_fhe
    keys = PartnerKeys.generate(
        ClientArtifact.load(summed.directory), tmp_path_factory.mktemp("summed-keys"), "alpha"
    )
    scoring = ScoringServer(ServerArtifact.load(summed.directory))
    scoring.add_evaluation_keys(keys.key_id, keys.evaluation_keys())
    rows = sample_rows(protocol_data, n_frauds=2, n_legit=2)
    expected = summed.fitted.predict_clear(rows)
    for x_clear, score_clear in zip(rows, expected, strict=True):
        verdict = scoring.evaluate(keys.encrypt(x_clear))
        assert keys.decrypt(verdict.envelope).score == pytest.approx(score_clear, abs=1e-12)
