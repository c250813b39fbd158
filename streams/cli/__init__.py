"""The ``fraudstream`` command: the local broker, topics, workers, the demo, models and keys.

The runtime commands (topics, worker, demo) read their configuration from ``FRAUD_*`` variables
(see ``docs/configuration.md``); their options override them for the run. The ``kafka``,
``model`` and ``keys`` tools take options only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from rich.console import Console

from streams.broker.local_kafka import KAFKA_VERSION, LocalKafka, default_cache_dir, fetch_jars
from streams.core.errors import FraudStreamError
from streams.core.settings import Settings

__all__ = ["cli", "full_cli", "main"]

_console = Console()
_F = TypeVar("_F", bound=Callable[..., Any])


def _settings(settings_type: type[Any] = Settings, **overrides: Any) -> Any:
    """Settings from the environment, with command-line overrides; clear message when invalid."""
    try:
        return settings_type(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = [
            f"  FRAUD_{'_'.join(str(p) for p in error['loc']).upper()}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        msg = "invalid FRAUD_* configuration:\n" + "\n".join(problems)
        raise click.UsageError(msg) from exc


def _friendly(func: _F) -> _F:
    """Turn the project's errors into a one-line message and exit code 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FraudStreamError as exc:
            _console.print(f"[red]error:[/] {exc}", highlight=False)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]  # wraps() keeps the signature


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Privacy-preserving fraud scoring on Kafka.

    Partners send plaintext transactions to their own topics; partner workers validate them.
    The model side trains and compiles FHE tree models (model), and partners hold their own
    FHE keys (keys). Runtime configuration comes from FRAUD_* environment variables.
    """


# --- fraudstream kafka ----------------------------------------------------------------------
_STATE = click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".fraudstream/kafka"),
    show_default=True,
    help="Where the broker keeps its data, logs and pid.",
)
_PORT = click.option("--port", type=int, default=9092, show_default=True, help="Client port.")
_CPORT = click.option(
    "--controller-port", type=int, default=9093, show_default=True, help="KRaft controller port."
)
_CACHE = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_cache_dir(),
    show_default=True,
    envvar="FRAUDSTREAM_CACHE_DIR",
    help="Where the Kafka jars are cached (outside the repository).",
)


@cli.group()
def kafka() -> None:
    """A local single-node Apache Kafka broker (KRaft, 127.0.0.1) from Maven Central jars."""


def _local(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> LocalKafka:
    return LocalKafka(
        state_dir.resolve(), port=port, controller_port=controller_port, cache_dir=cache_dir
    )


@kafka.command("up")
@_STATE
@_PORT
@_CPORT
@_CACHE
@click.option("--timeout", type=float, default=90.0, show_default=True, help="Seconds to wait.")
@_friendly
def kafka_up(
    state_dir: Path, port: int, controller_port: int, cache_dir: Path, timeout: float
) -> None:
    """Fetch the jars (once), format KRaft storage (once), start and wait until ready."""
    broker = _local(state_dir, port, controller_port, cache_dir)
    broker.start(timeout=timeout, say=_console.print)
    _console.print(f"[green]broker ready[/] at {broker.bootstrap} (logs: {broker.log_file})")


@kafka.command("down")
@_STATE
@_PORT
@_CPORT
@_CACHE
@_friendly
def kafka_down(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> None:
    """Stop the broker started from STATE_DIR (its data stays for the next `up`)."""
    stopped = _local(state_dir, port, controller_port, cache_dir).stop()
    _console.print("broker stopped" if stopped else "no broker was running")


@kafka.command("status")
@_STATE
@_PORT
@_CPORT
@_CACHE
@_friendly
def kafka_status(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> None:
    """Say whether the broker runs and answers; exit 1 when it does not."""
    status = _local(state_dir, port, controller_port, cache_dir).status()
    if status.ready:
        _console.print(f"running and ready at {status.bootstrap} (pid {status.pid})")
        return
    if status.running:
        _console.print(f"running (pid {status.pid}) but not answering at {status.bootstrap}")
    else:
        _console.print("not running")
    sys.exit(1)


@kafka.command("fetch")
@_CACHE
@click.option("--version", default=KAFKA_VERSION, show_default=True, help="Kafka version.")
@_friendly
def kafka_fetch(cache_dir: Path, version: str) -> None:
    """Only resolve and cache the broker's jars (useful to warm a CI cache)."""
    libs = fetch_jars(version, cache_dir, say=_console.print)
    _console.print(f"{len(list(libs.glob('*.jar')))} jars in {libs}")


# --- fraudstream topics ---------------------------------------------------------------------
@cli.group()
def topics() -> None:
    """The topics of the system: <root>.<partner or scoring>.<entity>.v<N>."""


@topics.command("create")
@click.option("--broker", help="Bootstrap servers (default: FRAUD_BROKER).")
@_friendly
def topics_create(broker: str | None) -> None:
    """Create every topic for FRAUD_PARTNERS that does not exist yet (idempotent)."""
    from streams.broker.admin import ensure_topics  # noqa: PLC0415  (keeps --help fast)
    from streams.broker.connection import kafka_python_config  # noqa: PLC0415
    from streams.core.topics import TopicNames, topic_specs  # noqa: PLC0415

    settings = _settings(broker=broker)
    specs = topic_specs(
        TopicNames(settings.topic_root),
        settings.partners,
        partitions=settings.topic_partitions,
        max_message_bytes=settings.max_message_bytes,
        app_id=settings.app_id,
    )
    created = ensure_topics(
        kafka_python_config(settings), specs, replication=settings.topic_replication
    )
    for spec in specs:
        mark = "[green]created[/]" if spec.name in created else "exists "
        _console.print(f"{mark} {spec.name} ({spec.partitions} partitions)")


# --- fraudstream worker ---------------------------------------------------------------------
@cli.command()
@click.option(
    "--role", type=click.Choice(["partner", "scorer"]), required=True, help="What to run."
)
@click.option("--partner", help="The partner id (partner role only).")
@_friendly
def worker(role: str, partner: str | None) -> None:
    """Run one worker in the foreground until SIGTERM/SIGINT.

    \b
    partner (inside a partner; needs FRAUD_MODEL_DIR and FRAUD_KEY_DIR):
      publishes its evaluation keys once to <root>.<partner>.keys.v1; validates transactions
      and labels (malformed ones go to <root>.<partner>.deadletter.v1 with the reason),
      computes features in tables recovered from changelogs, encrypts them and sends
      requests to <root>.scoring.requests.v1; decrypts its verdicts into
      <root>.<partner>.scores.v1 and, over the threshold, <root>.<partner>.alerts.v1.
    scorer (the shared service; needs FRAUD_MODEL_DIR, never a key):
      evaluates requests in FHE with the partners' evaluation keys and routes each encrypted
      verdict to <root>.<partner>.verdicts.v1; bad requests go to
      <root>.scoring.deadletter.v1. Run any number in one consumer group.
    """
    _run_worker(role, partner)


def _run_worker(role: str, partner: str | None) -> None:
    """Start the role's worker. The role's module is imported by name: this module also starts
    the scorer, which must never import the partner's code (import-linter and a test check it)."""
    import importlib  # noqa: PLC0415

    from streams.core.settings import PartnerSettings, ScorerSettings  # noqa: PLC0415

    if role == "scorer":
        if partner is not None:
            msg = "the scorer serves every partner: do not give --partner"
            raise click.UsageError(msg)
        scorer = importlib.import_module("streams.scorer.worker")
        scorer.run_scorer_worker(_settings(settings_type=ScorerSettings))
        return
    if partner is None:
        msg = "--partner is required for the partner role"
        raise click.UsageError(msg)
    gateway = importlib.import_module("streams.partner.worker")
    gateway.run_partner_worker(_settings(settings_type=PartnerSettings), partner)


# --- fraudstream alerts ---------------------------------------------------------------------
@cli.command()
@click.option("--partner", required=True, help="Whose alerts (the partner's own topic).")
@click.option("--follow", "-f", is_flag=True, help="Keep waiting for new alerts (Ctrl-C stops).")
@click.option(
    "--from-now",
    is_flag=True,
    help="Only alerts that arrive from now on (default: from the start).",
)
@click.option("--scores", is_flag=True, help="Every score, not only alerts.")
@click.option("--broker", help="Bootstrap servers (default: FRAUD_BROKER).")
@_friendly
def alerts(partner: str, follow: bool, from_now: bool, scores: bool, broker: str | None) -> None:
    """Show a partner's fraud alerts as a table, for its fraud team.

    Reads <root>.<partner>.alerts.v1 (or .scores.v1 with --scores) without joining a consumer
    group, so following never moves anyone's offsets. Runs inside the partner: alerts are
    plaintext.
    """
    from streams.broker.connection import kafka_python_config  # noqa: PLC0415
    from streams.core.topics import TopicNames  # noqa: PLC0415
    from streams.partner.alert_follower import ALERT_COLUMNS, alert_row, follow_records  # noqa: PLC0415

    settings = _settings(broker=broker)
    names = TopicNames(settings.topic_root)
    topic = names.scores(partner) if scores else names.alerts(partner)
    _console.print("  ".join(f"{title:>{width}}" for title, width in ALERT_COLUMNS), style="bold")
    shown = 0
    try:
        for record in follow_records(
            kafka_python_config(settings), topic, follow=follow, from_beginning=not from_now
        ):
            cells = alert_row(record)
            line = "  ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, ALERT_COLUMNS, strict=True))
            _console.print(line, style="red" if record.alert else None, highlight=False)
            shown += 1
    except KeyboardInterrupt:
        pass
    _console.print(f"{shown} {'scores' if scores else 'alerts'} from {topic}", style="dim")


# --- fraudstream bench ----------------------------------------------------------------------
@cli.group()
def bench() -> None:
    """Benchmarks that print ratios (they measure; they never assert a speed)."""


@bench.command("pipeline")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Model folder (default: FRAUD_MODEL_DIR).",
)
@click.option(
    "--transactions",
    type=click.IntRange(2, 10_000),
    default=40,
    show_default=True,
    help="Timed transactions, after the warm-up.",
)
@click.option(
    "--warmup",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Untimed first ones.",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the result into this Markdown file's pipeline block (docs/benchmarks.md).",
)
@_friendly
def bench_pipeline(
    model_dir: Path | None, transactions: int, warmup: int, doc: Path | None
) -> None:
    """Throughput of (a) a bare loop of FHE evaluations and (b) the whole pipeline through a
    local broker, over the same transactions, their ratio, and the pipeline's latencies.

    Starts its own broker on free loopback ports, one scorer and one partner gateway; about
    (warmup + transactions) x 2 FHE evaluations in all.
    """
    from streams.qa.bench import run_pipeline_bench  # noqa: PLC0415

    settings = _settings()
    model_dir = (model_dir or settings.model_dir).resolve()
    if not (model_dir / "model_card.json").exists():
        msg = f"no model in {model_dir}: train one with `fraudstream model train`"
        raise click.UsageError(msg)
    result = run_pipeline_bench(
        settings,
        model_dir,
        transactions=transactions,
        warmup=warmup,
        say=lambda m: _console.print(f"  {m}", highlight=False),
    )
    _console.print(result.markdown(), highlight=False)
    if doc is not None:
        from datetime import UTC, datetime  # noqa: PLC0415

        from streams.cli.model import replace_block  # noqa: PLC0415

        command = f"fraudstream bench pipeline --transactions {transactions} --warmup {warmup}"
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        replace_block(doc, "pipeline", f"Measured {stamp} with `{command}`:\n\n{result.markdown()}")
        _console.print(f"[green]written[/] {doc} (pipeline block)")


# --- fraudstream demo -----------------------------------------------------------------------
@cli.command()
@click.option(
    "--fraud-cards",
    type=click.IntRange(0, 20),
    default=2,
    show_default=True,
    help="Cards per partner with frauds on the replayed day.",
)
@click.option(
    "--legit-cards",
    type=click.IntRange(0, 50),
    default=4,
    show_default=True,
    help="Cards per partner without frauds that day.",
)
@_friendly
def demo(fraud_cards: int, legit_cards: int) -> None:
    """The main job on this machine, from nothing to alerts.

    Starts a local broker on free loopback ports, takes the model in FRAUD_MODEL_DIR (or trains
    the default one into artifacts/), makes FHE keys for each partner, starts one scorer and one
    gateway per partner, warms the gateways' feature state with history, replays a day of
    real transactions of a few cards per partner (and three malformed events), prints every
    score and alert as it arrives and a summary. Everything is stopped at the end.
    """
    from streams.qa.demo import run_demo  # noqa: PLC0415

    sys.exit(run_demo(_settings(), _console, fraud_cards=fraud_cards, legit_cards=legit_cards))


def full_cli() -> click.Group:
    """The command with every subcommand attached (the model, keys and replay tools are
    imported only here, to keep ``--help`` and the runtime commands light)."""
    from streams.cli.model import keys, model  # noqa: PLC0415
    from streams.cli.replay import record, replay, verify  # noqa: PLC0415

    if "model" not in cli.commands:
        cli.add_command(_friendly_group(model))
        cli.add_command(_friendly_group(keys))
        for command in (record, replay, verify):
            if command.callback is not None:
                command.callback = _friendly(command.callback)
            cli.add_command(command)
    return cli


def main() -> None:
    """Entry point of the ``fraudstream`` console script."""
    full_cli()()


def _friendly_group(group: click.Group) -> click.Group:
    """Apply the friendly error handling to every command of a group."""
    for command in group.commands.values():
        if command.callback is not None:
            command.callback = _friendly(command.callback)
    return group
