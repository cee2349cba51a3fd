"""Narrative Generator: attributions + data + design → ranked sentences per row.

The rules (CrystalCandle's, DESIGN.md "Core formats"):

1. A narrative's importance is the largest attribution, in the chosen
   direction, among the model features under its super feature. In the
   ``positive`` direction only features that push the score up count, in
   ``negative`` only those that pull it down, in ``absolute`` any.
2. A narrative whose items are missing or NaN, or whose derived values are not
   finite (a division by zero), is skipped and counted; the next narrative of
   its ultra feature may then take its place.
3. Only the most important narrative of each ultra feature is kept
   (ties go to the super feature listed first in ``features.csv``).
4. The kept narratives are ranked by importance (ties go to the ultra feature
   listed first) and the first ``top_k`` of each row are returned.

Everything is computed on ``n × super features`` arrays; Python loops run over
the design (super and ultra features), and strings are built only for the
narratives that are kept.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lumos._checks import check_number, require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain._attributions import Attributions
from lumos.explain._design import InsightsDesign
from lumos.explain._format import format_codes, format_one

DIRECTIONS = ("positive", "negative", "absolute")
COLUMNS = ["row", "rank", "category", "ultra_feature", "super_feature", "importance", "text"]


@dataclass(frozen=True)
class _Plan:
    """How a design meets one model's features."""

    columns: np.ndarray  # attribution columns, grouped by super feature
    starts: np.ndarray  # start of each super feature's group in ``columns``
    supers: list[str]  # super features with at least one attributed feature
    ultras: list[str]
    ultra_members: list[np.ndarray]  # per ultra feature: indices into ``supers``


def _plan(design: InsightsDesign, feature_names: list[str]) -> _Plan:
    key = tuple(feature_names)
    if key in design._cache:
        return design._cache[key]
    position = {name: i for i, name in enumerate(feature_names)}
    feats = design.features
    columns, starts, supers = [], [], []
    for sf in design.super_features:
        cols = [
            position[f] for f in feats["feature"][feats["super_feature"] == sf] if f in position
        ]
        if cols:
            starts.append(len(columns))
            columns.extend(cols)
            supers.append(sf)
    if not supers:
        raise LumosUserError(
            f"No feature of the insights design ({design.folder or 'in memory'}) is a feature of "
            f"the model (model features: {', '.join(feature_names[:5])}…); check the design "
            "belongs to this model.",
            code="design_mismatch",
        )
    ultra_of = [design.constants(sf)["ultra_feature"] for sf in supers]
    ultras = list(dict.fromkeys(ultra_of))
    members = [np.flatnonzero(np.asarray(ultra_of, dtype=object) == u) for u in ultras]
    plan = _Plan(np.asarray(columns), np.asarray(starts), supers, ultras, members)
    design._cache[key] = plan
    return plan


def narrate(
    X: pd.DataFrame,
    attributions: Attributions,
    design: InsightsDesign,
    top_k: int = 5,
    direction: str = "positive",
) -> pd.DataFrame:
    """Turn each row's attributions into its top narratives.

    Parameters
    ----------
    X : DataFrame
        The explained rows, holding every column the design's items name.
    attributions : Attributions
        Attributions of the same rows, in the same order.
    design : InsightsDesign
    top_k : int, default=5
        Narratives kept per row.
    direction : {"positive", "negative", "absolute"}, default="positive"
        Which attributions make a narrative important.

    Returns
    -------
    DataFrame
        Columns ``row, rank, category, ultra_feature, super_feature,
        importance, text``, sorted by row and rank; ``row`` is the row's index
        label in ``X``. ``attrs["skipped"]`` counts narratives skipped for
        missing items, ``attrs["categories"]`` lists categories in design order.
    """
    if direction not in DIRECTIONS:
        raise LumosUserError(
            f"direction must be one of {', '.join(DIRECTIONS)}. Got {direction!r}.",
            code="bad_argument",
        )
    check_number("narrate", "top_k", top_k, low=1, integer=True)
    if not isinstance(X, pd.DataFrame):
        raise LumosUserError(
            "X must be a DataFrame holding the design's items.", code="bad_argument"
        )
    if len(X) != len(attributions):
        raise LumosUserError(
            f"X has {len(X)} rows but the attributions explain {len(attributions)}; pass the "
            "rows that were explained, in the same order.",
            code="bad_argument",
        )
    plan = _plan(design, attributions.feature_names)
    values = np.asarray(attributions.values, dtype=np.float64)
    bounds = np.r_[plan.starts, len(plan.columns)]
    importance = np.empty((len(X), len(plan.supers)))
    for s, (a, b) in enumerate(itertools.pairwise(bounds)):  # NaN attributions are ignored
        block = values[:, plan.columns[a:b]]
        if direction == "positive":
            importance[:, s] = np.fmax.reduce(block, axis=1)
        elif direction == "negative":
            importance[:, s] = -np.fmin.reduce(block, axis=1)
        else:
            importance[:, s] = np.fmax.reduce(np.abs(block), axis=1)
    eligible = importance > 0  # False where all of a super feature's attributions are NaN

    items = [_items(X, design, sf) for sf in plan.supers]
    valid = np.column_stack([ok for _, ok in items])
    skipped = eligible & ~valid
    importance = np.where(eligible & valid, importance, -np.inf)

    n, n_ultra = len(X), len(plan.ultras)
    best_imp = np.empty((n, n_ultra))
    best_super = np.empty((n, n_ultra), dtype=np.int64)
    rows = np.arange(n)
    for u, members in enumerate(plan.ultra_members):
        local = np.argmax(importance[:, members], axis=1)
        best_super[:, u] = members[local]
        best_imp[:, u] = importance[rows, best_super[:, u]]
    k = min(int(top_k), n_ultra)
    order = np.argsort(-best_imp, axis=1, kind="stable")[:, :k]
    top_imp = np.take_along_axis(best_imp, order, axis=1)
    top_super = np.take_along_axis(best_super, order, axis=1)
    kept = np.isfinite(top_imp)
    row_pos, rank = np.nonzero(kept)
    sup = top_super[row_pos, rank]

    text = np.empty(len(row_pos), dtype=object)
    by_super = np.argsort(sup, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(sup, minlength=len(plan.supers)))]
    for s, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b > a:
            at = by_super[a:b]
            text[at] = _render(design, plan.supers[s], items[s][0], row_pos[at])

    consts = [design.constants(sf) for sf in plan.supers]
    categories = list(dict.fromkeys(c["category"] for c in consts))
    ultras = list(dict.fromkeys(c["ultra_feature"] for c in consts))
    cat_code = np.array([categories.index(c["category"]) for c in consts])[sup]
    ultra_code = np.array([ultras.index(c["ultra_feature"]) for c in consts])[sup]
    out = pd.DataFrame(
        {
            "row": X.index.take(row_pos),
            "rank": (rank + 1).astype(np.int64),
            "category": pd.Categorical.from_codes(cat_code, categories),
            "ultra_feature": pd.Categorical.from_codes(ultra_code, ultras),
            "super_feature": pd.Categorical.from_codes(sup, plan.supers),
            "importance": top_imp[row_pos, rank],
            "text": pd.Series(text, dtype=object),
        }
    )
    out.attrs["skipped"] = int(skipped.sum())
    out.attrs["skipped_by_super_feature"] = {
        sf: int(c) for sf, c in zip(plan.supers, skipped.sum(0), strict=True) if c
    }
    out.attrs["categories"] = categories
    out.attrs["direction"] = direction
    return out


def _items(X: pd.DataFrame, design: InsightsDesign, sf: str):
    """Item arrays (with derived items) of one super feature, and a row mask of validity."""
    template = design.templates[design.insight_type(sf)]
    arrays, ok = {}, np.ones(len(X), dtype=bool)
    for item, column in design.items(sf).items():
        if item not in template.items:
            continue
        hint = (
            f"insights.csv names it for item {item!r} of super feature {sf!r}; "
            "add it to the data or fix the design."
        )
        require_columns(X, [column], source="data", hint=hint)
        series = X[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
            ok &= ~np.isnan(arr)
        elif pd.api.types.is_datetime64_any_dtype(series):
            arr = series.to_numpy(dtype="datetime64[ns]")
            ok &= ~np.isnat(arr)
        else:
            arr = series.to_numpy(dtype=object)
            ok &= series.notna().to_numpy()
        arrays[item] = arr
    for name, expr in template.derive.items():
        for used in expr.names - set(template.derive):
            if arrays[used].dtype.kind != "f":
                raise DataValidationError(
                    f"derived item {name!r} of template {template.insight_type!r} does arithmetic "
                    f"on item {used!r} (column {design.items(sf)[used]!r}), which is not numeric.",
                    code="non_numeric_column",
                    column=design.items(sf)[used],
                )
        derived = expr(arrays)
        ok &= np.isfinite(derived)
        arrays[name] = derived
    return arrays, ok


def _render(design: InsightsDesign, sf: str, arrays: dict, at: np.ndarray) -> list[str]:
    """The texts of super feature ``sf`` for rows ``at``."""
    template = design.templates[design.insight_type(sf)]
    consts = design.constants(sf)

    def escape(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    pattern, columns = escape(template.literals[0]), []
    for (name, spec), literal in zip(template.fields, template.literals[1:], strict=True):
        if name in consts:  # the same for every row: part of the pattern
            pattern += escape(format_one(consts[name], spec))
        else:
            pattern += "{}"
            columns.append(format_codes(arrays[name][at], spec))
        pattern += escape(literal)
    if not columns:
        return [pattern.format()] * len(at)
    # Rows whose fields read the same share one sentence: build each distinct one once.
    combined = np.zeros(len(at), dtype=np.int64)
    for texts, codes in columns:
        combined = combined * len(texts) + codes
        if len(texts) and combined.max(initial=0) > 2**31:  # keep the mixed radix in int64
            combined = np.unique(combined, return_inverse=True)[1].reshape(-1)
    distinct, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    if len(distinct) > 0.8 * len(at):
        return list(map(pattern.format, *(texts[codes] for texts, codes in columns)))
    sentences = map(pattern.format, *(texts[codes[first]] for texts, codes in columns))
    return np.array(list(sentences), dtype=object)[inverse.reshape(-1)]


def summarize(narratives: pd.DataFrame, separator: str = " ") -> pd.DataFrame:
    """Join each row's narratives per category into one text.

    Parameters
    ----------
    narratives : DataFrame
        The output of :func:`narrate` (sorted by row and rank).
    separator : str, default=" "
        Placed between narratives of one category.

    Returns
    -------
    DataFrame
        Indexed by row label, one column per category (in design order) holding
        the joined narratives ("" where a row has none in that category).
    """
    missing = {"row", "rank", "category", "text"} - set(narratives.columns)
    if missing:
        raise LumosUserError(
            f"summarize needs the output of narrate; missing column(s) {sorted(missing)}.",
            code="bad_argument",
        )
    categories = narratives.attrs.get("categories") or list(dict.fromkeys(narratives["category"]))
    labels = narratives["row"].to_numpy()
    if len(labels) == 0:
        return pd.DataFrame(columns=categories, index=pd.Index([], name="row"))
    new_row = np.ones(len(labels), dtype=bool)
    new_row[1:] = labels[1:] != labels[:-1]
    group = np.cumsum(new_row) - 1
    texts = narratives["text"].to_numpy(dtype=object)
    codes, names = pd.factorize(narratives["category"])
    columns = {}
    for category in categories:
        found = np.flatnonzero(names == category)
        joined = np.full(group[-1] + 1, "", dtype=object)
        columns[category] = joined
        if not len(found):
            continue
        at = np.flatnonzero(codes == found[0])
        runs = group[at]
        joined[runs[np.r_[runs[1:] != runs[:-1], True]]] = _join_runs(texts[at], runs, separator)
    return pd.DataFrame(columns, index=pd.Index(labels[new_row], name="row"), dtype=object)


def _join_runs(texts: np.ndarray, group: np.ndarray, separator: str) -> list[str]:
    """Join consecutive texts of the same group with ``separator`` (one string per group)."""
    mark = "\x1f"
    last = np.r_[group[1:] != group[:-1], True]
    seps = np.where(last, mark, separator).tolist()
    pieces = itertools.chain.from_iterable(zip(texts.tolist(), seps, strict=True))
    joined = "".join(pieces).split(mark)[:-1]
    if len(joined) == last.sum():
        return joined
    # some text holds the mark itself: join the slow, safe way
    bounds = np.r_[0, np.flatnonzero(last) + 1]
    return [separator.join(texts[a:b]) for a, b in itertools.pairwise(bounds)]
