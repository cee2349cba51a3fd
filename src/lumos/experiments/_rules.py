"""Targeting rules: a small, safe comparison language over unit attributes.

A rule compares attributes with constants and joins comparisons with ``and``,
``or``, ``not`` and parentheses::

    industry in ["software", "finance"] and seniority >= 3
    region == "EMEA" or not (plan != "enterprise")

Comparisons are ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (the ordering ones
need a number on the right), ``in`` and ``not in`` (a list of constants). The
attribute is always on the left. A rule is parsed by Python's parser and each
node is checked against this list; nothing is ever passed to ``eval``.

A comparison whose attribute is missing (absent, ``None`` or NaN) is false, for
``!=`` and ``not in`` too; ``not`` then negates it like any other result. An
ordering comparison reads the attribute as a number and is false when it is not
one.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping

import numpy as np
import pandas as pd

_ORDER = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_SYMBOL = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}


class RuleError(ValueError):
    """A rule does not parse or uses something outside the rule language; ``args[0]`` says what."""


class Rule:
    """A checked targeting rule.

    Parameters
    ----------
    source : str
        The rule, e.g. ``'industry in ["software", "finance"] and seniority >= 3'``.

    Attributes
    ----------
    names : set of str
        The attributes the rule reads.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = Rule('region == "EMEA" and seniority >= 3')
    >>> rule.matches({"region": "EMEA", "seniority": 4}), rule.matches({"region": "EMEA"})
    (True, False)
    >>> rule.mask(pd.DataFrame({"region": ["EMEA", "AMER"], "seniority": [5, 5]})).tolist()
    [True, False]
    >>> Rule("__import__('os')")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lumos.experiments._rules.RuleError: a call ('__import__(...)') is not allowed; ...
    """

    def __init__(self, source: str):
        self.source = str(source)
        try:
            tree = ast.parse(self.source.strip(), mode="eval")
        except SyntaxError as exc:
            raise RuleError(f"does not parse ({exc.msg})") from None
        self.names: set[str] = set()
        self._tree = self._check(tree.body)

    def __repr__(self) -> str:
        return f"Rule({self.source!r})"

    # -- checking ------------------------------------------------------------
    def _check(self, node: ast.AST):
        if isinstance(node, ast.BoolOp):
            kind = "and" if isinstance(node.op, ast.And) else "or"
            return (kind, [self._check(v) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ("not", self._check(node.operand))
        if isinstance(node, ast.Compare):
            return self._check_compare(node)
        what = {ast.Call: "a call", ast.Attribute: "attribute access", ast.Name: "a bare name"}
        label = what.get(type(node), f"'{type(node).__name__}'")
        if isinstance(node, ast.Call):
            text = f"{ast.unparse(node.func)}(...)"
        else:
            text = ast.unparse(node)
        raise RuleError(
            f"{label} ({text!r}) is not allowed; write comparisons such as "
            'region == "EMEA" joined with and, or, not'
        )

    def _check_compare(self, node: ast.Compare):
        if len(node.ops) != 1:
            raise RuleError(
                f"chained comparison {ast.unparse(node)!r}; write two comparisons joined with and"
            )
        op, right = node.ops[0], node.comparators[0]
        if not isinstance(node.left, ast.Name):
            raise RuleError(
                f"the left side of {ast.unparse(node)!r} must be an attribute name, "
                "e.g. seniority >= 3"
            )
        name, symbol = node.left.id, _SYMBOL[type(op)]
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.List | ast.Tuple | ast.Set):
                raise RuleError(
                    f'{name} {symbol} needs a list of constants, e.g. {name} {symbol} ["a", "b"]'
                )
            value = tuple(_constant(v, name) for v in right.elts)
        else:
            value = _constant(right, name)
            if type(op) in _ORDER and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise RuleError(f"{name} {symbol} needs a number on the right; got {value!r}")
        self.names.add(name)
        return (symbol, name, value)

    # -- one unit ------------------------------------------------------------
    def matches(self, attributes: Mapping | None) -> bool:
        """Whether one unit's attributes (a mapping of name → value) satisfy the rule."""
        return _match(self._tree, attributes or {})

    # -- many units ------------------------------------------------------------
    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` satisfy the rule: a boolean array, as ``matches`` says."""
        return _mask(self._tree, frame)


def _constant(node: ast.AST, name: str):
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand
        if isinstance(inner, ast.Constant) and type(inner.value) in (int, float):
            return -inner.value
    if isinstance(node, ast.Constant) and type(node.value) in (str, int, float, bool):
        return node.value
    raise RuleError(
        f"{name} is compared with {ast.unparse(node)!r}, which is not a constant; use a quoted "
        "string, a number, true/false as True/False, or a list of them"
    )


def _missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _number(value):
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _match(tree, attrs: Mapping) -> bool:
    kind = tree[0]
    if kind == "and":
        return all(_match(t, attrs) for t in tree[1])
    if kind == "or":
        return any(_match(t, attrs) for t in tree[1])
    if kind == "not":
        return not _match(tree[1], attrs)
    symbol, name, const = tree
    value = attrs.get(name)
    if _missing(value):
        return False
    if symbol == "==":
        return bool(value == const)
    if symbol == "!=":
        return bool(value != const)
    if symbol == "in":
        return value in const
    if symbol == "not in":
        return value not in const
    number = _number(value)
    if number is None or math.isnan(number):
        return False
    return bool(_ORDER_BY_SYMBOL[symbol](number, const))


_ORDER_BY_SYMBOL = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _mask(tree, frame: pd.DataFrame) -> np.ndarray:
    kind = tree[0]
    if kind == "and":
        return np.logical_and.reduce([_mask(t, frame) for t in tree[1]])
    if kind == "or":
        return np.logical_or.reduce([_mask(t, frame) for t in tree[1]])
    if kind == "not":
        return ~_mask(tree[1], frame)
    symbol, name, const = tree
    if name not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    column = frame[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    present = column.notna().to_numpy(dtype=bool)
    if symbol in ("==", "!="):
        equal = (column == const).to_numpy(dtype=bool, na_value=False)
        return equal & present if symbol == "==" else ~equal & present
    if symbol in ("in", "not in"):
        inside = column.isin(list(const)).to_numpy(dtype=bool, na_value=False)
        return inside & present if symbol == "in" else ~inside & present
    if column.dtype == bool:
        column = column.astype(np.int64)
    number = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return _ORDER_BY_SYMBOL[symbol](number, const) & ~np.isnan(number)
