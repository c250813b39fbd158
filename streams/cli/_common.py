"""What every ``fraudstream`` command shares, declared once.

The console, the settings (``FRAUD_*`` variables, with command-line overrides), the ``--broker``,
``--model`` and ``--json`` options (with ``--json``, stdout carries JSON lines only), the model
folder check, and the error handler: the command classes below turn the project's errors
(:class:`~streams.core.errors.FraudStreamError`, which models' errors derive from too) into one
red ``error: ...`` line and an exit code, never a traceback. Every command module builds its
commands with these classes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, overload

import click
import orjson
from pydantic import ValidationError
from rich.console import Console

from streams.cli._sigterm import sigterm_unwinds
from streams.core.errors import FraudStreamError
from streams.core.settings import KafkaSettings, Settings

_S = TypeVar("_S", bound=KafkaSettings)

__all__ = [
    "Command",
    "Group",
    "JsonLine",
    "broker_option",
    "check_partners",
    "console",
    "err_console",
    "json_lines",
    "json_option",
    "load_settings",
    "model_option",
    "moment_ms",
    "read_block",
    "replace_block",
    "require_model",
    "say",
    "show_result",
    "write_measured",
]

#: The one console every command prints to (stdout). Into a pipe or a file, lines are never
#: wrapped (Rich would wrap at 80 columns): each record stays one line for grep and scripts.
console = Console()
console.soft_wrap = not console.is_terminal
#: Where notes go when stdout carries data (``--json``): stderr, never wrapped either.
err_console = Console(stderr=True)
err_console.soft_wrap = not err_console.is_terminal


def say(message: str) -> None:
    """Print a progress message of a long step, indented under the step."""
    console.print(f"  {message}", highlight=False)


# --- --json: JSON lines on stdout, everything else on stderr ---------------------------------
#: Prints one JSON object as one line of the command's stdout (what :func:`json_lines` yields).
JsonLine = Callable[[Mapping[str, Any]], None]


def json_option(records: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--json`` (the ``as_json`` parameter, which the error handler reads too), for a command
    whose JSON lines are one object per ``records``, then a summary object."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help=f"Print the result as JSON lines on stdout: one object per {records}, then a "
        '"summary" object (each has a "record" field naming which); progress, notes and '
        "errors go to stderr.",
    )


@contextmanager
def json_lines(as_json: bool) -> Iterator[JsonLine | None]:
    """With ``--json`` (``as_json``): yield what prints a JSON line on stdout, while everything
    else printed meanwhile (the console's progress, tables and notes; any ``print``) goes to
    stderr, so that stdout carries JSON lines only. Without: yield None, print as usual."""
    if not as_json:
        yield None
        return
    stdout = sys.stdout

    def emit(record: Mapping[str, Any]) -> None:
        click.echo(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY).decode(), file=stdout)

    with redirect_stdout(sys.stderr):
        yield emit


def show_result(emit: JsonLine | None, text: str, records: Iterable[Mapping[str, Any]]) -> None:
    """A command's result: ``records`` as JSON lines (``emit``, from :func:`json_lines`), or
    without ``--json`` (``emit`` None) ``text`` on the console."""
    if emit is None:
        console.print(text, highlight=False)
        return
    for record in records:
        emit(record)


@overload
def load_settings(settings_type: None = None, **overrides: Any) -> Settings: ...
@overload
def load_settings(settings_type: type[_S], **overrides: Any) -> _S: ...
def load_settings(settings_type: type[_S] | None = None, **overrides: Any) -> Settings | _S:
    """Settings of ``settings_type`` (every setting by default; a role's own for a worker) from
    the environment, with command-line overrides (None: not given); a clear usage error (exit
    code 2) naming each invalid ``FRAUD_*`` variable."""
    kind: type[Settings] | type[_S] = Settings if settings_type is None else settings_type
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _CONNECT_TIMEOUT in ctx.meta:  # --connect-timeout
        overrides = {"connect_timeout_s": ctx.meta[_CONNECT_TIMEOUT], **overrides}
    try:
        return kind(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = [
            f"  FRAUD_{'_'.join(str(p) for p in error['loc']).upper()}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        msg = "invalid FRAUD_* configuration:\n" + "\n".join(problems)
        raise click.UsageError(msg) from exc


# --- the error handler ----------------------------------------------------------------------
@contextmanager
def _reported(ctx: click.Context, exit_code: int) -> Iterator[None]:
    """Turn a project error into a one-line red message and ``exit_code``."""
    try:
        yield
    except FraudStreamError as exc:
        # With --json, stdout carries records only: the error goes to stderr.
        shown = err_console if ctx.params.get("as_json") else console
        shown.print(f"[red]error:[/] {exc}", highlight=False)
        ctx.exit(exit_code)


class Command(click.Command):
    """A ``fraudstream`` command: a project error ends it with ``error: ...`` and
    ``error_exit_code`` (1 unless the command documents another).

    ``owns_processes``: the command starts a broker, workers or other processes of its own
    (in sessions of their own, which a signal to the command does not reach) and stops them
    when it ends; it runs inside :func:`sigterm_unwinds`, so that a SIGTERM stops them too. Not
    for every command: a handler runs only between Python instructions, so a SIGTERM would
    wait for a long call into C (a compile, a training) instead of ending it at once."""

    def __init__(
        self, *args: Any, error_exit_code: int = 1, owns_processes: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.error_exit_code = error_exit_code
        self.owns_processes = owns_processes

    def invoke(self, ctx: click.Context) -> Any:
        unwinds = sigterm_unwinds() if self.owns_processes else nullcontext()
        with unwinds, _reported(ctx, self.error_exit_code):
            return super().invoke(ctx)


class Group(click.Group):
    """A ``fraudstream`` command group: its commands (``@group.command()``) are
    :class:`Command` s, its subgroups ``Group`` s."""

    command_class = Command
    group_class = type

    def invoke(self, ctx: click.Context) -> Any:
        with _reported(ctx, 1):
            return super().invoke(ctx)


def moment_ms(value: str | None) -> int | None:
    """An ISO date or date-time (UTC unless it says otherwise) → ms since the epoch (None stays
    None); a usage error with an example otherwise."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        msg = f"{value!r} is not an ISO date or date-time (e.g. 2026-11-29T10:00:00Z)"
        raise click.BadParameter(msg) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# --- shared options -------------------------------------------------------------------------
_CONNECT_TIMEOUT = "fraudstream.connect_timeout_s"


def _keep_connect_timeout(ctx: click.Context, _: click.Parameter, value: float | None) -> None:
    if value is not None:
        ctx.meta[_CONNECT_TIMEOUT] = value


def broker_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--broker`` (overrides FRAUD_BROKER for the run: pass it to :func:`load_settings`) and
    ``--connect-timeout`` (overrides FRAUD_CONNECT_TIMEOUT_S; :func:`load_settings` applies it
    by itself)."""
    command = click.option(
        "--connect-timeout",
        type=click.FloatRange(min=0, min_open=True, max=300),
        metavar="SECONDS",
        expose_value=False,
        callback=_keep_connect_timeout,
        help="Stop with an error when the broker cannot be reached in this time "
        "(default: FRAUD_CONNECT_TIMEOUT_S, 3).",
    )(command)
    return click.option("--broker", help="Bootstrap servers (default: FRAUD_BROKER).")(command)


#: ``--model``: a model version folder; FRAUD_MODEL_DIR, else the settings' default, when not
#: given. Check it with :func:`require_model`.
model_option = click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="FRAUD_MODEL_DIR",
    default=Settings.model_fields["model_dir"].default,
    show_default=True,
    show_envvar=True,
    help="Model version folder.",
)


def check_partners(settings: Settings, partners: Iterable[str]) -> None:
    """A usage error (exit code 2) on ``--partner`` naming each of ``partners`` that is not one
    of FRAUD_PARTNERS, before anything connects."""
    unknown = [repr(p) for p in partners if p not in settings.partners]
    if unknown:
        verb = "is not a partner" if len(unknown) == 1 else "are not partners"
        msg = f"{', '.join(unknown)} {verb} here: one of {', '.join(settings.partners)}"
        raise click.BadParameter(msg + " (FRAUD_PARTNERS)", param_hint="--partner")


def require_model(model_dir: Path) -> Path:
    """``model_dir`` resolved, once it is known to hold a model (its model card); else a usage
    error saying how to get one."""
    resolved = model_dir.resolve()
    if not (resolved / "model_card.json").is_file():
        msg = (
            f"no model in {resolved}: give --model, set FRAUD_MODEL_DIR, or train one with "
            "`fraudstream model train`"
        )
        raise click.UsageError(msg)
    return resolved


def write_measured(document: Path, name: str, command: str, markdown: str) -> None:
    """Put a measurement into ``document``'s ``name`` block, dated and with the command that
    made it, and say so."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    replace_block(document, name, f"Measured {stamp} with `{command}`:\n\n{markdown}")
    console.print(f"[green]written[/] {document} ({name} block)")


def read_block(document: Path, name: str) -> str | None:
    """The text between ``document``'s ``name`` markers (what :func:`replace_block` wrote), or
    None when the document or its markers are missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = document.read_text() if document.is_file() else ""
    if begin not in text or end not in text:
        return None
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(document: Path, name: str, content: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` markers of
    ``document`` (the ``--doc`` options); append the block when the markers are missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = document.read_text() if document.exists() else ""
    block = f"{begin}\n{content.strip()}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n{block}\n"
    document.write_text(text)
