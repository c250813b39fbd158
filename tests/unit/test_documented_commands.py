"""Every command README.md and docs/*.md show is run by a test (the registry is
tests/support/documented_commands.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from tests.support.documented_commands import DOCUMENTED
from tests.support.paths import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# `fraudstream` as a command word (not in a path such as deploy/helm/fraudstream), possibly as
# .venv/bin/fraudstream, with the FRAUD_*=value assignments in front of it.
_FRAUDSTREAM = re.compile(
    r"(?:(?<=\s)|^)((?:FRAUD_[A-Z_]+=\S+\s+)*)(?:\.venv/bin/)?fraudstream(?=\s|$)"
)
_MAKE = re.compile(r"^(?:\$\s+)?(make(?:\s+[\w-]+)*)")


class DocumentedCommand(NamedTuple):
    """A command line of a fenced code block, normalised, and where it is."""

    command: str
    where: str


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of the fenced code blocks of ``path`` (numbered), continuations joined."""
    lines: list[tuple[int, str]] = []
    fenced = False
    pending: tuple[int, str] | None = None
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if text.strip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            continue
        start, line = (number, text) if pending is None else (pending[0], f"{pending[1]} {text}")
        pending = None
        if line.rstrip().endswith("\\"):
            pending = (start, line.rstrip()[:-1])
            continue
        lines.append((start, " ".join(line.split())))
    return lines


def _normalise(text: str) -> str:
    return " ".join(text.split())


def documented_commands() -> list[DocumentedCommand]:
    """Every ``fraudstream`` and ``make`` command line of the documents' code blocks."""
    found = []
    for path in DOCUMENTS:
        for number, line in _code_lines(path):
            where = f"{path.relative_to(ROOT)}:{number}"
            code, _, comment = line.partition(" #")
            code = code.removeprefix("$ ")
            if make := _MAKE.match(code):
                found.append(DocumentedCommand(_normalise(make.group(1)), where))
            if start := _FRAUDSTREAM.search(code):
                command = f"{start.group(1)}fraudstream{code[start.end() :]}"
                found.append(DocumentedCommand(_normalise(command), where))
            # A comment may name an alternative ("make run   # or: fraudstream model train  (…)").
            if start := _FRAUDSTREAM.search(comment):
                command = "fraudstream" + comment[start.end() :].split("(")[0]
                found.append(DocumentedCommand(_normalise(command), where))
    return found


def test_every_documented_command_has_a_test() -> None:
    """A command line shown in README.md or docs/*.md has an entry naming the test that runs
    it; an entry whose command is no longer shown is removed."""
    found = documented_commands()
    assert len(found) > 30, "the extraction found too few commands: check documented_commands()"
    missing = [c for c in found if c.command not in DOCUMENTED]
    assert not missing, "\n".join(
        f"{c.where}: `{c.command}` is documented but no test is registered for it. Add a test that "
        f"runs it as written (sizes, ports and paths may differ), then add to DOCUMENTED in "
        f"tests/support/documented_commands.py:\n"
        f'    "{c.command}": Covered("tests/<file>.py::<test>", "<how, if not as written>"),'
        for c in missing
    )
    shown = {c.command for c in found}
    stale = sorted(set(DOCUMENTED) - shown)
    assert not stale, (
        f"no longer documented, remove from tests/support/documented_commands.py: {stale}"
    )


def test_every_registered_test_exists() -> None:
    """Each entry names a test function that exists (a renamed test must update the entry)."""
    for command, covered in DOCUMENTED.items():
        file, _, name = covered.test.partition("::")
        path = ROOT / file
        assert path.is_file(), f"{command}: {file} does not exist"
        assert re.search(rf"^def {re.escape(name)}\(", path.read_text(), re.MULTILINE), (
            f"{command}: {file} has no test {name}"
        )


def test_the_make_targets_run_what_the_registry_says() -> None:
    """`make run` is the set-up then `fraudstream demo` (the demo test), `make test` the set-up
    then scripts/test.sh (the test suite)."""
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: setup\n\t@\.venv/bin/fraudstream demo\n", makefile, re.MULTILINE)
    assert re.search(r"^test: setup\n\t@bash scripts/test\.sh\n", makefile, re.MULTILINE)
    assert "fraudstream demo" in DOCUMENTED["make run"].how
