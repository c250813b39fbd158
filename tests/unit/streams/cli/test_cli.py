"""The ``fraudstream`` command itself: subcommands loaded lazily, one error handler, settings
errors that name the variable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from models.errors import ArtifactError
from streams.cli import COMMANDS, cli, full_cli
from streams.cli._common import Command, Group, require_model, write_measured
from streams.core.errors import ConfigError
from tests.support.paths import ROOT


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this checkout first on the path), no FRAUD_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_help_lists_every_command_without_importing_any() -> None:
    """`fraudstream --help` lists each command with its one-line help from the table, and
    imports no command module (nor anything of the project beyond the package)."""
    code = (
        "import json, sys\n"
        "from streams.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('streams', 'models'))\n"
        "print(json.dumps({'code': code, 'loaded': loaded}), file=sys.stderr)\n"
    )
    result = _python(code, "--help")
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["code"] == 0
    assert report["loaded"] == ["streams", "streams.cli"]
    listed = result.stdout.split("Commands:\n")[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(COMMANDS)
    for line, (_, short) in zip(listed, (COMMANDS[n] for n in sorted(COMMANDS)), strict=True):
        shown = line.split(maxsplit=1)[1]
        assert short.startswith(shown.removesuffix("...")), line


def test_command_table_matches_the_commands() -> None:
    """Each table entry loads a command of that name whose own short help is the table's."""
    root = full_cli()
    ctx = click.Context(root)
    assert root.list_commands(ctx) == sorted(COMMANDS)
    for name, (_, short) in COMMANDS.items():
        command = root.get_command(ctx, name)
        assert command is not None
        assert command.name == name
        assert command.get_short_help_str(10_000) == short


def _walk(command: click.Command, ctx: click.Context) -> list[click.Command]:
    if not isinstance(command, click.Group):
        return [command]
    found: list[click.Command] = [command]
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        assert sub is not None
        found += _walk(sub, ctx)
    return found


def test_every_command_has_the_error_handler() -> None:
    """Every command and group is built with the classes that report project errors; verify
    documents exit code 2 for a check that could not run."""
    root = full_cli()
    ctx = click.Context(root)
    commands = _walk(root, ctx)[1:]
    assert len(commands) > len(COMMANDS)
    for command in commands:
        assert isinstance(command, Group | Command), command.name
        if isinstance(command, Command):
            expected = 2 if command.name == "verify" else 1
            assert command.error_exit_code == expected, command.name


def test_version_names_this_package_and_what_decides_compatibility() -> None:
    """`fraudstream --version`: the package's version, then Concrete's (keys and circuits),
    Faust's and the Kafka client's."""
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert re.fullmatch(r"fraudstream \d+\.\d+\.\d+.*", lines[0])
    assert [line.split()[0] for line in lines[1:]] == [
        "concrete-ml",
        "concrete-python",
        "faust-streaming",
        "kafka-python",
    ]


def test_every_option_says_what_it_does() -> None:
    """`--help` explains every option of every command (an option without help shows only its
    name, which says nothing about units, defaults or effect)."""
    root = full_cli()
    ctx = click.Context(root)
    bare = [
        f"{command.name} {param.opts[0]}"
        for command in _walk(root, ctx)
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert bare == []


def test_project_error_is_one_red_line_and_exit_code_1() -> None:
    """A FraudStreamError (the runtime's or models') ends the command with `error: ...` on one
    line and exit code 1, no traceback; a command may document another exit code."""

    @click.group(cls=Group)
    def tools() -> None:
        """Tools."""

    @tools.command()
    def config() -> None:
        msg = "FRAUD_KEY_DIR is required for the partner role"
        raise ConfigError(msg)

    @tools.command()
    def artifact() -> None:
        msg = "model_card.json is missing"
        raise ArtifactError(msg)

    @click.command(cls=Command, error_exit_code=2)
    def check() -> None:
        msg = "cannot run"
        raise ConfigError(msg)

    runner = CliRunner()
    result = runner.invoke(tools, ["config"])
    assert result.exit_code == 1
    assert result.output == "error: FRAUD_KEY_DIR is required for the partner role\n"
    result = runner.invoke(tools, ["artifact"])
    assert result.exit_code == 1
    assert result.output == "error: model_card.json is missing\n"
    result = runner.invoke(check, [])
    assert result.exit_code == 2
    assert result.output == "error: cannot run\n"


def test_other_errors_are_not_hidden() -> None:
    """Only the project's errors are turned into a message: a bug keeps its traceback."""

    @click.command(cls=Command)
    def buggy() -> None:
        raise ZeroDivisionError

    result = CliRunner().invoke(buggy, [])
    assert isinstance(result.exception, ZeroDivisionError)


def test_invalid_fraud_variable_is_a_usage_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad FRAUD_* value stops a runtime command before it does anything: exit code 2 and a
    message naming the variable and what is wrong with it."""
    for name in [k for k in os.environ if k.startswith("FRAUD_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(
        cli, ["topics", "create"], env={"FRAUD_PARTNERS": "scoring", "FRAUD_WEB_PORT": "0"}
    )
    assert result.exit_code == 2
    assert "invalid FRAUD_* configuration:" in result.stderr
    assert "FRAUD_PARTNERS: " in result.stderr
    assert "FRAUD_WEB_PORT: " in result.stderr
    assert "Traceback" not in result.output


def test_require_model_says_how_to_get_one(tmp_path: Path) -> None:
    """A --model folder without a model card is a usage error saying what to do."""
    with pytest.raises(click.UsageError, match=r"no model in .*: give --model, set FRAUD_MODEL"):
        require_model(tmp_path)
    (tmp_path / "model_card.json").write_text("{}")
    assert require_model(tmp_path) == tmp_path.resolve()


def test_worker_module_imports_no_partner_code() -> None:
    """`fraudstream worker` also starts the scorer: its module loads no partner module."""
    code = (
        "import sys\n"
        "import streams.cli.worker\n"
        "print(sorted(m for m in sys.modules if m.startswith("
        "('streams.partner', 'models.fhe.client'))))\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_measurement_goes_into_its_block_dated_with_its_command(tmp_path: Path) -> None:
    """--doc: the block between the markers is replaced by the date, the command and the
    result; the rest of the document is kept."""
    doc = tmp_path / "doc.md"
    doc.write_text("# T\n\nbefore\n<!-- faults:begin -->\nold\n<!-- faults:end -->\nafter\n")
    write_measured(doc, "faults", "fraudstream bench faults --seed 2", "| a |")
    text = doc.read_text()
    assert "old" not in text
    assert re.search(r"Measured \d{4}-\d\d-\d\d with `fraudstream bench faults --seed 2`:", text)
    assert text.index("before") < text.index("| a |") < text.index("after")
