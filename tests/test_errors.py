"""The registry of error codes: every code raised in src/ is registered, every registered code is
used, and docs/errors.md is the registry's own table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lumos
from lumos.errors import CODES, ApiError, LumosUserError, NotFittedError, codes_table

ROOT = Path(lumos.__file__).parent
DOCS = Path(__file__).parents[1] / "docs" / "errors.md"
# calls that take the code as their second positional argument: ApiError(status, code, ...)
POSITIONAL = {"ApiError": 1, "PageError": 1}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _codes_in(tree: ast.AST):
    """Every error code in a module: ``code=`` arguments and defaults, ``code = "…"`` class
    attributes, ``{"code": "…"}`` bodies and ApiError's positional code."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                    yield kw.value.value, node.lineno
            at = POSITIONAL.get(_name(node.func))
            if at is not None and len(node.args) > at and isinstance(node.args[at], ast.Constant):
                yield node.args[at].value, node.lineno
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            pairs = [
                *zip(args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True),
                *zip(args.kwonlyargs, args.kw_defaults, strict=True),
            ]
            for arg, default in pairs:
                if arg.arg == "code" and isinstance(default, ast.Constant) and default.value:
                    yield default.value, node.lineno
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
                if (
                    isinstance(targets[0], ast.Name)
                    and targets[0].id == "code"
                    and isinstance(getattr(stmt, "value", None), ast.Constant)
                ):
                    yield stmt.value.value, stmt.lineno
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "code"
                    and isinstance(value, ast.Constant)
                ):
                    yield value.value, node.lineno


def _used() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "errors.py" and path.parent == ROOT:
            continue
        for code, line in _codes_in(ast.parse(path.read_text(), str(path))):
            used.setdefault(code, []).append(f"{path.relative_to(ROOT.parent)}:{line}")
    return used


def test_every_code_in_src_is_registered():
    unknown = {c: where for c, where in _used().items() if c not in CODES}
    assert not unknown, f"register these codes in lumos/errors.py CODES: {unknown}"


def test_every_registered_code_is_used():
    defaults = {
        "lumos_error",
        "user_error",
        "invalid_data",
        "not_fitted",
        "log_unavailable",
        "unavailable",
    }
    used = set(_used()) | defaults  # the codes of errors.py's own classes
    assert not set(CODES) - used, f"codes no module raises: {sorted(set(CODES) - used)}"


def test_codes_are_short_snake_case_with_a_meaning():
    for code, meaning in CODES.items():
        assert code.isidentifier() and code == code.lower() and len(code) <= 24, code
        assert meaning.endswith(".") and len(meaning) <= 100, code


def test_the_scan_finds_a_planted_unregistered_code():
    tree = ast.parse(
        'raise LumosUserError("x", code="never_registered")\nApiError(404, "nope", "m")'
    )
    assert [c for c, _ in _codes_in(tree)] == ["never_registered", "nope"]


def test_docs_table_is_made_from_the_registry():
    assert codes_table() in DOCS.read_text(), (
        "docs/errors.md is stale: paste lumos.errors.codes_table() into it"
    )


def test_not_fitted_is_one_class_for_lumos_and_scikit_learn():
    from sklearn.exceptions import NotFittedError as SklearnNotFitted

    from lumos.models import LogisticRegression

    with pytest.raises(NotFittedError) as err:
        LogisticRegression().predict([[0.0]])
    assert isinstance(err.value, SklearnNotFitted) and isinstance(err.value, LumosUserError)
    assert err.value.code == "not_fitted" and "call fit first" in err.value.message


def test_api_error_carries_status_code_and_field():
    exc = ApiError(404, "unknown_cohort", "no cohort 'x'", "cohort_id")
    assert (exc.status, exc.code, exc.message, exc.field) == (
        404,
        "unknown_cohort",
        "no cohort 'x'",
        "cohort_id",
    )
