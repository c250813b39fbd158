"""``fraudstream kafka``: a local single-node Apache Kafka broker for development and tests,
plaintext or (``--secure``) authenticated and authorized by the ACLs of
:mod:`streams.core.access`."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streams.broker.acls import create_acls
from streams.broker.local_kafka import KAFKA_VERSION, LocalKafka, default_cache_dir, fetch_jars
from streams.broker.secure import SecureSetup
from streams.cli._common import Group, console, load_settings
from streams.core.access import Principals, all_grants
from streams.core.errors import BrokerError
from streams.core.settings import WorkerSettings
from streams.core.topics import TopicNames

__all__ = ["kafka"]

_CACHE = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_cache_dir(),
    show_default=True,
    envvar="FRAUDSTREAM_CACHE_DIR",
    help="Where the Kafka jars are cached (outside the repository).",
)
_LOCATION = [
    click.option(
        "--state-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path(".fraudstream/kafka"),
        show_default=True,
        help="Where the broker keeps its data, logs and pid.",
    ),
    click.option("--port", type=int, default=9092, show_default=True, help="Client port."),
    click.option(
        "--controller-port",
        type=int,
        default=9093,
        show_default=True,
        help="KRaft controller port.",
    ),
    _CACHE,
]


def _where(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say which local broker: --state-dir, --port, --controller-port and
    --cache-dir."""
    for option in reversed(_LOCATION):
        func = option(func)
    return func


def _local(
    state_dir: Path,
    port: int,
    controller_port: int,
    cache_dir: Path,
    *,
    secure: bool | None = None,
    users: tuple[str, ...] = (),
) -> LocalKafka:
    """The broker of ``state_dir``; secure or not as its state says unless ``secure`` is given."""
    state_dir = state_dir.resolve()
    if secure is None:
        secure = SecureSetup(state_dir).exists()
    return LocalKafka(
        state_dir,
        port=port,
        controller_port=controller_port,
        cache_dir=cache_dir,
        secure=secure,
        users=users,
    )


@click.group(cls=Group)
def kafka() -> None:
    """A local single-node Apache Kafka broker (KRaft, 127.0.0.1) from Maven Central jars."""


@kafka.command("up")
@_where
@click.option("--timeout", type=float, default=90.0, show_default=True, help="Seconds to wait.")
@click.option(
    "--secure",
    is_flag=True,
    help="SASL_SSL (SCRAM-SHA-512) with a generated CA, ACLs for every role (admin, scorer, "
    "one user per partner) and nothing allowed without one. Decided when STATE_DIR is first "
    "used: a secure state folder stays secure.",
)
@click.option(
    "--partners",
    help="Secure only: the partners to make users and ACLs for, comma separated "
    "(default: FRAUD_PARTNERS). The ACLs name topics of FRAUD_TOPIC_ROOT and consumer groups "
    "of FRAUD_APP_ID.",
)
def kafka_up(
    state_dir: Path,
    port: int,
    controller_port: int,
    cache_dir: Path,
    timeout: float,
    secure: bool,
    partners: str | None,
) -> None:
    """Fetch the jars (once), format KRaft storage (once), start and wait until ready.

    With --secure, the passwords are written to STATE_DIR/credentials.json (readable by you
    only) and never printed: `fraudstream kafka env --user USER` prints one principal's FRAUD_*
    settings. Topics are then created as the admin (`fraudstream topics create` with the
    admin's settings); the roles cannot create them.
    """
    if partners is not None and not secure:
        msg = "--partners names the users and ACLs of a secure broker: add --secure"
        raise BrokerError(msg)
    settings = load_settings(WorkerSettings, partners=partners) if secure else None
    users = tuple(Principals().users(settings.partners)) if settings else ()
    broker = _local(state_dir, port, controller_port, cache_dir, secure=secure, users=users)
    broker.start(timeout=timeout, say=console.print)
    console.print(f"[green]broker ready[/] at {broker.bootstrap} (logs: {broker.log_file})")
    if settings is None:
        return
    grants = all_grants(TopicNames(settings.topic_root), settings.app_id, settings.partners)
    count = create_acls(broker.client_config(), grants)
    console.print(
        f"SASL_SSL, SCRAM-SHA-512: users {', '.join(users)}; {count} ACLs for topics "
        f"{settings.topic_root}.* and groups {settings.app_id}-*; passwords in "
        f"{broker.security.credentials_file}",
        highlight=False,
    )
    console.print("`fraudstream kafka env --user admin` prints the admin's FRAUD_* settings")


@kafka.command("env")
@_where
@click.option(
    "--user", required=True, help="A user of the secure broker: admin, scorer or a partner id."
)
def kafka_env(state_dir: Path, port: int, controller_port: int, cache_dir: Path, user: str) -> None:
    """Print the FRAUD_* settings of one user of the secure broker, password included, as
    `export` lines: eval "$(fraudstream kafka env --user alpha)"."""
    broker = _local(state_dir, port, controller_port, cache_dir)
    if not broker.secure:
        msg = (
            f"the broker in {broker.state_dir} is not secure: it has no users (start one with "
            "`fraudstream kafka up --secure`, or give its --state-dir)"
        )
        raise BrokerError(msg)
    for name, value in broker.security.client_env(broker.bootstrap, user).items():
        click.echo(f"export {name}={shlex.quote(value)}")


@kafka.command("down")
@_where
def kafka_down(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> None:
    """Stop the broker started from STATE_DIR (its data stays for the next `up`)."""
    stopped = _local(state_dir, port, controller_port, cache_dir).stop()
    console.print("broker stopped" if stopped else "no broker was running")


@kafka.command("status")
@_where
def kafka_status(state_dir: Path, port: int, controller_port: int, cache_dir: Path) -> None:
    """Say whether the broker runs and answers; exit 1 when it does not."""
    status = _local(state_dir, port, controller_port, cache_dir).status()
    if status.ready:
        console.print(f"running and ready at {status.bootstrap} (pid {status.pid})")
        return
    if status.running:
        console.print(f"running (pid {status.pid}) but not answering at {status.bootstrap}")
    else:
        console.print("not running")
    sys.exit(1)


@kafka.command("fetch")
@_CACHE
@click.option("--version", default=KAFKA_VERSION, show_default=True, help="Kafka version.")
def kafka_fetch(cache_dir: Path, version: str) -> None:
    """Only resolve and cache the broker's jars (useful to warm a CI cache)."""
    libs = fetch_jars(version, cache_dir, say=console.print)
    console.print(f"{len(list(libs.glob('*.jar')))} jars in {libs}")
