"""Narrative Generator: attributions + data + design → ranked sentences per row.

The rules (CrystalCandle's, made to agree with the attributions they stand for):

1. **Direction.** Each row is explained by what moves its score one way:
   ``positive`` (up), ``negative`` (down), or ``auto`` (the default: away from
   the base value, the sign of the row's summed attributions). ``absolute``
   takes each narrative in its own direction.
2. **Coherent.** A narrative speaks for the features its insight type names
   (``features.csv``'s ``insight``; by default every feature of its super
   feature). Its attribution is their summed attribution, and it is a reason
   only when that sum points the row's way; its importance is the sum's size.
3. **Material.** A change (an insight of kind ``change``) smaller than its
   thresholds — relative to where it started, and absolute — is no reason;
   the super feature's level may speak instead, if its own features point the
   row's way.
4. A super feature with several insight types says the one whose attribution
   is largest among those that qualify; a narrative whose items are missing or
   NaN, or whose derived values are not finite, is skipped and counted.
5. Only the most important narrative of each ultra feature is kept (ties go
   to the super feature listed first in ``features.csv``); the kept ones are
   ranked by importance (ties to the ultra feature listed first) and the first
   ``top_k`` of each row are returned.
6. **In context.** A level's ``{context}`` compares its value with the rows
   scored (``reference``), or with the rows of its segment when the design
   names a segment column: "higher than 88% of accounts in Software". A rate
   (``unit: rate``) prints as a percentage.

Everything is computed on ``n × insights`` arrays; Python loops run over the
design, and strings are built only for the narratives that are kept.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lumos._checks import check_number, require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain._attributions import Attributions
from lumos.explain._context import Reference, phrases
from lumos.explain._design import InsightsDesign
from lumos.explain._format import format_codes, format_one

DIRECTIONS = ("auto", "positive", "negative", "absolute")
COLUMNS = [
    "row",
    "rank",
    "category",
    "ultra_feature",
    "super_feature",
    "importance",
    "text",
    "insight_type",
    "kind",
    "direction",
    "attribution",
    "features",
    "change",
    "relative_change",
    "reference",
]


@dataclass(frozen=True)
class _Plan:
    """How a design meets one model's features."""

    columns: np.ndarray  # attribution columns, grouped by insight
    starts: np.ndarray  # start of each insight's group in ``columns``
    insights: list[tuple[int, str]]  # (super feature index, insight type) per insight
    features: list[str]  # per insight: the model features it speaks for, comma-joined
    supers: list[str]  # super features with at least one attributed feature
    super_insights: list[np.ndarray]  # per super feature: its insights' indices
    ultras: list[str]
    ultra_members: list[np.ndarray]  # per ultra feature: indices into ``supers``


def _plan(design: InsightsDesign, feature_names: list[str]) -> _Plan:
    key = tuple(feature_names)
    if key in design._cache:
        return design._cache[key]
    position = {name: i for i, name in enumerate(feature_names)}
    columns, starts, insights, named, supers, owned = [], [], [], [], [], []
    for sf in design.super_features:
        mine = []
        for kind, feats in design.speaks_for(sf).items():
            cols = [position[f] for f in feats if f in position]
            if cols:
                mine.append(len(insights))
                starts.append(len(columns))
                columns.extend(cols)
                insights.append((len(supers), kind))
                named.append(",".join(f for f in feats if f in position))
        if mine:
            supers.append(sf)
            owned.append(np.asarray(mine))
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
    plan = _Plan(
        np.asarray(columns), np.asarray(starts), insights, named, supers, owned, ultras, members
    )
    design._cache[key] = plan
    return plan


def narrate(
    X: pd.DataFrame,
    attributions: Attributions,
    design: InsightsDesign,
    top_k: int = 5,
    direction: str = "auto",
    *,
    reference: pd.DataFrame | None = None,
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
    direction : {"auto", "positive", "negative", "absolute"}, default="auto"
        Which way each row is explained: ``auto`` by what moves its score away
        from the base value.
    reference : DataFrame, optional
        The rows a level is compared with (default ``X``): all the rows scored,
        when ``X`` is one chunk of them.

    Returns
    -------
    DataFrame
        Columns ``row, rank, category, ultra_feature, super_feature,
        importance, text`` and what each narrative stands for: its
        ``insight_type`` and ``kind`` (level, change or fact), the row's
        ``direction``, the summed ``attribution`` of the ``features`` it speaks
        for, a change's ``change`` and ``relative_change``, and a level's
        ``reference`` (the share of its peers below it). Sorted by row and
        rank; ``row`` is the row's index label in ``X``. ``attrs`` counts what
        was left out: ``skipped`` (missing items), ``immaterial`` (changes
        under the thresholds); ``categories`` lists categories in design order.
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
    reference = X if reference is None else reference
    segment = design.settings.segment
    if segment is not None:
        hint = "templates.yaml's settings name it as the segment; add it or drop the setting."
        require_columns(X, [segment], source="data", hint=hint)
        require_columns(reference, [segment], source="reference", hint=hint)
    plan = _plan(design, attributions.feature_names)
    n, n_ins = len(X), len(plan.insights)
    values = np.asarray(attributions.values, dtype=np.float64)
    missing = np.isnan(values)
    member = np.zeros((values.shape[1], n_ins))  # feature → the insight that speaks for it
    member[
        plan.columns, np.repeat(np.arange(n_ins), np.diff(np.r_[plan.starts, len(plan.columns)]))
    ] = 1.0
    clean = np.where(missing, 0.0, values) if missing.any() else values
    summed = clean @ member  # BLAS sums
    if missing.any():  # an insight whose every attribution is NaN has none
        summed[((~missing).astype(np.float64) @ member) == 0] = np.nan
    # a sum within rounding of zero (its terms cancel) points nowhere, whatever their order
    biggest = np.maximum(clean.max(axis=1, initial=0.0), -clean.min(axis=1, initial=0.0))
    summed[np.abs(summed) <= 1e-9 * biggest[:, None] * member.sum(axis=0)] = 0.0
    summed = np.asfortranarray(summed)  # per-insight columns are read and written whole
    sign = _signs(values, direction, n)
    signed = np.abs(summed) if direction == "absolute" else summed * sign[:, None]
    coherent = signed > 0  # False where NaN

    arrays, valid = [None] * n_ins, np.ones((n, n_ins), dtype=bool, order="F")
    change = np.full((n, n_ins), np.nan, order="F")
    relative = np.full((n, n_ins), np.nan, order="F")
    material = np.ones((n, n_ins), dtype=bool, order="F")
    for i, (s, kind) in enumerate(plan.insights):
        arrays[i], valid[:, i] = _items(X, design, plan.supers[s], kind)
        template = design.templates[kind]
        if template.kind == "change":
            before, after = (arrays[i][name] for name in template.compare)
            change[:, i], relative[:, i], material[:, i] = _materiality(
                before, after, design.material(kind)
            )
    skipped = coherent & ~valid
    immaterial = coherent & valid & ~material
    score = np.where(coherent & valid & material, signed, -np.inf)

    rows = np.arange(n)
    super_imp = np.empty((n, len(plan.supers)), order="F")
    super_ins = np.empty((n, len(plan.supers)), dtype=np.int64, order="F")
    for s, mine in enumerate(plan.super_insights):
        if len(mine) == 1:  # most super features have one insight type
            super_ins[:, s], super_imp[:, s] = mine[0], score[:, mine[0]]
            continue
        local = np.argmax(score[:, mine], axis=1)
        super_ins[:, s] = mine[local]
        super_imp[:, s] = score[rows, super_ins[:, s]]
    n_ultra = len(plan.ultras)
    best_imp = np.empty((n, n_ultra), order="F")
    best_super = np.empty((n, n_ultra), dtype=np.int64, order="F")
    for u, members in enumerate(plan.ultra_members):
        local = np.argmax(super_imp[:, members], axis=1)
        best_super[:, u] = members[local]
        best_imp[:, u] = super_imp[rows, best_super[:, u]]
    k = min(int(top_k), n_ultra)
    order = np.argsort(-best_imp, axis=1, kind="stable")[:, :k]
    top_imp = np.take_along_axis(best_imp, order, axis=1)
    top_super = np.take_along_axis(best_super, order, axis=1)
    kept = np.isfinite(top_imp)
    row_pos, rank = np.nonzero(kept)
    sup = top_super[row_pos, rank]
    ins = super_ins[row_pos, sup]

    text = np.empty(len(row_pos), dtype=object)
    share = np.full(len(row_pos), np.nan)
    by_ins = np.argsort(ins, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(ins, minlength=n_ins))]
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b > a:
            at = by_ins[a:b]
            s, kind = plan.insights[i]
            text[at], share[at] = _render(
                design, plan.supers[s], kind, arrays[i], row_pos[at], X, reference
            )

    consts = [design.constants(sf) for sf in plan.supers]
    categories = list(dict.fromkeys(c["category"] for c in consts))
    ultras = list(dict.fromkeys(c["ultra_feature"] for c in consts))
    cat_code = np.array([categories.index(c["category"]) for c in consts])[sup]
    ultra_code = np.array([ultras.index(c["ultra_feature"]) for c in consts])[sup]
    types = list(dict.fromkeys(kind for _, kind in plan.insights))
    type_code = np.array([types.index(kind) for _, kind in plan.insights])
    kinds = ["level", "change", "fact"]
    kind_code = np.array([kinds.index(design.templates[kind].kind) for _, kind in plan.insights])
    if direction == "absolute":
        way = summed[row_pos, ins] >= 0
    else:
        way = sign[row_pos] > 0
    out = pd.DataFrame(
        {
            "row": X.index.take(row_pos),
            "rank": (rank + 1).astype(np.int64),
            "category": pd.Categorical.from_codes(cat_code, categories),
            "ultra_feature": pd.Categorical.from_codes(ultra_code, ultras),
            "super_feature": pd.Categorical.from_codes(sup, plan.supers),
            "importance": top_imp[row_pos, rank],
            "text": pd.Series(text, dtype=object),
            "insight_type": pd.Categorical.from_codes(type_code[ins], types),
            "kind": pd.Categorical.from_codes(kind_code[ins], kinds),
            "direction": pd.Categorical.from_codes(way.astype(np.int8) ^ 1, DIRECTIONS[1:3]),
            "attribution": summed[row_pos, ins],
            "features": pd.Categorical.from_codes(ins, list(dict.fromkeys(plan.features)))
            if len(set(plan.features)) == len(plan.features)
            else pd.Series(np.asarray(plan.features, dtype=object)[ins], dtype=object),
            "change": change[row_pos, ins],
            "relative_change": relative[row_pos, ins],
            "reference": share,
        }
    )
    out.attrs["skipped"] = int(skipped.sum())
    out.attrs["immaterial"] = int(immaterial.sum())
    by_super = np.zeros(len(plan.supers), dtype=np.int64)
    np.add.at(by_super, [s for s, _ in plan.insights], skipped.sum(0))
    out.attrs["skipped_by_super_feature"] = {
        sf: int(c) for sf, c in zip(plan.supers, by_super, strict=True) if c
    }
    out.attrs["categories"] = categories
    out.attrs["direction"] = direction
    return out


def _signs(values: np.ndarray, direction: str, n: int) -> np.ndarray:
    """Each row's direction: +1 (explained by what pushes it up) or -1."""
    if direction == "positive":
        return np.ones(n)
    if direction == "negative":
        return -np.ones(n)
    return np.where(np.nansum(values, axis=1) >= 0, 1.0, -1.0)  # away from the base value


def _materiality(before: np.ndarray, after: np.ndarray, thresholds: dict):
    """``(change, relative change, material)`` of a change from ``before`` to ``after``."""
    delta = after - before
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(before != 0, delta / np.abs(before), np.where(delta == 0, 0.0, np.inf))
    material = (np.abs(delta) >= thresholds["absolute"]) & (np.abs(rel) >= thresholds["relative"])
    material &= delta != 0
    return delta, rel, material


def _items(X: pd.DataFrame, design: InsightsDesign, sf: str, insight_type: str):
    """Item arrays (with derived items) of one insight of a super feature, and a row mask of
    validity."""
    template = design.templates[insight_type]
    columns = design.items(sf, insight_type)
    arrays, ok = {}, np.ones(len(X), dtype=bool)
    for item, column in columns.items():
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
                    f"on item {used!r} (column {columns[used]!r}), which is not numeric.",
                    code="non_numeric_column",
                    column=columns[used],
                )
        derived = expr(arrays)
        ok &= np.isfinite(derived)
        arrays[name] = derived
    for used in template.compare or ():
        if arrays[used].dtype.kind != "f":
            raise DataValidationError(
                f"template {insight_type!r} compares item {used!r} (column {columns[used]!r}), "
                "which is not numeric.",
                code="non_numeric_column",
                column=columns[used],
            )
    return arrays, ok


def _context(design, sf, insight_type, arrays, at, X, reference):
    """The ``context``, ``percentile`` and ``segment`` fields of level rows ``at``."""
    template = design.templates[insight_type]
    column = design.items(sf, insight_type).get(template.value or "")
    if column is None or arrays[template.value].dtype.kind != "f":
        return {}, np.full(len(at), np.nan)
    segment = design.settings.segment
    # One reference at a time (the chunks of one scoring run share it): the entry holds the
    # frame itself, so a later frame never inherits its sorted values, and the cache stays
    # bounded however many runs a design narrates.
    held = design._cache.get("reference")
    if held is None or held[0] is not reference:
        held = design._cache["reference"] = (reference, {})
    cache = held[1]
    if column not in cache:
        ref_seg = reference[segment].to_numpy(dtype=object) if segment else None
        cache[column] = Reference(
            pd.to_numeric(reference[column], errors="coerce").to_numpy(np.float64), ref_seg
        )
    seg = X[segment].to_numpy(dtype=object)[at] if segment else None
    below, above, size, code = cache[column].shares(arrays[template.value][at], seg)
    names = np.where(code >= 0, seg, None) if segment else np.full(len(at), None)
    context = phrases(below, above, size, names, design.settings.peers)
    fields = {"context": context, "percentile": below, "segment": names}
    return fields, (below if template.in_context else np.full(len(at), np.nan))


def _render(design, sf, insight_type, arrays, at, X, reference):
    """The texts of insight ``insight_type`` of super feature ``sf`` for rows ``at``, and
    each text's reference share (NaN where it states no comparison)."""
    template = design.templates[insight_type]
    consts = design.constants(sf)
    extra, share = {}, np.full(len(at), np.nan)
    if template.kind == "level" and any(
        n in ("context", "percentile", "segment") for n, _ in template.fields
    ):
        extra, share = _context(design, sf, insight_type, arrays, at, X, reference)
    rate = design.unit(sf) == "rate"
    data_items = set(design.items(sf, insight_type))

    def escape(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    pattern, columns = escape(template.literals[0]), []
    for (name, spec), literal in zip(template.fields, template.literals[1:], strict=True):
        if rate and spec == "" and name in data_items:
            spec = "pct"  # a share of 1 reads as a percentage
        if name in consts:  # the same for every row: part of the pattern
            pattern += escape(format_one(consts[name], spec))
        elif name in extra:
            pattern += "{}"
            values = extra[name]
            if values.dtype.kind == "O":
                values = np.where(pd.isna(values), "", values).astype(object)
            columns.append(format_codes(values, spec))
        else:
            pattern += "{}"
            columns.append(format_codes(arrays[name][at], spec))
        pattern += escape(literal)
    if not columns:
        return [pattern.format()] * len(at), share
    # Rows whose fields read the same share one sentence: build each distinct one once.
    combined = np.zeros(len(at), dtype=np.int64)
    for texts, codes in columns:
        combined = combined * len(texts) + codes
        if len(texts) and combined.max(initial=0) > 2**31:  # keep the mixed radix in int64
            combined = np.unique(combined, return_inverse=True)[1].reshape(-1)
    distinct, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    if len(distinct) > 0.8 * len(at):
        return list(map(pattern.format, *(texts[codes] for texts, codes in columns))), share
    sentences = map(pattern.format, *(texts[codes[first]] for texts, codes in columns))
    return np.array(list(sentences), dtype=object)[inverse.reshape(-1)], share


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
