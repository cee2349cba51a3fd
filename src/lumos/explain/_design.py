"""The Insights Design: feature hierarchy, insight items and narrative templates.

A design is a folder of three files a model builder writes once per model
(DESIGN.md, "Core formats"): ``features.csv``, ``insights.csv`` and
``templates.yaml``. :meth:`InsightsDesign.load` reads and checks all three and
names the file, line and reason of the first problem it finds.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from lumos.errors import DataValidationError
from lumos.explain._expr import Expression, ExpressionError
from lumos.explain._format import check_spec

FEATURE_COLUMNS = ("feature", "super_feature", "ultra_feature", "category")
INSIGHT_COLUMNS = ("super_feature", "insight_type", "item", "feature")
CONSTANT_FIELDS = ("super_feature", "ultra_feature", "category", "description")


@dataclass(frozen=True)
class Template:
    """One narrative template: literal text around fields, and derived items.

    ``literals`` has one more entry than ``fields``; ``fields`` holds
    ``(name, spec)`` pairs in order; ``derive`` maps each derived name to its
    checked :class:`~lumos.explain._expr.Expression`, in file order.
    """

    insight_type: str
    text: str
    literals: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    derive: dict[str, Expression]
    line: int

    @property
    def items(self) -> set[str]:
        """The item names the template reads from the data."""
        used = {name for name, _ in self.fields}
        for expr in self.derive.values():
            used |= expr.names
        return used - set(self.derive) - set(CONSTANT_FIELDS)


@dataclass(frozen=True)
class InsightsDesign:
    """A loaded, checked Insights Design.

    Attributes
    ----------
    features : DataFrame
        ``feature, super_feature, ultra_feature, category, description``.
    insights : DataFrame
        ``super_feature, insight_type, item, feature``.
    templates : dict of str to Template
    folder : str
    """

    features: pd.DataFrame
    insights: pd.DataFrame
    templates: dict[str, Template]
    folder: str = ""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, folder) -> InsightsDesign:
        """Read ``features.csv``, ``insights.csv`` and ``templates.yaml`` from ``folder``.

        Raises
        ------
        DataValidationError
            Naming the file, line and reason of the first problem.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise DataValidationError(
                f"insights design folder {str(folder)!r} does not exist; create it with "
                "features.csv, insights.csv and templates.yaml (or run "
                "'lumos explain suggest-design').",
                code="file_not_found",
                file=str(folder),
            )
        features = _read_csv(folder / "features.csv", FEATURE_COLUMNS)
        if "description" not in features.columns:
            features["description"] = ""
        insights = _read_csv(folder / "insights.csv", INSIGHT_COLUMNS)
        templates = _read_templates(folder / "templates.yaml")
        design = cls(features, insights, templates, str(folder))
        design._check(folder)
        return design

    # -- derived views -------------------------------------------------------
    @property
    def super_features(self) -> list[str]:
        """Super features in the order they first appear in ``features.csv``."""
        return list(dict.fromkeys(self.features["super_feature"]))

    def insight_type(self, super_feature: str) -> str:
        rows = self.insights[self.insights["super_feature"] == super_feature]
        return str(rows["insight_type"].iloc[0])

    def items(self, super_feature: str) -> dict[str, str]:
        """Item name → data column for one super feature."""
        rows = self.insights[self.insights["super_feature"] == super_feature]
        return dict(zip(rows["item"], rows["feature"], strict=True))

    def constants(self, super_feature: str) -> dict[str, str]:
        """The values of ``super_feature``, ``ultra_feature``, ``category``, ``description``."""
        rows = self.features[self.features["super_feature"] == super_feature]
        described = [d for d in rows["description"] if d]
        return {
            "super_feature": super_feature,
            "ultra_feature": str(rows["ultra_feature"].iloc[0]),
            "category": str(rows["category"].iloc[0]),
            "description": described[0] if described else "",
        }

    # -- checks ----------------------------------------------------------------
    def _check(self, folder: Path) -> None:
        feats, ins = self.features, self.insights
        fpath, ipath = str(folder / "features.csv"), str(folder / "insights.csv")
        dup = feats["feature"].duplicated()
        if dup.any():
            i = int(dup.to_numpy().argmax())
            _fail(
                fpath,
                i,
                "feature",
                f"feature {feats['feature'].iloc[i]!r} is listed twice; "
                "keep one row per model feature.",
            )
        for level in ("ultra_feature", "category"):
            first = feats.groupby("super_feature", sort=False)[level].transform("first")
            clash = (feats[level] != first).to_numpy()
            if clash.any():
                i = int(clash.argmax())
                sf = feats["super_feature"].iloc[i]
                _fail(
                    fpath,
                    i,
                    level,
                    f"super feature {sf!r} is under {level} "
                    f"{feats[level].iloc[i]!r} here but {first.iloc[i]!r} above; a super "
                    f"feature belongs to one {level}.",
                )
        known = set(ins["super_feature"])
        for i, sf in enumerate(feats["super_feature"]):
            if sf not in known:
                _fail(
                    fpath,
                    i,
                    "super_feature",
                    f"super feature {sf!r} has no insight type in "
                    "insights.csv; add a row or drop the feature.",
                )
        supers = set(feats["super_feature"])
        types = ins.groupby("super_feature", sort=False)["insight_type"].transform("first")
        for i, (sf, kind, item) in enumerate(
            zip(ins["super_feature"], ins["insight_type"], ins["item"], strict=True)
        ):
            if sf not in supers:
                _fail(
                    ipath,
                    i,
                    "super_feature",
                    f"super feature {sf!r} is not in features.csv; "
                    "add its features there or drop this row.",
                )
            if kind != types.iloc[i]:
                _fail(
                    ipath,
                    i,
                    "insight_type",
                    f"super feature {sf!r} has insight type {kind!r} "
                    f"here but {types.iloc[i]!r} above; use one insight type per super feature.",
                )
            if kind not in self.templates:
                _fail(
                    ipath,
                    i,
                    "insight_type",
                    f"insight type {kind!r} has no template in "
                    "templates.yaml; add one or fix the name.",
                )
            if not item.isidentifier() or item in CONSTANT_FIELDS:
                _fail(
                    ipath,
                    i,
                    "item",
                    f"item {item!r} must be a plain name (letters, digits, "
                    f"underscores) other than {', '.join(CONSTANT_FIELDS)}.",
                )
        dup = ins.duplicated(["super_feature", "item"])
        if dup.any():
            i = int(dup.to_numpy().argmax())
            _fail(
                ipath,
                i,
                "item",
                f"item {ins['item'].iloc[i]!r} of super feature "
                f"{ins['super_feature'].iloc[i]!r} is listed twice.",
            )
        tpath = str(folder / "templates.yaml")
        provided: dict[str, set[str]] = {}
        for sf in self.super_features:
            provided.setdefault(self.insight_type(sf), set()).update(self.items(sf))
        for sf in self.super_features:
            template = self.templates[self.insight_type(sf)]
            for name in sorted(template.items - set(self.items(sf))):
                if name not in provided[template.insight_type]:
                    raise DataValidationError(
                        f"{tpath} line {template.line}: template {template.insight_type!r} uses "
                        f"unknown name {name!r}; use an item from insights.csv, a derived name or "
                        f"one of {', '.join(CONSTANT_FIELDS)}.",
                        code="bad_template",
                        file=tpath,
                        row=template.line,
                    )
                i = int((ins["super_feature"] == sf).to_numpy().argmax())
                _fail(
                    ipath,
                    i,
                    "item",
                    f"super feature {sf!r} (insight type "
                    f"{template.insight_type!r}) lacks item {name!r} its template needs; add a "
                    "row for it.",
                )


def _fail(path: str, i: int, column: str, reason: str):
    raise DataValidationError(
        f"{path} row {i + 2}: {reason}", code="bad_design", file=path, row=i + 2, column=column
    )


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise DataValidationError(
            f"insights design file {str(path)!r} is missing; it needs columns "
            f"{', '.join(required)}.",
            code="file_not_found",
            file=str(path),
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:
        raise DataValidationError(
            f"{path} could not be read as CSV: {exc}", code="bad_design", file=str(path)
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in required:
        if col not in frame.columns:
            raise DataValidationError(
                f"{path} has no column {col!r} (it has {', '.join(frame.columns)}); the header "
                f"must name {', '.join(required)}.",
                code="bad_design",
                file=str(path),
                column=col,
            )
    frame = frame.astype(object).apply(lambda s: s.str.strip()).astype(object)
    for col in required:
        empty = (frame[col] == "").to_numpy()
        if empty.any():
            _fail(str(path), int(empty.argmax()), col, f"column {col!r} is empty; fill it in.")
    return frame.reset_index(drop=True)


def _read_templates(path: Path) -> dict[str, Template]:
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
    templates = {}
    for key, node in root.value:
        kind = key.value
        templates[kind] = _template(path, kind, node)
    return templates


def _template(path: Path, kind: str, node) -> Template:
    def fail(at, reason: str):
        line = at.start_mark.line + 1
        raise DataValidationError(
            f"{path} line {line}: template {kind!r}: {reason}",
            code="bad_template",
            file=str(path),
            row=line,
        )

    if not isinstance(node, yaml.MappingNode):
        fail(node, "must be a mapping with 'text' and optional 'derive'.")
    parts = {k.value: v for k, v in node.value}
    for extra in set(parts) - {"text", "derive"}:
        fail(node, f"unknown key {extra!r}; a template has only 'text' and 'derive'.")
    text_node = parts.get("text")
    if not isinstance(text_node, yaml.ScalarNode):
        fail(node, "needs a 'text' string.")
    literals, fields = [], []
    try:
        parsed = list(string.Formatter().parse(text_node.value))
    except ValueError as exc:
        fail(text_node, f"text is not a valid template ({exc}); write literal braces as {{{{ }}}}.")
    for literal, name, spec, conversion in parsed:
        if literals and len(literals) > len(fields):
            literals[-1] += literal
        else:
            literals.append(literal)
        if name is None:
            continue
        if name == "":
            fail(text_node, "empty field '{}'; name the item, e.g. {current_value}.")
        if "." in name:
            fail(text_node, f"field {{{name}}} uses attribute access; use a plain item name.")
        if "[" in name:
            fail(text_node, f"field {{{name}}} uses indexing; use a plain item name.")
        if not name.isidentifier():
            fail(text_node, f"field {{{name}}} is not a plain name.")
        if conversion:
            fail(
                text_node, f"field {{{name}!{conversion}}} uses a conversion; drop '!{conversion}'."
            )
        if "{" in spec:
            fail(text_node, f"field {{{name}}} has a nested field in its format spec.")
        try:
            check_spec(spec)
        except ValueError:
            fail(text_node, f"field {{{name}:{spec}}} has an invalid format spec {spec!r}.")
        fields.append((name, spec))
    if len(literals) == len(fields):
        literals.append("")
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
    return Template(
        kind, text_node.value, tuple(literals), tuple(fields), derive, text_node.start_mark.line + 1
    )


class _AnyName(set):
    """Names a derived expression may use: any item name (checked against insights.csv later)."""

    def __contains__(self, name) -> bool:
        return name not in CONSTANT_FIELDS
