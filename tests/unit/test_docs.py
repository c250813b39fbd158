"""The docs say what the code does."""

from __future__ import annotations

from streams.core.settings import settings_reference
from tests.support.paths import ROOT


def test_configuration_doc_lists_every_setting_with_its_default() -> None:
    """docs/configuration.md has one row per FRAUD_* setting, with the code's default and text."""
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for variable, default, meaning in settings_reference():
        assert f"| `{variable}` | `{default}` | {meaning} |" in doc, variable
    documented = [line for line in doc.splitlines() if line.startswith("| `FRAUD_")]
    assert len(documented) == len(settings_reference())


def test_readme_starts_with_what_it_is_and_the_two_commands() -> None:
    """The README opens with the project, then exactly the run and test commands CI uses."""
    readme = (ROOT / "README.md").read_text()
    assert readme.index("## The two commands") < readme.index("## Data flow")
    block = readme.split("## The two commands")[1].split("```sh")[1].split("```")[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_command_the_readme_shows_exists_with_its_options() -> None:
    """Each `fraudstream ...` line of the README names a real command and real options."""
    import re  # noqa: PLC0415

    import click  # noqa: PLC0415

    from streams.cli import full_cli  # noqa: PLC0415

    root = full_cli()
    ctx = click.Context(root)
    readme = (ROOT / "README.md").read_text()
    lines = re.findall(r"\.venv/bin/fraudstream ([^#\n]*)", readme)
    assert len(lines) > 10
    for line in lines:
        words = line.split()
        if words == ["--help"]:
            continue
        command = root.get_command(ctx, words[0])
        assert command is not None, f"{line}: {words[0]} is not a command"
        rest = words[1:]
        if isinstance(command, click.Group):
            sub = command.get_command(ctx, rest[0])
            assert sub is not None, f"{line}: {rest[0]} is not a command of {words[0]}"
            command, rest = sub, rest[1:]
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for word in rest:
            if word.startswith("-"):
                assert word in known, f"{line}: {word} is not an option of {command.name}"


def documented_grants() -> str:
    """The grants docs/kafka.md shows: FRAUD_PARTNERS=alpha, the default root and app id."""
    from streams.core.access import all_grants, grant_table  # noqa: PLC0415
    from streams.core.settings import WorkerSettings  # noqa: PLC0415
    from streams.core.topics import TopicNames  # noqa: PLC0415

    defaults = WorkerSettings.model_fields
    names = TopicNames(defaults["topic_root"].default)
    return grant_table(all_grants(names, defaults["app_id"].default, ("alpha",)))


def test_kafka_doc_shows_the_grants_of_access_py() -> None:
    """The grant table of docs/kafka.md is the one streams/core/access.py gives."""
    doc = (ROOT / "docs" / "kafka.md").read_text()
    block = doc.split("<!-- grants:begin -->\n")[1].split("\n<!-- grants:end -->")[0]
    expected = documented_grants()
    assert block == expected, f"put this between the grants markers of docs/kafka.md:\n{expected}"


def test_every_test_the_threat_model_cites_exists() -> None:
    """docs/threat-model.md backs each claim with tests: every file it names exists and every
    `file::test` (or `::test` after a file in the same cell) is a test function in that file."""
    import ast  # noqa: PLC0415
    import re  # noqa: PLC0415

    doc = (ROOT / "docs" / "threat-model.md").read_text()
    cited = 0
    for cell in re.findall(r"^\|[^|]*\|[^|]*\| (.*) \|$", doc, re.MULTILINE):
        current = None
        for path, name in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", cell):
            current = path or current
            assert current is not None, cell
            assert (ROOT / current).is_file(), current
            if name:
                tree = ast.parse((ROOT / current).read_text())
                names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
                assert name in names, f"{current}::{name}"
                cited += 1
    assert cited >= 25
