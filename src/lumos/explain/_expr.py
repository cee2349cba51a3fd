"""Safe arithmetic for derived template items.

An expression is parsed by Python's parser into a syntax tree and then checked
node by node: only names, numbers, ``+ - * / **``, unary signs, parentheses and
calls of ``abs``, ``min``, ``max`` and ``log`` are allowed. Nothing is ever
passed to ``eval``; the checked tree is evaluated here over NumPy arrays, so a
derived item is computed for all rows at once.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

import numpy as np

_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive}
_FUNCTIONS = {"abs": (1, 1), "min": (2, None), "max": (2, None), "log": (1, 1)}


class ExpressionError(ValueError):
    """An expression uses something beyond plain arithmetic; ``args[0]`` says what."""


class Expression:
    """A checked arithmetic expression over named items.

    Parameters
    ----------
    source : str
        The expression, e.g. ``"(current_value - prev_value) / prev_value"``.
    allowed_names : iterable of str
        The names it may use.

    Examples
    --------
    >>> import numpy as np
    >>> e = Expression("(b - a) / a", {"a", "b"})
    >>> e(dict(a=np.array([2.0, 4.0]), b=np.array([3.0, 2.0])))
    array([ 0.5, -0.5])
    >>> Expression("a.__class__", {"a"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lumos.explain._expr.ExpressionError: attribute access ('.__class__') is not allowed; ...
    """

    def __init__(self, source: str, allowed_names):
        self.source = str(source)
        allowed = allowed_names if isinstance(allowed_names, set) else set(allowed_names)
        try:
            tree = ast.parse(self.source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"not a valid expression ({exc.msg})") from None
        self.names: set[str] = set()
        self._check(tree.body, allowed)
        self._tree = tree.body

    def _check(self, node: ast.AST, allowed: set[str]) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            self._check(node.left, allowed)
            self._check(node.right, allowed)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand, allowed)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise ExpressionError(f"constant {node.value!r} is not a number")
        elif isinstance(node, ast.Name):
            if node.id not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ExpressionError(f"unknown name {node.id!r} (known: {known})")
            self.names.add(node.id)
        elif isinstance(node, ast.Call):
            self._check_call(node, allowed)
        else:
            raise ExpressionError(
                f"{_describe(node)} is not allowed; use only names, numbers, "
                "+ - * / ** and abs/min/max/log"
            )

    def _check_call(self, node: ast.Call, allowed: set[str]) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise ExpressionError(
                f"call of {_describe(node.func)} is not allowed; only abs, min, max and log"
            )
        if node.keywords:
            raise ExpressionError(f"{node.func.id}() takes no keyword arguments")
        low, high = _FUNCTIONS[node.func.id]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            raise ExpressionError(f"{node.func.id}() got {len(node.args)} argument(s)")
        for arg in node.args:
            self._check(arg, allowed)

    def __call__(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Evaluate over arrays; division by zero gives ±inf/NaN (no warning)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.asarray(_evaluate(self._tree, values), dtype=np.float64)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def _evaluate(node: ast.AST, values: Mapping[str, np.ndarray]):
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    args = [_evaluate(a, values) for a in node.args]
    name = node.func.id
    if name == "abs":
        return np.abs(args[0])
    if name == "log":
        return np.log(args[0])
    reduce = np.minimum if name == "min" else np.maximum
    out = args[0]
    for arg in args[1:]:
        out = reduce(out, arg)
    return out


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access ('.{node.attr}')"
    if isinstance(node, ast.Subscript):
        return "indexing ('[...]')"
    if isinstance(node, ast.Name):
        return repr(node.id)
    return f"a {type(node).__name__} expression"
