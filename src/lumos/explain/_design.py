"""The Insights Design: feature hierarchy, insight items and narrative templates.

A design is a folder of three files a model builder writes once per model
(DESIGN.md, "Core formats"): ``features.csv``, ``insights.csv`` and
``templates.yaml``. :meth:`InsightsDesign.load` reads and checks all three and
names the file, line and reason of the first problem it finds.

``features.csv`` may also say, per feature, which insight type speaks for it
(``insight``: a super feature then has several, e.g. a level and a change,
each narrated only from its own features' attributions), and per super
feature how its values read (``unit``: ``rate`` for a share of 1 printed as a
percentage, ``count``, ``money``, ``number``) and what it counts (``noun``).
Files without these columns load as before: one insight type per super feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lumos.errors import DataValidationError
from lumos.explain._templates import (
    CONSTANT_FIELDS,
    CONTEXT_FIELDS,
    Settings,
    Template,
    read_templates,
)

FEATURE_COLUMNS = ("feature", "super_feature", "ultra_feature", "category")
OPTIONAL_COLUMNS = ("description", "insight", "unit", "noun")
INSIGHT_COLUMNS = ("super_feature", "insight_type", "item", "feature")
UNITS = ("number", "rate", "count", "money")


@dataclass(frozen=True)
class InsightsDesign:
    """A loaded, checked Insights Design.

    Attributes
    ----------
    features : DataFrame
        ``feature, super_feature, ultra_feature, category, description, insight, unit,
        noun`` (the last four empty where not given).
    insights : DataFrame
        ``super_feature, insight_type, item, feature``.
    templates : dict of str to Template
    folder : str
    settings : Settings
        ``templates.yaml``'s ``settings``: segment, peers, material, headline.
    """

    features: pd.DataFrame
    insights: pd.DataFrame
    templates: dict[str, Template]
    folder: str = ""
    settings: Settings = field(default_factory=Settings)
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
        several = "insight" in features.columns  # may a super feature have several types?
        for column in OPTIONAL_COLUMNS:
            if column not in features.columns:
                features[column] = ""
        insights = _read_csv(folder / "insights.csv", INSIGHT_COLUMNS)
        templates, settings = read_templates(folder / "templates.yaml")
        design = cls(features, insights, templates, str(folder), settings)
        design._check(folder, several)
        return design

    # -- derived views -------------------------------------------------------
    @property
    def super_features(self) -> list[str]:
        """Super features in the order they first appear in ``features.csv``."""
        return list(dict.fromkeys(self.features["super_feature"]))

    def insight_types(self, super_feature: str) -> list[str]:
        """The insight types of a super feature, in ``insights.csv`` order."""
        return list(self._lookup()["types"].get(super_feature, ()))

    def insight_type(self, super_feature: str) -> str:
        """The first insight type of a super feature."""
        return self.insight_types(super_feature)[0]

    def items(self, super_feature: str, insight_type: str | None = None) -> dict[str, str]:
        """Item name → data column of one insight type (default: the first) of a super feature."""
        insight_type = insight_type or self.insight_type(super_feature)
        return self._lookup()["items"].get((super_feature, insight_type), {})

    def _lookup(self) -> dict:
        """The design's tables as dictionaries by super feature, made once (the engine asks
        for them per narrated insight, and filtering a table each time would dominate)."""
        made = self._cache.get("lookup")
        if made is not None:
            return made
        items: dict = {}
        types: dict = {}
        for sf, t, item, feature in self.insights[list(INSIGHT_COLUMNS)].itertuples(index=False):
            items.setdefault((sf, t), {})[item] = feature
            types.setdefault(sf, {})[t] = None
        rows = {sf: part for sf, part in self.features.groupby("super_feature", sort=False)}
        made = {"items": items, "types": {sf: list(t) for sf, t in types.items()}, "rows": rows}
        self._cache["lookup"] = made
        return made

    def speaks_for(self, super_feature: str) -> dict[str, list[str]]:
        """Insight type → the model features whose attributions it narrates."""
        rows = self.features[self.features["super_feature"] == super_feature]
        first = self.insight_type(super_feature)
        out: dict[str, list[str]] = {t: [] for t in self.insight_types(super_feature)}
        for feature, insight in zip(rows["feature"], rows["insight"], strict=True):
            out[insight or first].append(feature)
        return out

    def unit(self, super_feature: str) -> str:
        """How the super feature's values read: ``rate``, ``count``, ``money`` or ``number``."""
        units = [u for u in self._rows(super_feature)["unit"] if u]
        return units[0] if units else "number"

    def material(self, insight_type: str) -> dict:
        """The thresholds under which a change of this insight type is no reason."""
        return self.templates[insight_type].material or self.settings.material

    def reference_columns(self) -> list[str]:
        """The data columns a level is compared on (and the segment column): what a chunk of
        rows needs of all the rows scored to put its levels in context."""
        out = [self.settings.segment] if self.settings.segment else []
        for sf in self.super_features:
            for t in self.insight_types(sf):
                template = self.templates[t]
                if template.kind == "level" and template.value:
                    column = self.items(sf, t).get(template.value)
                    if column is not None and column not in out:
                        out.append(column)
        return out

    def _rows(self, super_feature: str) -> pd.DataFrame:
        return self._lookup()["rows"][super_feature]

    def constants(self, super_feature: str) -> dict[str, str]:
        """The values of ``super_feature``, ``ultra_feature``, ``category``, ``description``,
        ``noun`` and ``peers``."""
        rows = self._rows(super_feature)
        described = [d for d in rows["description"] if d]
        nouns = [n for n in rows["noun"] if n]
        return {
            "super_feature": super_feature,
            "ultra_feature": str(rows["ultra_feature"].iloc[0]),
            "category": str(rows["category"].iloc[0]),
            "description": described[0] if described else "",
            "noun": nouns[0] if nouns else "",
            "peers": self.settings.peers,
        }

    # -- checks ----------------------------------------------------------------
    def _check(self, folder: Path, several: bool = False) -> None:
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
        for level in ("ultra_feature", "category", "unit", "noun"):
            first = feats.groupby("super_feature", sort=False)[level].transform("first")
            clash = (feats[level] != first).to_numpy()
            if level in ("unit", "noun"):  # given once for the super feature, or on every row
                given = feats.groupby("super_feature", sort=False)[level].transform(
                    lambda s: next((v for v in s if v), "")
                )
                clash = ((feats[level] != "") & (feats[level] != given)).to_numpy()
                first = given
            if clash.any():
                i = int(clash.argmax())
                sf = feats["super_feature"].iloc[i]
                _fail(
                    fpath,
                    i,
                    level,
                    f"super feature {sf!r} is under {level} "
                    f"{feats[level].iloc[i]!r} here but {first.iloc[i]!r} above; a super "
                    f"feature has one {level}.",
                )
        for i, unit in enumerate(feats["unit"]):
            if unit and unit not in UNITS:
                _fail(fpath, i, "unit", f"unit {unit!r} is not one of {', '.join(UNITS)}.")
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
            if kind != types.iloc[i] and not several:
                _fail(
                    ipath,
                    i,
                    "insight_type",
                    f"super feature {sf!r} has insight type {kind!r} "
                    f"here but {types.iloc[i]!r} above; use one insight type per super feature, "
                    "or name the type that speaks for each feature in features.csv's column "
                    "'insight'.",
                )
            if kind not in self.templates:
                _fail(
                    ipath,
                    i,
                    "insight_type",
                    f"insight type {kind!r} has no template in "
                    "templates.yaml; add one or fix the name.",
                )
            if not item.isidentifier() or item in (*CONSTANT_FIELDS, *CONTEXT_FIELDS):
                _fail(
                    ipath,
                    i,
                    "item",
                    f"item {item!r} must be a plain name (letters, digits, "
                    f"underscores) other than {', '.join((*CONSTANT_FIELDS, *CONTEXT_FIELDS))}.",
                )
        for i, (sf, insight) in enumerate(
            zip(feats["super_feature"], feats["insight"], strict=True)
        ):
            if insight and sf in known and insight not in self.insight_types(sf):
                _fail(
                    fpath,
                    i,
                    "insight",
                    f"insight type {insight!r} is not one of super feature {sf!r}'s in "
                    f"insights.csv ({', '.join(self.insight_types(sf))}); add its rows there or "
                    "fix the name.",
                )
        dup = ins.duplicated(["super_feature", "insight_type", "item"])
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
        pairs = [(sf, t) for sf in self.super_features for t in self.insight_types(sf)]
        for sf, t in pairs:
            provided.setdefault(t, set()).update(self.items(sf, t))
        for sf, t in pairs:
            template = self.templates[t]
            for name in sorted(template.items - set(self.items(sf, t))):
                if name not in provided[template.insight_type]:
                    raise DataValidationError(
                        f"{tpath} line {template.line}: template {template.insight_type!r} uses "
                        f"unknown name {name!r}; use an item from insights.csv, a derived name or "
                        f"one of {', '.join(CONSTANT_FIELDS)}.",
                        code="bad_template",
                        file=tpath,
                        row=template.line,
                    )
                i = int(
                    ((ins["super_feature"] == sf) & (ins["insight_type"] == t)).to_numpy().argmax()
                )
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
