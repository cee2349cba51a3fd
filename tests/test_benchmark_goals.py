"""Benchmark goals stay readable: each compares a numeric field of its result to a number.

BENCHMARKS.md: a goal maps a field of the result holding a number to
``"OP NUMBER"`` and nothing else. The scripts are read with ``ast``, never run.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))
GOAL = re.compile(r"^(>=|<=|==|>|<) -?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def goal_problems(source: str) -> list[str]:
    """Every goal in ``source`` that is not a literal ``{identifier: "OP NUMBER"}``.

    A goal is the value of a ``"goal"`` key in a dict literal, or what is
    assigned to ``something["goal"]``. It may be None or choose between such
    dicts with ``... if ... else ...``.

    >>> goal_problems('r = {"goal": {"lumos": "<= 2.5", "margin": "> -0.01"}}')
    []
    >>> goal_problems('r = {"goal": {"lumos": ">= anchor + 0.01"}}')
    ["line 1: goal value '>= anchor + 0.01' is not 'OP NUMBER'"]
    """
    problems = []

    def check(node: ast.expr) -> None:
        where = f"line {node.lineno}"
        if isinstance(node, ast.Constant) and node.value is None:
            return
        if isinstance(node, ast.IfExp):
            check(node.body)
            check(node.orelse)
            return
        if not isinstance(node, ast.Dict):
            problems.append(f"{where}: a goal must be a dict literal, not {ast.unparse(node)}")
            return
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and str(key.value).isidentifier()):
                shown = "**" if key is None else ast.unparse(key)
                problems.append(f"{where}: goal key {shown} is not a field name")
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                if not GOAL.match(value.value):
                    problems.append(f"{where}: goal value {value.value!r} is not 'OP NUMBER'")
            else:
                problems.append(f"{where}: goal value {ast.unparse(value)} is not a plain string")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "goal":
                    check(value)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "goal"
                ):
                    check(node.value)
    return problems


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_goals_are_op_number_on_a_field(script):
    problems = goal_problems(script.read_text(encoding="utf-8"))
    assert not problems, f"{script.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "bad",
    [
        '{"goal": {"lumos": f">= anchor + {margin}"}}',
        '{"goal": {"lumos - anchor": "<= 10"}}',
        '{"goal": {"lumos": ">= 0.78 and > anchor"}}',
        '{"goal": {"peak_rss_mb": "<= 2 * output_mb"}}',
        '{"goal": {"details.top10_identical": "== true"}}',
        '{"goal": {"lumos": f"<= {limit}"}}',
        '{"goal": {"lumos": 10}}',
        '{"goal": limits}',
        '{"goal": {"lumos": "<= 1"} if quick else {"lumos": "<= anchor"}}',
        'row["goal"] = {"lumos.mean": "< 1"}',
    ],
)
def test_a_goal_that_is_not_op_number_is_found(bad):
    assert goal_problems(bad)


def test_the_scripts_are_found():
    assert {"_common.py", "explain.py", "serve.py"} <= {p.name for p in SCRIPTS}


def test_emit_prints_one_json_line_whose_goals_name_numeric_fields(capsys):
    spec = importlib.util.spec_from_file_location("bench_common", BENCHMARKS / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    results = [
        {
            "name": "seconds",
            "unit": "s",
            "lumos": 1.234567,
            "anchor": 30.0,
            "speedup": 30.0 / 1.234567,
            "peak_rss_mb": 812,
            "goal": {"lumos": "<= 2", "speedup": ">= 10", "peak_rss_mb": "<= 1000"},
            "details": {"rows": 100_000},
        },
        {
            "name": "auc",
            "unit": "AUC",
            "lumos": 0.7812,
            "anchor": 0.7699,
            "margin": 0.7812 - 0.7699,
            "goal": {"lumos": ">= 0.78", "margin": "> 0"},
        },
        {"name": "findings", "unit": None, "lumos": None, "anchor": None},
    ]
    common.emit("sample", True, results)
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1
    emitted = json.loads(out)
    assert emitted["benchmark"] == "sample" and emitted["quick"] is True
    assert [r["name"] for r in emitted["results"]] == ["seconds", "auc", "findings"]
    for result in emitted["results"]:
        for field, comparison in result.get("goal", {}).items():
            assert GOAL.match(comparison), comparison
            value = result[field]
            assert isinstance(value, int | float) and not isinstance(value, bool), field
