"""`fraudstream model train`, `keys generate|export` and `model assess` on tiny models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models.training.assessment import assess_version
from models.training.fitting import load_protocol_data
from models.training.protocol import Protocol
from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_train_then_keys_generate_and_export(tmp_path: Path) -> None:
    """The README's model-side commands: train (its per-partner features; tiny sizes) writes a
    versioned model with a card and real FHE timing into artifacts/; keys are generated private
    and the exported evaluation keys carry the key id."""
    result = fraudstream(
        "model",
        "train",
        "--partners",
        "alpha,bravo",
        "--n-bits",
        "2",
        "--depth",
        "2",
        "--trees",
        "2",
        "--fhe-sample",
        "2",
        "--no-simulate",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    latest = (tmp_path / "artifacts" / "latest").resolve()
    card = json.loads((latest / "model_card.json").read_text())
    assert card["version"] == latest.name
    assert card["data"]["feature_scope"] == "per partner (alpha, bravo)"
    assert card["circuit"]["programmable_bootstraps"] > 0
    assert card["fhe_execution"]["transactions"] == 2
    assert card["fhe_execution"]["server_seconds_median"] > 0
    # The plaintext XGBoost of the same protocol first, then the model's own rows.
    assert card["metrics"][0]["name"] == "plaintext XGBoost (handbook defaults)"
    assert {row["name"].split(": ")[1] for row in card["metrics"][1:]} == {
        "float twin (unbinned)",
        "quantized, in the clear",
    }
    assert "# Model card: " + latest.name in (latest / "model_card.md").read_text()
    assert "real FHE, server side: median" in result.stdout

    made = fraudstream("keys", "generate", "--partner", "alpha", "--key-dir", "keys/alpha",
                       cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    key_id = json.loads((tmp_path / "keys/alpha/keys.json").read_text())["key_id"]
    assert (tmp_path / "keys/alpha").stat().st_mode & 0o777 == 0o700
    key_files = [p for p in (tmp_path / "keys/alpha").rglob("*") if p.is_file()]
    assert len(key_files) > 1
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in key_files)
    exported = fraudstream("keys", "export", "--key-dir", "keys/alpha", "--out", "alpha.evk",
                           cwd=tmp_path)  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert key_id in exported.stdout
    assert (tmp_path / "alpha.evk").stat().st_size > 1_000_000

    again = fraudstream("keys", "generate", "--partner", "alpha", "--key-dir", "keys/alpha",
                        cwd=tmp_path)  # fmt: skip
    assert again.returncode == 1
    assert "refusing to overwrite keys" in again.stdout
    assert "Traceback" not in again.stdout + again.stderr


def test_bad_knobs_are_refused_before_any_work(tmp_path: Path) -> None:
    """An impossible knob is a usage error, not a traceback."""
    result = fraudstream("model", "train", "--n-bits", "12", cwd=tmp_path)
    assert result.returncode == 2
    assert "n-bits" in result.stderr


def test_assess_compares_fhe_with_clear_and_baselines(tiny_model: TinyModel) -> None:
    """assess gives baselines, clear, simulation and real FHE rows, FHE agreeing with the
    clear model on every sampled transaction, and writes its report and plot."""
    data = load_protocol_data(choice=Protocol(test_days=1))
    assessment = assess_version(tiny_model.directory, data, 4, say=lambda _: None)
    names = [row.name for row in assessment.rows]
    assert names[0] == "plaintext XGBoost (handbook defaults)"
    assert any("FHE simulation" in name for name in names)
    assert any("real FHE execution" in name for name in names)
    assert assessment.sample_size > 4  # the first test day's frauds are added
    assert assessment.agreeing == assessment.sample_size
    assert (tiny_model.directory / "pr_curve.png").stat().st_size > 10_000
    assert json.loads((tiny_model.directory / "assessment.json").read_text())["fhe_sample"] == (
        assessment.sample_size
    )


def test_assess_keeps_its_old_name_as_a_hidden_alias(tmp_path: Path) -> None:
    """`model assess` is listed; `model evaluate`, its name before "evaluate" came to mean FHE
    evaluation only, still runs it but is not listed."""
    listed = fraudstream("model", "--help", cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "assess" in listed.stdout
    assert "evaluate" not in listed.stdout
    old = fraudstream("model", "evaluate", "--help", cwd=tmp_path)
    assert old.returncode == 0, old.stdout + old.stderr
    assert "Old name of `model assess`" in old.stdout
    assert "--fhe-sample" in old.stdout


def test_keys_seed_then_generate_from_it(tiny_model: TinyModel, tmp_path: Path) -> None:
    """`keys seed` writes a small private seed; `keys generate --seed` derives the key folder
    from it (as the chart's partner pods do at start) with the seed's key id; a seed is never
    overwritten and another partner's seed is refused."""
    model = str(tiny_model.directory)
    made = fraudstream("keys", "seed", "--model", model, "--partner", "alpha", "--out", "s.json",
                       cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    seed = json.loads((tmp_path / "s.json").read_text())
    assert (tmp_path / "s.json").stat().st_mode & 0o777 == 0o600
    assert seed["secret_seed"] not in made.stdout + made.stderr
    derived = fraudstream("keys", "generate", "--model", model, "--seed", "s.json",
                          "--key-dir", "keys", cwd=tmp_path)  # fmt: skip
    assert derived.returncode == 0, derived.stdout + derived.stderr
    meta = json.loads((tmp_path / "keys/keys.json").read_text())
    assert meta["partner"] == "alpha"
    assert f"key seed {meta['key_id']} for partner alpha" in made.stdout
    assert f"key id {meta['key_id']}" in derived.stdout
    again_derived = fraudstream("keys", "generate", "--model", model, "--seed", "s.json",
                                "--key-dir", "keys", "--replace", cwd=tmp_path)  # fmt: skip
    assert again_derived.returncode == 0, again_derived.stdout + again_derived.stderr

    again = fraudstream("keys", "seed", "--model", model, "--partner", "alpha", "--out", "s.json",
                        cwd=tmp_path)  # fmt: skip
    assert again.returncode == 1
    assert "refusing to overwrite a key seed" in again.stdout
    wrong = fraudstream("keys", "generate", "--model", model, "--seed", "s.json",
                        "--partner", "bravo", "--key-dir", "other", cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2
    assert "partner alpha's seed, not bravo's" in wrong.stdout + wrong.stderr
    assert not (tmp_path / "other").exists()


def test_keys_scorer_makes_a_key_and_shows_it(tmp_path: Path) -> None:
    """`keys scorer FILE` writes the scorer's signing key (0600, secret never printed) and
    prints the public key partners pin; `--show` prints it alone; the file is never overwritten
    and a world-readable one is refused."""
    (tmp_path / "keys").mkdir()
    made = fraudstream("keys", "scorer", "keys/scorer.key", cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    key_file = tmp_path / "keys/scorer.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    secret = json.loads(key_file.read_text())["private_key"]
    assert secret not in made.stdout + made.stderr
    shown = fraudstream("keys", "scorer", "keys/scorer.key", "--show", cwd=tmp_path)
    public_key = shown.stdout.strip()
    assert len(public_key) == 64
    assert f"public key for the partners: {public_key}" in made.stdout
    again = fraudstream("keys", "scorer", "keys/scorer.key", cwd=tmp_path)
    assert again.returncode == 1
    assert "refusing to overwrite" in again.stdout
    key_file.chmod(0o644)
    loose = fraudstream("keys", "scorer", "keys/scorer.key", "--show", cwd=tmp_path)
    assert loose.returncode == 1
    assert "chmod 600" in loose.stdout


def test_compile_options_measures_each_option_set_asked(tmp_path: Path) -> None:
    """`model compile-options` on a tiny XGBoost (one training and one test day): one row per
    option set asked, with real FHE seconds and bootstraps per second per core, written into the
    doc's block; p_error 0.1 compiles to no more bootstraps than the defaults."""
    doc = tmp_path / "benchmarks.md"
    result = fraudstream(
        "model", "compile-options", "--trees", "2", "--depth", "2", "--n-bits", "2",
        "--train-days", "1", "--test-days", "1", "--only", "defaults,p-error",
        "--evaluations", "1", "--doc", str(doc), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = re.findall(
        r"^\| (.+?) \| (\d+) \| (\d+) \| ([\d.]+) \| (\d+) \| ([\d.]+) \|$", result.stdout, re.M
    )
    assert [name for name, *_ in rows] == ["Concrete's defaults (loop parallelism)", "p_error 0.1"]
    (_, _, pbs_default, seconds, rate, _), (_, _, pbs_p_error, *_) = rows
    assert int(pbs_p_error) <= int(pbs_default)
    assert float(seconds) > 0
    assert int(rate) > 0
    assert "fraudstream model compile-options --trees 2" in doc.read_text()


def test_compile_options_refuses_an_unknown_option_set(tmp_path: Path) -> None:
    result = fraudstream("model", "compile-options", "--only", "turbo", cwd=tmp_path)
    assert result.returncode == 2
    assert "--only takes some of defaults, serial, dataflow, p-error, no-rounding" in (
        result.stderr
    )
