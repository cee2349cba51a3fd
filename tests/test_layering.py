"""The package table of docs/architecture.md, held against every import in src/lumos."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import lumos

ROOT = Path(lumos.__file__).parent
TABLE = Path(__file__).parents[1] / "docs" / "architecture.md"


def read_table(text: str) -> tuple[set[str], dict[str, set[str]]]:
    """``(bottom, {package: packages it may import})`` from the Markdown table."""
    bottom, allowed = set(), {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([\w.]+)`", cells[0])
        may = set(re.findall(r"`([\w.]+)`", cells[2]))
        if "bottom layer" in cells[1]:
            bottom |= set(names)
        for name in names:
            allowed[name] = may
    return bottom, allowed


def package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(tree: ast.AST):
    """``(line, module, names)`` of every import of Lumos, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "lumos":
                for a in node.names:
                    yield node.lineno, f"lumos.{a.name}", []
            elif node.module.startswith("lumos."):
                yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("lumos."):
                    yield node.lineno, a.name, []
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            yield node.lineno, "importlib.import_module", []


def violations(source: str, package: str, bottom: set, allowed: dict, where: str = ""):
    problems = []
    for line, module, names in imports(ast.parse(source)):
        at = f"{where}:{line}"
        if module == "importlib.import_module":
            if package not in ("_engines", "cli"):  # the Spark engine; the CLI's lazy commands
                problems.append(f"{at}: imports a module by name; only lumos._engines may")
            continue
        parts = module.split(".")
        target = parts[1]
        if target == package or target == "errors":
            continue
        if package in bottom:
            problems.append(f"{at}: the bottom layer imports {module} (only lumos.errors)")
            continue
        if target not in bottom and target not in allowed.get(package, set()):
            problems.append(f"{at}: {package} imports {module}, which its row does not list")
        if target not in bottom and any(p.startswith("_") for p in parts[2:]):
            problems.append(f"{at}: {module} is a private module of {target}")
        private = [n for n in names if n.startswith("_")]
        if private:
            problems.append(f"{at}: {', '.join(private)} from {module} is private to {target}")
    return problems


def test_every_package_is_in_the_table_and_nothing_else():
    bottom, allowed = read_table(TABLE.read_text())
    found = {package_of(p) for p in ROOT.rglob("*.py")} - {"__init__"}
    assert found == set(allowed), (
        f"docs/architecture.md misses {sorted(found - set(allowed))} or lists what is gone: "
        f"{sorted(set(allowed) - found)}"
    )
    assert {"errors", "_checks", "_targets", "_html", "_engines"} <= bottom


def test_no_arrow_runs_up_the_table():
    bottom, allowed = read_table(TABLE.read_text())
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        package = package_of(path)
        if package == "__init__":
            package = "lumos"
            allowed.setdefault("lumos", set())
        where = str(path.relative_to(ROOT.parent))
        problems += violations(path.read_text(), package, bottom, allowed, where)
    assert not problems, "\n".join(problems)


def test_only_demo_and_cli_import_serve_and_spark_and_only_cli_demo():
    _, allowed = read_table(TABLE.read_text())
    assert {p for p, may in allowed.items() if "serve" in may} == {"demo", "cli"}
    assert {p for p, may in allowed.items() if "spark" in may} == {"cli"}
    assert {p for p, may in allowed.items() if "demo" in may} == {"cli"}


@pytest.mark.parametrize(
    ("source", "package", "found"),
    [
        ("from lumos.serve import create_app", "explain", "which its row does not list"),
        ("def f():\n    from lumos.spark import session", "recommend", "does not list"),
        ("from lumos.models._glmix import sample_keys", "recommend", "private module of models"),
        ("from lumos.evaluate import _bars", "serve", "_bars from lumos.evaluate is private"),
        ("from lumos.data import read_table", "_checks", "the bottom layer imports"),
        ("importlib.import_module('lumos.spark')", "explain", "only lumos._engines may"),
    ],
)
def test_the_checker_finds_planted_arrows(source, package, found):
    bottom, allowed = read_table(TABLE.read_text())
    problems = violations(source, package, bottom, allowed)
    assert problems and found in problems[0], problems
