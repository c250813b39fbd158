"""``fraudstream keys``: a partner's FHE keys (seed, generate, export).

Runs inside the partner: the secret key it makes never leaves it; only the evaluation keys do.
"""

from __future__ import annotations

from pathlib import Path

import click

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from models.fhe.client.seed import KeySeed
from streams.cli._common import Group, console, model_option, require_model

__all__ = ["keys"]


@click.group(cls=Group)
def keys() -> None:
    """A partner's FHE keys: generate them (secret, stays inside the partner) and export the
    evaluation keys the scorers need."""


@keys.command("seed")
@model_option
@click.option("--partner", required=True, help="The partner id the key belongs to.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="New file for the seed (written 0600; an existing file is never overwritten).",
)
def keys_seed(model_dir: Path, partner: str, out: Path) -> None:
    """Make a new key seed: the partner's secret key for one model version in ~200 bytes.

    Store it where secrets live (a Kubernetes Secret: the Helm chart's partners derive their key
    folder from it at start); `keys generate --seed` makes the key folder from it.
    """
    seed = KeySeed.new(ClientArtifact.load(require_model(model_dir)), partner)
    seed.write(out)
    console.print(
        f"key seed {seed.key_id} for partner {partner}, model {seed.model_version} → {out} "
        "(secret: keep it inside the partner)"
    )


@keys.command("generate")
@model_option
@click.option("--partner", help="The partner id the keys belong to (taken from --seed when given).")
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Derive the secret key from this seed file (`keys seed`) instead of a random one.",
)
@click.option(
    "--key-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Empty folder for the secret key (created 0700, files 0600).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Replace what --key-dir holds (with --seed: a folder derived again at each start, as "
    "the chart's init containers do). Without a seed this would lose a key: refused.",
)
def keys_generate(
    model_dir: Path, partner: str | None, seed_file: Path | None, key_dir: Path, replace: bool
) -> None:
    """Generate a partner's secret and evaluation keys for one model version."""
    client = ClientArtifact.load(require_model(model_dir))
    if replace and seed_file is None:
        msg = "--replace needs --seed (it would replace a random key that nothing can remake)"
        raise click.UsageError(msg)
    if seed_file is None:
        if partner is None:
            msg = "give --partner (or --seed)"
            raise click.UsageError(msg)
        seed = KeySeed.new(client, partner)
    else:
        seed = KeySeed.read(seed_file)
        if partner is not None and partner != seed.partner:
            msg = f"{seed_file} is partner {seed.partner}'s seed, not {partner}'s"
            raise click.UsageError(msg)
    with console.status("generating keys…"):
        made = PartnerKeys.derive(client, seed, key_dir, replace=replace)
    console.print(
        f"key id {made.key_id} for partner {made.partner}, model {made.client.version}, "
        f"in {key_dir} (secret: keep it inside the partner)"
    )


@keys.command("export")
@model_option
@click.option(
    "--key-dir", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="File for the serialized evaluation keys.",
)
def keys_export(model_dir: Path, key_dir: Path, out: Path) -> None:
    """Write the evaluation keys (public: they let a scorer evaluate, never decrypt)."""
    loaded = PartnerKeys.load(ClientArtifact.load(require_model(model_dir)), key_dir)
    data = loaded.evaluation_keys()
    out.write_bytes(data)
    console.print(f"{len(data) / 1e6:.1f} MB of evaluation keys, key id {loaded.key_id} → {out}")
