"""The ``fraudstream`` command: the local broker, topics, workers, the demo, models and keys.

The runtime commands (topics, worker, alerts, bench, demo, record, replay, verify) read their
configuration from ``FRAUD_*`` variables (see ``docs/configuration.md``); their options override
them for the run. The ``kafka``, ``model`` and ``keys`` tools take options (a ``--model`` option
defaults to FRAUD_MODEL_DIR).

Each command group lives in its own module (``streams.cli.kafka``, ``streams.cli.model`` …),
imported only when that command runs: :data:`COMMANDS` names them, with the one-line help that
``fraudstream --help`` shows, so the help imports none of them. What the commands share (the
console, settings, ``--broker``, ``--model``, the error handler) is in ``streams.cli._common``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click
from click.utils import make_default_short_help

__all__ = ["COMMANDS", "LazyGroup", "cli", "full_cli", "main"]

#: Every subcommand: its name → ("module:attribute" of the click command, its one-line help).
#: The help must be the first sentence of the command's own docstring (a unit test checks).
COMMANDS: dict[str, tuple[str, str]] = {
    "alerts": (
        "streams.cli.alerts:alerts",
        "Show a partner's fraud alerts as a table, for its fraud team.",
    ),
    "bench": (
        "streams.cli.bench:bench",
        "Benchmarks that print ratios (they measure; they never assert a speed).",
    ),
    "data": (
        "streams.cli.data:data",
        "A fraud team's own transactions: check them against a feature spec, or write the "
        "worked example's.",
    ),
    "deadletters": (
        "streams.cli.deadletters:deadletters",
        "List a scope's dead letters, or send them back to be processed again.",
    ),
    "demo": (
        "streams.cli.demo:demo",
        "The main job on this machine, from nothing to alerts.",
    ),
    "kafka": (
        "streams.cli.kafka:kafka",
        "A local single-node Apache Kafka broker (KRaft, 127.0.0.1) from Maven Central jars.",
    ),
    "federate": (
        "streams.cli.federate:federate",
        "Federated training and secure sums: each partner trains on its own rows, only trees and "
        "masked counts leave it (docs/federation.md).",
    ),
    "keys": (
        "streams.cli.keys:keys",
        "A partner's FHE keys: generate them (secret, stays inside the partner) and export the "
        "evaluation keys the scorers need; the scorer's verdict-signing key.",
    ),
    "model": (
        "streams.cli.model:model",
        "Train, assess and compare FHE fraud models: on the bundled handbook data or your own "
        "(--data, --spec; see docs/data.md).",
    ),
    "record": (
        "streams.cli.record:record",
        "Record topics to OUT (gzip JSON lines: a header line, then one line per message with "
        "topic, partition, offset, timestamp, key, headers and value; bytes in base64).",
    ),
    "recording": (
        "streams.cli.recording:recording",
        "Read a recording (`fraudstream record`): show its messages with their JSON values "
        "decoded, or convert it to and from kcat's -J JSON lines.",
    ),
    "replay": (
        "streams.cli.replay:replay",
        "Send RECORDING, or a slice of transactions (--data files, or with --data-from alone the "
        "bundled ones), into topics.",
    ),
    "schemas": (
        "streams.cli.schemas:schemas",
        "Write the JSON Schemas (draft 2020-12) of the records on a partner's scores and alerts "
        "topics: every field with its type, unit and meaning (docs/alerts.md).",
    ),
    "shadow": (
        "streams.cli.shadow:shadow",
        "Compare a candidate model's shadow scores with the current model's, per transaction.",
    ),
    "topics": (
        "streams.cli.topics:topics",
        "The topics of the system: <root>.<partner or scoring>.<entity>.v<N>.",
    ),
    "verify": (
        "streams.cli.verify:verify",
        "Replay RECORDING through a fresh pipeline and check its verdicts.",
    ),
    "worker": (
        "streams.cli.worker:worker",
        "Run one worker in the foreground until SIGTERM/SIGINT.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when one of them runs (click's "lazily
    loading subcommands" pattern): ``lazy_subcommands`` maps each name to ("module:attribute",
    one-line help). The group's help lists them from that table, importing nothing."""

    def __init__(
        self, *args: Any, lazy_subcommands: Mapping[str, tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command:
        module_name, _, attribute = self.lazy_subcommands[name][0].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command) or command.name != name:
            msg = f"{self.lazy_subcommands[name][0]} is not the click command {name!r}"
            raise TypeError(msg)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section as click writes it, the lazy ones' help from the table."""
        listed: list[tuple[str, str | click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.lazy_subcommands:
                listed.append((name, self.lazy_subcommands[name][1]))
            elif (command := super().get_command(ctx, name)) is not None and not command.hidden:
                listed.append((name, command))
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)
        rows = []
        for name, entry in listed:
            if isinstance(entry, str):
                rows.append((name, make_default_short_help(entry, limit)))
            else:
                rows.append((name, entry.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _show_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    """``--version``: this package's version and the versions that decide compatibility (keys
    and circuits are Concrete's; the wire is Faust's and Kafka's clients')."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    click.echo(f"fraudstream {of('fraudstream')}")
    for package in ("concrete-ml", "concrete-python", "faust-streaming", "kafka-python"):
        click.echo(f"  {package} {of(package)}")
    ctx.exit()


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version (and of Concrete, Faust and the Kafka client) and exit.",
)
def cli() -> None:
    """Privacy-preserving fraud scoring on Kafka.

    Partners send plaintext transactions to their own topics; partner workers validate them.
    The model side trains and compiles FHE tree models (model), and partners hold their own
    FHE keys (keys). Runtime configuration comes from FRAUD_* environment variables.
    """


def full_cli() -> click.Group:
    """The ``fraudstream`` command, each subcommand imported now (for tools and tests that walk
    every command: reach them with ``get_command``; a module that fails to load fails here)."""
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        cli.get_command(ctx, name)
    return cli


def main() -> None:
    """Entry point of the ``fraudstream`` console script (and of ``python -m streams``). A
    failing command exits with its status even after an FHE evaluation in this process
    (:mod:`models.fhe.exit_status`)."""
    try:
        cli()
    except SystemExit as done:
        if done.code not in (0, None):
            _keep_failing_status()
        raise
    except BaseException:
        _keep_failing_status()
        raise


def _keep_failing_status() -> None:
    # Imported only on failure, so that --help and the commands' start stay light.
    from models.fhe.exit_status import keep_failing_status  # noqa: PLC0415

    keep_failing_status()
