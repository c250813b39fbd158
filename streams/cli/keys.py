"""``fraudstream keys``: a partner's FHE keys (seed, generate, export), the scorer's signing key.

The partner's commands run inside the partner: the secret key they make never leaves it; only
the evaluation keys do. ``keys scorer`` runs where the scorer runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import PartnerKeys
from models.fhe.client.seed import KeySeed, PublicationSigner
from streams.broker.connection import kafka_python_config
from streams.cli._common import (
    Group,
    broker_option,
    console,
    load_settings,
    model_option,
    require_model,
)
from streams.core.settings import WorkerSettings
from streams.core.topics import TopicNames
from streams.partner.key_publisher import revoke_evaluation_keys
from streams.scorer.signing_key import ScorerKey

__all__ = ["keys"]


@click.group(cls=Group)
def keys() -> None:
    """A partner's FHE keys: generate them (secret, stays inside the partner) and export the
    evaluation keys the scorers need; the scorer's verdict-signing key."""


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
@click.option(
    "--other-model",
    "other_models",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="More model folders (repeatable): with --seed, the keys are made for whichever of "
    "--model and these is the seed's model (a previous or candidate model's seed).",
)
def keys_generate(
    model_dir: Path,
    partner: str | None,
    seed_file: Path | None,
    key_dir: Path,
    replace: bool,
    other_models: tuple[Path, ...],
) -> None:
    """Generate a partner's secret and evaluation keys for one model version."""
    client = ClientArtifact.load(require_model(model_dir))
    if seed_file is not None and other_models:
        wanted = KeySeed.read(seed_file).model_version
        found = [ClientArtifact.load(d) for d in other_models]
        client = next((c for c in (client, *found) if c.version == wanted), client)
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
    "--key-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    required=True,
    help="The partner's key folder (`keys generate`); only its evaluation keys are read out.",
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


@keys.command("scorer")
@click.argument("key_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--show",
    is_flag=True,
    help="Print only the public key of an existing key file (for FRAUD_SCORER_PUBLIC_KEYS).",
)
@click.option(
    "--public-key-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the public key (hex) to this file, for the partners to read.",
)
def keys_scorer(key_file: Path, show: bool, public_key_out: Path | None) -> None:
    """The scorer's verdict-signing key: make KEY_FILE (0600, never overwritten) and print its
    public key, which every partner pins in FRAUD_SCORER_PUBLIC_KEYS.

    The scorer signs each verdict with it (FRAUD_SCORER_KEY_FILE); a partner decrypts only
    verdicts signed by a key it pins. It is not an FHE key: it decrypts nothing.
    """
    if show:
        click.echo(ScorerKey.load(key_file).public_key.hex())
        return
    key = ScorerKey.generate(key_file)
    if public_key_out is not None:
        public_key_out.write_text(key.public_key.hex() + "\n")
    console.print(f"scorer signing key → {key_file} (secret: keep it with the scorer)")
    console.print(f"public key for the partners: {key.public_key.hex()}", soft_wrap=True)


@keys.command("revoke")
@broker_option
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The seed file of the key to revoke (`keys seed`).",
)
@click.option(
    "--key-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Or the key folder of the key to revoke (its seed.json is read).",
)
def keys_revoke(broker: str | None, seed_file: Path | None, key_dir: Path | None) -> None:
    """Revoke a partner's key: signed tombstones on its keys topic, after which every scorer
    drops the key id and refuses requests under it (a leaked or retired key).

    Only the key's owner can revoke it (the revocation is signed with the key id's own registry
    key). Rotate first (a new key folder, `FRAUD_PREVIOUS_KEY_DIRS`), then revoke the old key.
    """
    if (seed_file is None) == (key_dir is None):
        msg = "give either --seed or --key-dir (the key to revoke)"
        raise click.UsageError(msg)
    seed = KeySeed.read(seed_file if seed_file is not None else Path(key_dir or ".") / "seed.json")
    settings = load_settings(WorkerSettings, broker=broker)
    if seed.partner not in settings.partners:
        msg = f"partner {seed.partner!r} is not in FRAUD_PARTNERS ({', '.join(settings.partners)})"
        raise click.UsageError(msg)
    chunks = revoke_evaluation_keys(
        kafka_python_config(settings),
        TopicNames(settings.topic_root).evaluation_keys(seed.partner),
        partner=seed.partner,
        key_id=seed.key_id,
        signer=PublicationSigner(seed.signing_key()),
    )
    console.print(
        f"key id {seed.key_id} of {seed.partner} revoked ({chunks} chunk records tombstoned); "
        "scorers drop it as they read the revocation"
    )
