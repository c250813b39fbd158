"""The layout's rules, checked on the source: module and function sizes, no import cycle, a
public ``__all__`` in every package, and the scorer's entry point kept from the partner's code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from tests.support.paths import ROOT

PACKAGES = ("streams", "models")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
#: A function may be longer when its ``def`` line says why: ``def f(...):  # long: <reason>``.
LONG_MARK = "# long:"


def source_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_module_is_over_the_limit() -> None:
    """Every module of streams/ and models/ has at most ~400 lines."""
    over = {
        str(path.relative_to(ROOT)): n
        for path in source_files()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not over, f"split these by concept: {over}"


def long_functions(path: Path, root: Path = ROOT) -> list[str]:
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        # From the def line (a click command's stacked options are declarations, not logic).
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        header = "\n".join(lines[node.lineno - 1 : node.body[0].lineno - 1])
        if length > MAX_FUNCTION_LINES and LONG_MARK not in header:
            found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_over_the_limit_without_a_reason() -> None:
    """Functions have at most ~60 lines, or their def line says why (``# long: ...``)."""
    found = [entry for path in source_files() for entry in long_functions(path)]
    assert not found, "split these, or say why on the def line:\n" + "\n".join(found)


def test_a_long_function_without_a_reason_is_found(tmp_path: Path) -> None:
    """The length check sees a long function and accepts the reason comment."""
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n\n\ndef g():  {LONG_MARK} a table\n{body}\n")
    found = [entry.split()[1] for entry in long_functions(tmp_path / "m.py", tmp_path)]
    assert found == ["f"]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every import cycle among the modules of the graph (Tarjan's strongly connected parts)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            part = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                part.append(other)
                if other == module:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_there_is_no_import_cycle(graph: grimp.ImportGraph) -> None:
    """No module imports itself through others (function-level imports included)."""
    assert cycles(graph) == []


def test_every_package_lists_its_public_names() -> None:
    """Each package's ``__init__`` has a docstring and an ``__all__``."""
    missing = []
    for init in (p for package in PACKAGES for p in (ROOT / package).rglob("__init__.py")):
        tree = ast.parse(init.read_text())
        names = {
            target.id
            for node in tree.body
            for target in (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            if isinstance(target, ast.Name)
        }
        if ast.get_docstring(tree) is None or "__all__" not in names:
            missing.append(str(init.relative_to(ROOT)))
    assert not missing
