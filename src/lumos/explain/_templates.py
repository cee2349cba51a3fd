"""``templates.yaml`` of an Insights Design: one template per insight type, and the design's
settings.

A template is ``text`` around fields, optional ``derive`` (plain arithmetic
over items), and what the narrative engine needs to judge its sentences:

* ``kind`` — ``level`` (a value, compared with its peers through the
  ``{context}`` field), ``change`` (a value then and now) or ``fact`` (a
  statement needing no reference, e.g. "Renewal in 11 months"). By default a
  template whose items include a previous value (``prev…``, ``previous…``,
  ``baseline…``) and a current one (``current…``, ``recent…``) is a change,
  any other a level.
* ``compare`` — a change's ``[previous, current]`` items (default: found by name).
* ``value`` — a level's item (default: ``value``, ``current_value``, or the one item).
* ``material`` — ``{relative: 0.05, absolute: 0}``: a change smaller than
  either is never a reason (default: the settings').

The reserved key ``settings`` holds what applies to the whole design:
``segment`` (a column: a level is compared with the rows of its own group),
``peers`` (what a row is, e.g. ``accounts``), ``material`` (the default
thresholds) and ``headline`` (the template of each row's one-line summary,
over ``{score}``, ``{typical}`` and ``{gap}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lumos._text import TemplateError, parse_template
from lumos.errors import DataValidationError
from lumos.explain._expr import Expression, ExpressionError
from lumos.explain._format import check_spec

#: Fields every template may use whatever its items: the super feature's own names.
CONSTANT_FIELDS = ("super_feature", "ultra_feature", "category", "description", "noun", "peers")
#: Fields the engine fills for a level, from the rows scored: how the value compares.
CONTEXT_FIELDS = ("context", "percentile", "segment")
KINDS = ("level", "change", "fact")
#: What a headline may say: the row's score, the typical score, and the gap between them.
HEADLINE_FIELDS = ("score", "typical", "gap")
MATERIAL = {"relative": 0.05, "absolute": 0.0}
SETTINGS = "settings"
_PREVIOUS = re.compile(r"^(prev|previous|baseline|before|last_period)", re.IGNORECASE)
_CURRENT = re.compile(r"^(current|curr|recent|now|this_period)", re.IGNORECASE)


@dataclass(frozen=True)
class Template:
    """One narrative template: literal text around fields, derived items, and its kind.

    ``literals`` has one more entry than ``fields``; ``fields`` holds
    ``(name, spec)`` pairs in order; ``derive`` maps each derived name to its
    checked :class:`~lumos.explain._expr.Expression`, in file order. ``kind``
    is ``level``, ``change`` or ``fact``; ``compare`` a change's previous and
    current items; ``value`` a level's item; ``material`` a change's thresholds
    (None: the settings').
    """

    insight_type: str
    text: str
    literals: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    derive: dict[str, Expression]
    line: int
    kind: str = "level"
    compare: tuple[str, str] | None = None
    value: str | None = None
    material: dict | None = None

    @property
    def items(self) -> set[str]:
        """The item names the template reads from the data."""
        used = {name for name, _ in self.fields}
        for expr in self.derive.values():
            used |= expr.names
        return used - set(self.derive) - set(CONSTANT_FIELDS) - set(CONTEXT_FIELDS)

    @property
    def in_context(self) -> bool:
        """Whether the text compares the value with its peers (``{context}``/``{percentile}``)."""
        return any(name in ("context", "percentile") for name, _ in self.fields)


@dataclass(frozen=True)
class Settings:
    """What applies to a whole design (``templates.yaml``'s ``settings``)."""

    segment: str | None = None
    peers: str = "rows"
    material: dict = field(default_factory=lambda: dict(MATERIAL))
    headline: str | None = None


def read_templates(path: Path) -> tuple[dict[str, Template], Settings]:
    """The templates and settings of a ``templates.yaml``, checked; errors name the line."""
    if not path.is_file():
        raise DataValidationError(
            f"insights design file {str(path)!r} is missing; it maps each insight type to "
            "a template.",
            code="file_not_found",
            file=str(path),
        )
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise DataValidationError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}).",
            code="bad_template",
            file=str(path),
        ) from exc
    if not isinstance(root, yaml.MappingNode):
        raise DataValidationError(
            f"{path}: must map each insight type to a template (text and optional derive).",
            code="bad_template",
            file=str(path),
        )
    templates, settings = {}, Settings()
    for key, node in root.value:
        if key.value == SETTINGS:
            settings = _settings(path, node)
        else:
            templates[key.value] = _template(path, key.value, node)
    return templates, settings


def _failer(path: Path, what: str):
    def fail(at, reason: str):
        line = at.start_mark.line + 1
        raise DataValidationError(
            f"{path} line {line}: {what}: {reason}",
            code="bad_template",
            file=str(path),
            row=line,
        )

    return fail


def _settings(path: Path, node) -> Settings:
    fail = _failer(path, "settings")
    if not isinstance(node, yaml.MappingNode):
        fail(node, "must be a mapping (segment, peers, material, headline).")
    parts = {k.value: v for k, v in node.value}
    for extra in set(parts) - {"segment", "peers", "material", "headline"}:
        fail(node, f"unknown key {extra!r}; settings has segment, peers, material, headline.")
    for name in ("segment", "peers", "headline"):
        if name in parts and not isinstance(parts[name], yaml.ScalarNode):
            fail(parts[name], f"{name!r} must be a string.")
    material = _material(parts.get("material"), fail) or dict(MATERIAL)
    headline = parts["headline"].value if "headline" in parts else None
    if headline is not None:
        _fields(headline, parts["headline"], fail, allowed=HEADLINE_FIELDS)
    return Settings(
        segment=parts["segment"].value if "segment" in parts else None,
        peers=parts["peers"].value if "peers" in parts else "rows",
        material=material,
        headline=headline,
    )


def _material(node, fail) -> dict | None:
    if node is None:
        return None
    if not isinstance(node, yaml.MappingNode):
        fail(node, "'material' must map relative and/or absolute to numbers >= 0.")
    out = dict(MATERIAL)
    for key, value in node.value:
        if key.value not in MATERIAL:
            fail(key, f"'material' has relative and absolute, not {key.value!r}.")
        try:
            number = float(value.value)
        except (TypeError, ValueError):
            number = -1.0
        if not number >= 0 or number == float("inf"):
            fail(value, f"'material.{key.value}' must be a number >= 0; got {value.value!r}.")
        out[key.value] = number
    return out


def _fields(text: str, node, fail, allowed=None) -> tuple[tuple[str, ...], tuple]:
    """The literals and ``(name, spec)`` fields of a template text, checked."""
    try:
        parsed = parse_template(text, allowed=allowed, check_spec=check_spec)
    except TemplateError as exc:
        fail(node, f"{exc}.")
    return parsed.literals, parsed.fields


def _template(path: Path, kind: str, node) -> Template:
    fail = _failer(path, f"template {kind!r}")
    if not isinstance(node, yaml.MappingNode):
        fail(node, "must be a mapping with 'text' and optional 'derive'.")
    parts = {k.value: v for k, v in node.value}
    known = {"text", "derive", "kind", "compare", "value", "material"}
    for extra in set(parts) - known:
        fail(node, f"unknown key {extra!r}; a template has {', '.join(sorted(known))}.")
    text_node = parts.get("text")
    if not isinstance(text_node, yaml.ScalarNode):
        fail(node, "needs a 'text' string.")
    literals, fields = _fields(text_node.value, text_node, fail)
    derive: dict[str, Expression] = {}
    derive_node = parts.get("derive")
    if derive_node is not None:
        if not isinstance(derive_node, yaml.MappingNode):
            fail(derive_node, "'derive' must map names to arithmetic expressions.")
        for key, expr_node in derive_node.value:
            name = key.value
            if not isinstance(expr_node, yaml.ScalarNode) or not name.isidentifier():
                fail(key, f"derived item {name!r} must be a plain name mapped to an expression.")
            try:
                derive[name] = Expression(expr_node.value, _AnyName())
            except ExpressionError as exc:
                fail(expr_node, f"derived item {name!r}: {exc.args[0]}.")
        names = [key.value for key, _ in derive_node.value]
        for i, (_, expr_node) in enumerate(derive_node.value):
            later = derive[names[i]].names & set(names[i:])
            if later:
                fail(
                    expr_node,
                    f"derived item {names[i]!r} uses {sorted(later)[0]!r}, which "
                    "is derived at or after it; derive it earlier.",
                )
    template = Template(
        kind, text_node.value, literals, fields, derive, text_node.start_mark.line + 1
    )
    return _with_kind(template, parts, fail)


def _with_kind(template: Template, parts: dict, fail) -> Template:
    """The template with its kind, compared items, value item and thresholds settled."""
    items = sorted(template.items)
    kind = parts["kind"].value if "kind" in parts else None
    if kind is not None and kind not in KINDS:
        fail(parts["kind"], f"'kind' must be one of {', '.join(KINDS)}; got {kind!r}.")
    compare = None
    if "compare" in parts:
        node = parts["compare"]
        pair = [n.value for n in getattr(node, "value", [])] if isinstance(node.value, list) else []
        if len(pair) != 2 or any(p not in items for p in pair):
            fail(node, f"'compare' must list two of its items [previous, current]: {items}.")
        compare = (pair[0], pair[1])
    else:
        previous = [i for i in items if _PREVIOUS.match(i)]
        current = [i for i in items if _CURRENT.match(i)]
        if len(previous) == 1 and len(current) == 1:
            compare = (previous[0], current[0])
    if kind is None:
        kind = "change" if compare is not None else "level"
    if kind == "change" and compare is None:
        fail(parts.get("kind", parts["text"]), "a change needs 'compare: [previous, current]'.")
    value = parts["value"].value if "value" in parts else None
    if value is not None and value not in items:
        fail(parts["value"], f"'value' must be one of its items {items}; got {value!r}.")
    if value is None and kind != "change":
        value = next((v for v in ("value", "current_value") if v in items), None)
        value = value or (items[0] if len(items) == 1 else None)
    material = _material(parts.get("material"), fail)
    return Template(
        template.insight_type,
        template.text,
        template.literals,
        template.fields,
        template.derive,
        template.line,
        kind=kind,
        compare=compare if kind == "change" else None,
        value=value,
        material=material,
    )


class _AnyName(set):
    """Names a derived expression may use: any item name (checked against insights.csv later)."""

    def __contains__(self, name) -> bool:
        return name not in CONSTANT_FIELDS
