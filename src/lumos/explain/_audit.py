"""The audit of narratives: is each one coherent, material, in context and readable?

:func:`audit` checks narratives against the attributions they stand for and
the design that wrote them — any narratives, Lumos's own or another engine's:

* **coherent** — the summed attribution of the features a narrative speaks
  for (its ``features``, else every feature of its super feature) points the
  row's way (its ``direction``, else the one the narratives were made in);
* **material** — a change is at least its design's thresholds, relative and
  absolute (from the narrative's ``change`` and ``relative_change``, else
  recomputed from ``data``);
* **in context** — a level compares its value with its peers;
* **readable** — no missing values or empty fields printed, no bare "is 1.",
  rates as percentages, a capital letter first and acronyms in capitals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lumos.errors import LumosUserError
from lumos.explain._attributions import Attributions
from lumos.explain._design import InsightsDesign

CHECKS = ("incoherent", "immaterial", "no_context", "unreadable")
ACRONYMS = (
    "AUC",
    "API",
    "ARR",
    "BMI",
    "BP",
    "CPU",
    "CRM",
    "CTR",
    "GDP",
    "HDL",
    "HR",
    "ID",
    "IT",
    "KPI",
    "LDL",
    "LTV",
    "MRR",
    "NPS",
    "ROI",
    "SEO",
    "SLA",
    "SQL",
    "URL",
    "USD",
    "EUR",
)
_ACRONYM = re.compile(r"\b(" + "|".join(a.capitalize() for a in ACRONYMS) + r")\b")
_MISSING = re.compile(r"\b(nan|NaN|inf|None|null)\b")
_BARE = re.compile(r"\bis -?[\d,.]+[KMB]?\.$")
_FRACTION = re.compile(r"(?<![\d.,])-?0\.\d+(?!%)")
_CONTEXT = re.compile(
    r"\b(higher|lower) than \d[\d.]*% of\b|\bthe same as (the other|\d+% of)\b"
    r"|\bthe (highest|lowest) of\b|\bnear the middle of\b|\btied with \d+% of\b"
)


@dataclass(frozen=True)
class Audit:
    """What :func:`audit` found.

    Attributes
    ----------
    failures : DataFrame
        One row per failed check: ``row, rank, super_feature, check, reason, text``.
    counts : dict
        ``narratives``, ``rows``, ``incoherent``, ``immaterial``, ``changes``,
        ``levels``, ``levels_in_context``, ``unreadable``.
    """

    failures: pd.DataFrame
    counts: dict

    @property
    def context_share(self) -> float:
        """The share of level narratives that compare their value with their peers."""
        levels = self.counts["levels"]
        return self.counts["levels_in_context"] / levels if levels else 1.0

    def summary(self) -> str:
        """One line: how many narratives, and how many fail each check.

        >>> Audit(pd.DataFrame(), {"narratives": 4, "rows": 2, "incoherent": 1, "immaterial": 0,
        ...       "changes": 1, "levels": 2, "levels_in_context": 1, "unreadable": 0}).summary()
        'audit of 4 narratives (2 rows): 1 incoherent, 0 immaterial changes of 1, 50% of 2 levels in context, 0 unreadable'
        """  # noqa: E501
        c = self.counts
        return (
            f"audit of {c['narratives']:,} narratives ({c['rows']:,} rows): "
            f"{c['incoherent']:,} incoherent, {c['immaterial']:,} immaterial changes of "
            f"{c['changes']:,}, {self.context_share:.0%} of {c['levels']:,} levels in context, "
            f"{c['unreadable']:,} unreadable"
        )

    def __add__(self, other: Audit) -> Audit:
        failures = pd.concat([self.failures, other.failures], ignore_index=True)
        counts = {k: self.counts[k] + other.counts[k] for k in self.counts}
        return Audit(failures, counts)


def audit(
    narratives: pd.DataFrame,
    attributions: Attributions,
    design: InsightsDesign,
    *,
    data: pd.DataFrame | None = None,
) -> Audit:
    """Check every narrative: coherent, material, in context, readable.

    Parameters
    ----------
    narratives : DataFrame
        Narratives of the rows ``attributions`` explains (``row``, ``rank``,
        ``super_feature``, ``text``; what :func:`~lumos.explain.narrate` adds —
        ``features``, ``direction``, ``kind``, ``change``, ``reference`` — is
        used where present, and recomputed where not).
    attributions : Attributions
    design : InsightsDesign
        The design the narratives were written from.
    data : DataFrame, optional
        The explained rows: a change's size is recomputed from them when the
        narratives do not carry it.

    Returns
    -------
    Audit
    """
    missing = {"row", "super_feature", "text"} - set(narratives.columns)
    if missing:
        raise LumosUserError(
            f"audit needs narratives with row, super_feature and text; missing {sorted(missing)}.",
            code="bad_argument",
        )
    n = len(narratives)
    sf = narratives["super_feature"].astype(str).to_numpy(dtype=object)
    text = narratives["text"].astype(str).to_numpy(dtype=object)
    position = pd.Index(attributions.index).get_indexer(narratives["row"])
    if (position < 0).any():
        bad = narratives["row"].iloc[int(np.argmax(position < 0))]
        raise LumosUserError(
            f"narrative row {bad!r} is not a row the attributions explain; audit the "
            "narratives with the attributions of the same rows.",
            code="bad_argument",
        )
    types = _types(narratives, design, sf)
    kinds = _column(narratives, "kind", [design.templates[t].kind for t in types])
    incoherent = _incoherent(narratives, attributions, design, sf, position)
    is_change = kinds == "change"
    immaterial = is_change & ~_material(narratives, design, sf, types, data, is_change)
    is_level = kinds == "level"
    if "reference" in narratives.columns:
        in_context = narratives["reference"].notna().to_numpy()
    else:
        in_context = np.array([bool(_CONTEXT.search(t)) for t in text], dtype=bool)
    no_context = is_level & ~in_context
    reasons = _readability(text, sf, design)
    unreadable = np.array([bool(r) for r in reasons], dtype=bool)

    found = []
    ranks = _column(narratives, "rank", np.zeros(n, dtype=np.int64))
    for check, mask, why in (
        ("incoherent", incoherent, "its features' summed attribution points the other way"),
        ("immaterial", immaterial, "the change is under the design's thresholds"),
        ("no_context", no_context, "a level with no comparison with its peers"),
    ):
        at = np.flatnonzero(mask)
        found.append(
            pd.DataFrame(
                {
                    "row": narratives["row"].to_numpy()[at],
                    "rank": ranks[at],
                    "super_feature": sf[at],
                    "check": check,
                    "reason": why,
                    "text": text[at],
                }
            )
        )
    at = np.flatnonzero(unreadable)
    found.append(
        pd.DataFrame(
            {
                "row": narratives["row"].to_numpy()[at],
                "rank": ranks[at],
                "super_feature": sf[at],
                "check": "unreadable",
                "reason": [reasons[i] for i in at],
                "text": text[at],
            }
        )
    )
    failures = pd.concat(found, ignore_index=True)
    counts = {
        "narratives": n,
        "rows": int(narratives["row"].nunique()),
        "incoherent": int(incoherent.sum()),
        "immaterial": int(immaterial.sum()),
        "changes": int(is_change.sum()),
        "levels": int(is_level.sum()),
        "levels_in_context": int((is_level & in_context).sum()),
        "unreadable": int(unreadable.sum()),
    }
    return Audit(failures, counts)


def _column(narratives, name, default) -> np.ndarray:
    if name in narratives.columns:
        return narratives[name].astype(object).to_numpy()
    return np.asarray(default, dtype=object)


def _types(narratives, design, sf) -> np.ndarray:
    if "insight_type" in narratives.columns:
        return narratives["insight_type"].astype(str).to_numpy(dtype=object)
    first = {s: design.insight_type(s) for s in set(sf)}
    return np.array([first[s] for s in sf], dtype=object)


def _incoherent(narratives, attributions, design, sf, position) -> np.ndarray:
    """Where a narrative's features' summed attribution does not point the row's way."""
    names = {f: j for j, f in enumerate(attributions.feature_names)}
    if "features" in narratives.columns:
        sets = narratives["features"].astype(str).to_numpy(dtype=object)
    else:
        feats = design.features
        every = {s: ",".join(feats["feature"][feats["super_feature"] == s]) for s in set(sf)}
        sets = np.array([every[s] for s in sf], dtype=object)
    values = np.asarray(attributions.values, dtype=np.float64)
    summed = np.full(len(sf), np.nan)
    codes, distinct = pd.factorize(pd.Series(sets, dtype=object))
    for c, joined in enumerate(distinct):  # one pass per feature set, rows vectorized
        cols = [names[f] for f in joined.split(",") if f in names]
        at = np.flatnonzero(codes == c)
        if cols:
            block = values[np.ix_(position[at], cols)]
            summed[at] = np.where(np.isnan(block).all(1), np.nan, np.nansum(block, axis=1))
    made = narratives.attrs.get("direction", "auto")
    if "direction" in narratives.columns:
        way = np.where(narratives["direction"].astype(str).to_numpy() == "negative", -1.0, 1.0)
    elif made == "absolute":
        return np.isnan(summed) | (summed == 0)
    elif made in ("positive", "negative"):
        way = np.full(len(sf), 1.0 if made == "positive" else -1.0)
    else:
        way = np.where(np.nansum(values, axis=1) >= 0, 1.0, -1.0)[position]
    return ~(summed * way > 0)


def _material(narratives, design, sf, types, data, is_change) -> np.ndarray:
    """Where a change is at least its thresholds (True for narratives that are not changes)."""
    out = np.ones(len(sf), dtype=bool)
    if "change" in narratives.columns and "relative_change" in narratives.columns:
        change = narratives["change"].to_numpy(dtype=np.float64)
        relative = narratives["relative_change"].to_numpy(dtype=np.float64)
    elif data is not None:
        change, relative = _recomputed(narratives, design, sf, types, data, is_change)
    else:
        return out  # nothing to measure the change by
    for t in set(types[is_change]):
        at = is_change & (types == t)
        m = design.material(t)
        out[at] = (change[at] != 0) & (np.abs(change[at]) >= m["absolute"])
        out[at] &= np.abs(relative[at]) >= m["relative"]
    return out


def _recomputed(narratives, design, sf, types, data, is_change):
    """A change and its relative size, from the data the narratives describe."""
    change, relative = np.full(len(sf), np.nan), np.full(len(sf), np.nan)
    rows = data.index.get_indexer(narratives["row"])
    for s, t in set(zip(sf[is_change], types[is_change], strict=True)):
        previous, current = design.templates[t].compare
        items = design.items(s, t)
        at = np.flatnonzero(is_change & (sf == s) & (types == t) & (rows >= 0))
        before = pd.to_numeric(data[items[previous]], errors="coerce").to_numpy()[rows[at]]
        after = pd.to_numeric(data[items[current]], errors="coerce").to_numpy()[rows[at]]
        change[at] = after - before
        with np.errstate(divide="ignore", invalid="ignore"):
            relative[at] = np.where(before != 0, change[at] / np.abs(before), np.inf)
    return change, relative


def _readability(text, sf, design) -> list[str]:
    """Per narrative, why it reads badly ("" where it reads well)."""
    rates = {s for s in set(sf) if s in design.super_features and design.unit(s) == "rate"}
    out = []
    for t, s in zip(text, sf, strict=True):
        why = []
        if _MISSING.search(t):
            why.append("prints a missing value")
        if _BARE.search(t):
            why.append("states a bare number with no meaning attached")
        if s in rates and _FRACTION.search(t):
            why.append("prints a rate as a fraction, not a percentage")
        if "  " in t or " ." in t or " ," in t:
            why.append("has an empty field")
        if t[:1].islower():
            why.append("starts in lower case")
        acronym = _ACRONYM.search(t)
        if acronym:
            why.append(f"writes the acronym {acronym.group(0).upper()} as {acronym.group(0)!r}")
        out.append("; ".join(why))
    return out
