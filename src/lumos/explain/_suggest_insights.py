"""The insight types :func:`~lumos.explain.suggest_design` writes for one metric (a stem and
its features): a **level** stated in context and a **change**, each speaking for its own
features, in the metric's unit.

* **Unit.** ``flag`` (0/1 values and no windows: a fact, "Has premium: yes.";
  its design unit is ``number``),
  ``rate`` (a name that says rate, share, percent, utilization, ratio,
  conversion, … and values within [0, 1.5], printed as percentages; values
  in [0, 1] alone are no rate: a smoothness of 0.14 is not 14%), ``money``
  (names that say revenue, price, cost, …), ``count`` (whole numbers ≥ 0: the
  window sums, or the column itself, or window means that are whole numbers
  of per-window totals) and otherwise ``number``. Rates and numbers are
  judged on the values a sentence prints (means, latest values, the column),
  never on window sums.
* **Change.** A previous window paired with the current window of the same
  aggregate and length (the shortest such pair: ``x_mean_prev_3m`` →
  ``x_mean_3m``), else a previous value with the current one (``x_prev`` →
  ``x_current`` or ``x``), else the shortest against the longest window of
  one comparable aggregate (means, latest values, minima, maxima: a trend).
  A count whose windows also have sums states the change as totals over the
  window (the means times its length, whole numbers); a rate states the two
  percentages without a relative change.
* **Level.** The current value (``x_current``, ``x``), or the window the
  change compares (else the shortest): its sum for a count, else its mean,
  latest, maximum or minimum. Its sentence compares it with the other rows
  (``{context}``). A count says its noun, agreeing with the value ("12 hires in
  the last 3 months", "1 hire in the last 3 months").
* **Speaks for.** With a previous window: previous-window aggregates, slopes
  and ratios speak for the change, every current-window aggregate (and the
  column itself) for the level. With a trend, the shortest window (and the
  column itself) speaks for the level and the longer windows, slopes and
  ratios for the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lumos.explain._suggest_names import Part, is_plural, noun, singular, words

RATE_WORDS = {
    "rate",
    "rates",
    "share",
    "pct",
    "percent",
    "perc",
    "percentage",
    "utilization",
    "utilisation",
    "ratio",
    "proportion",
    "fraction",
    "ctr",
    "conversion",
    "retention",
    "completion",
    "coverage",
    "adoption",
    "occupancy",
    "probability",
    "prob",
}
MONEY_WORDS = {
    "revenue",
    "rev",
    "price",
    "prices",
    "cost",
    "costs",
    "amount",
    "amt",
    "spend",
    "spending",
    "arr",
    "mrr",
    "ltv",
    "usd",
    "eur",
    "dollars",
    "salary",
    "income",
    "budget",
    "fee",
    "fees",
    "payment",
    "payments",
}
_LEVEL_AGGS = ("sum", "mean", "avg", "last", "", "max", "min")
_COMPARABLE = ("mean", "avg", "last", "", "max", "min")  # windows of different lengths compare


@dataclass(frozen=True)
class Insight:
    """One insight type of a metric: its items, the features it speaks for, its template."""

    type: str
    items: tuple[tuple[str, str], ...]  # (item, feature)
    speaks: tuple[str, ...]
    template: dict


@dataclass(frozen=True)
class Metric:
    """What :func:`plan` makes of one stem's features."""

    insights: list[Insight]
    unit: str
    noun: str
    lead: str  # the feature that stands for the metric in correlations
    description: str


def plan(
    parts: list[Part], title: str, values: Callable[[str], np.ndarray], name: str = ""
) -> Metric:
    """The insights of one metric: ``parts`` share a stem, ``title`` is its super feature,
    ``name`` its readable stem (default ``title``), ``values(feature)`` gives a column."""
    name = name or title
    unit = _unit(parts, name, values)
    what = noun(name) if unit == "count" else ""
    plural = is_plural(name)
    if unit == "flag":
        one = min(parts, key=lambda p: ({"current": 0, "plain": 1, "prev": 2}[p.role], p.name))
        template = {"kind": "fact", "text": "{super_feature}: {value:yesno}."}
        insight = Insight("flag", (("value", one.name),), tuple(p.name for p in parts), template)
        described = _describe(title, what, unit, parts, [insight])
        return Metric([insight], "number", what, one.name, described)  # a design has no flag unit
    pair = _pair(parts)
    level = _level(parts, pair, unit)
    trend = None if pair is not None or level is None else _trend(parts, level)
    sums = any(p.agg == "sum" for p in parts)
    insights = []
    if level is not None:
        kind, template = _level_template(level, unit, plural, what)
        insights.append(Insight(kind, (("value", level.name),), (), template))
    if pair is not None:
        kind, template = _change_template(*pair, unit, sums)
        items = (("prev_value", pair[0].name), ("current_value", pair[1].name))
        insights.append(Insight(kind, items, (), template))
    elif trend is not None:
        kind, template = _trend_template(*trend, unit)
        items = (("recent_value", trend[0].name), ("baseline_value", trend[1].name))
        insights.append(Insight(kind, items, (), template))
    speaks = _speaks(parts, level, pair, trend)
    insights = [
        Insight(i.type, i.items, tuple(speaks[k]), i.template)
        for k, i in enumerate(insights)
        if speaks[k]
    ]
    lead = level.name if level is not None else pair[1].name
    return Metric(insights, unit, what, lead, _describe(title, what, unit, parts, insights))


# -- units -------------------------------------------------------------------------------------
def _unit(parts: list[Part], title: str, values) -> str:
    printed = [p for p in parts if p.agg not in ("sum", "slope", "ratio")] or parts
    shown = _finite(np.concatenate([values(p.name) for p in printed]))
    windows = any(p.role == "window" or p.days for p in parts)
    if not windows and len(shown) and np.isin(shown, (0.0, 1.0)).all():
        return "flag"
    name = set(words(title))
    if len(shown) and not np.isin(shown, (0.0, 1.0)).all():
        low, high = shown.min(), shown.max()
        # a share of 1 by its name, not by its range alone: a smoothness of 0.14 is no 14%
        if name & RATE_WORDS and low >= 0 and high <= 1.5:
            return "rate"
    if name & MONEY_WORDS:
        return "money"
    sums = [p for p in parts if p.agg == "sum"]
    if sums:
        return "count" if _whole(np.concatenate([values(p.name) for p in sums])) else "number"
    plain = [p for p in parts if p.agg in ("", "last")]
    if plain and _whole(np.concatenate([values(p.name) for p in plain])):
        return "count"
    means = [p for p in parts if p.agg in ("mean", "avg") and p.n]
    if means and all(_whole(values(p.name) * p.n, share=0.99) for p in means):
        return "count"
    return "number"


def _finite(v: np.ndarray) -> np.ndarray:
    return v[np.isfinite(v)]


def _whole(v: np.ndarray, share: float = 1.0) -> bool:
    v = _finite(v)
    if not len(v) or v.min() < 0 or v.max() <= 1:
        return False
    return bool(np.mean(np.abs(v - np.round(v)) < 1e-6) >= share)


# -- which features say what ----------------------------------------------------------------
def _pair(parts: list[Part]) -> tuple[Part, Part] | None:
    """The previous and current features of the metric's change, if it has one."""
    others = [p for p in parts if p.role != "prev"]
    for prev in sorted((p for p in parts if p.role == "prev"), key=lambda p: p.days or 0):
        same = [
            o
            for o in others
            if o.role == "window" and prev.days and o.days == prev.days and o.agg == prev.agg
        ]
        current = same + [o for o in others if o.role == "current"]
        current += [o for o in others if o.role == "plain"]
        if current:
            return prev, current[0]
    return None


def _level(parts: list[Part], pair, unit: str) -> Part | None:
    """The feature a level states: the current value, or a window's sum (counts) or mean."""
    order = _LEVEL_AGGS if unit == "count" else (*_LEVEL_AGGS[1:], "sum")
    fixed = [p for p in parts if p.role in ("current", "plain")]
    if pair is not None and pair[1].role != "window":
        return pair[1]
    windows = [p for p in parts if p.role == "window" and p.agg in order]
    if pair is not None:
        at = [p for p in windows if p.days == pair[1].days]
        return min(at, key=lambda p: order.index(p.agg)) if at else pair[1]
    if fixed:
        return min(fixed, key=lambda p: p.role != "current")
    if windows:
        return min(windows, key=lambda p: (p.days, order.index(p.agg)))
    lone = [p for p in parts if p.role == "window"]  # slopes or ratios only
    return min(lone, key=lambda p: p.days) if lone else min(parts, key=lambda p: p.days or 0)


def _trend(parts: list[Part], level: Part) -> tuple[Part, Part] | None:
    """The recent and baseline windows of a trend (no previous window), if two lengths exist."""
    windows = [p for p in parts if p.role == "window" and p.agg in _COMPARABLE]
    aggs = [level.agg] + [a for a in _COMPARABLE if a != level.agg]
    for agg in aggs:
        mine = [w for w in windows if w.agg == agg]
        if len({w.days for w in mine}) >= 2:
            recent = min(mine, key=lambda w: w.days)
            return recent, max(mine, key=lambda w: w.days)
    return None


def _speaks(parts, level, pair, trend) -> list[list[str]]:
    """Per insight (level first, if any, then the change): the features it speaks for."""
    if level is None or (pair is None and trend is None):
        return [[p.name for p in parts]]
    to_level, to_change = [], []
    for p in parts:
        if p.role == "prev" or p.agg in ("slope", "ratio"):
            to_change.append(p.name)
        elif trend is not None and p.role == "window" and p.days != trend[0].days:
            to_change.append(p.name)
        else:
            to_level.append(p.name)
    return [to_level, to_change]


# -- templates ---------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return text.replace(" ", "_")


def _counted(what: str) -> tuple[str, dict]:
    """A count's value and noun, agreeing ("1 hire", "12 hires"): the text and the derived
    item whose sign picks the word."""
    words_ = f"{what}/{what}/{singular(what)}"
    return f"{{value}} {{one:{words_}}}", {"one": "value - 1"}


def _level_template(level: Part, unit: str, plural: bool, what: str = "") -> tuple[str, dict]:
    context = ", {context}."
    if unit == "count" and what and (not level.span or level.agg in ("sum", "")):
        said, derive = _counted(what)
        kind = "count_" + _slug(what) + (f"_{_slug(level.span)}" if level.span else "")
        when = f" in the last {level.span}" if level.span and level.role != "prev" else ""
        return kind, {"kind": "level", "text": said + when + context, "derive": derive}
    if not level.span or level.role == "prev":
        verb = "are" if plural else "is"
        return f"level{'_plural' if plural else ''}", {
            "kind": "level",
            "text": f"{{super_feature}} {verb} {{value}}" + context,
        }
    span, s = level.span, _slug(level.span)
    phrase = {
        "sum": ("total", f"totaled {{value}} over the last {span}"),
        "mean": ("average", f"averaged {{value}} over the last {span}"),
        "avg": ("average", f"averaged {{value}} over the last {span}"),
        "last": ("latest", f"stood at {{value}} in the latest {level.unit}"),
        "max": ("peak", f"peaked at {{value}} over the last {span}"),
        "min": ("low", f"stayed at or above {{value}} over the last {span}"),
        "": ("window", f"came to {{value}} over the last {span}"),
        "slope": ("slope", f"trended by {{value}} a {level.unit} over the last {span}"),
        "ratio": ("ratio", f"came to {{value}} times the {span} before over the last {span}"),
    }[level.agg]
    return f"{phrase[0]}_{s}", {"kind": "level", "text": "{super_feature} " + phrase[1] + context}


def _change_template(prev: Part, current: Part, unit: str, sums: bool) -> tuple[str, dict]:
    if prev.span and current.span:
        count = str(prev.n) if prev.n != 1 else "one"
        when, s = f"in the last {prev.span} against the {count} before", _slug(prev.span)
    elif prev.span:
        when, s = f"against the {prev.period}", "vs_" + _slug(prev.span)
    else:
        when, s = "against the previous period", ""
    kind = f"change_{s}".rstrip("_")
    relative = "(current_value - prev_value) / abs(prev_value)"
    head = "{super_feature} {change:rose/fell} from "
    base = {"kind": "change", "compare": ["prev_value", "current_value"]}
    if unit == "rate":
        text = head + f"{{prev_value}} to {{current_value}} {when}."
        return kind + "_rate", {
            **base,
            "text": text,
            "derive": {"change": "current_value - prev_value"},
        }
    if unit == "count" and sums and prev.agg in ("mean", "avg") and prev.n:
        text = head + f"{{prev_total:,.0f}} to {{current_total:,.0f}} ({{change:+pct}}) {when}."
        derive = {
            "prev_total": f"prev_value * {prev.n}",
            "current_total": f"current_value * {prev.n}",
            "change": relative,
        }
        return kind + "_total", {**base, "text": text, "derive": derive}
    text = head + f"{{prev_value}} to {{current_value}} ({{change:+pct}}) {when}."
    return kind, {**base, "text": text, "derive": {"change": relative}}


def _trend_template(recent: Part, baseline: Part, unit: str) -> tuple[str, dict]:
    averaged = recent.agg in ("mean", "avg")
    verb = "averaged" if averaged else "came to"
    kind = f"trend_{'average_' if averaged else ''}{_slug(recent.span)}_{_slug(baseline.span)}"
    text = (
        f"{{super_feature}} {verb} {{recent_value}} over the last {recent.span} against "
        f"{{baseline_value}} over the last {baseline.span}"
    )
    base = {"kind": "change", "compare": ["baseline_value", "recent_value"]}
    if unit == "rate":
        derive = {"change": "recent_value - baseline_value"}
        return kind + "_rate", {**base, "text": text + ".", "derive": derive}
    derive = {"change": "(recent_value - baseline_value) / abs(baseline_value)"}
    return kind, {**base, "text": text + " ({change:+pct}).", "derive": derive}


# -- descriptions ------------------------------------------------------------------------------
_UNIT_WORDS = {
    "flag": "a yes/no flag",
    "rate": "a rate (a share of 1, printed as a percentage)",
    "money": "an amount of money",
    "count": "a count",
    "number": "a number",
}
_AGG_WORDS = {
    "sum": "sum",
    "mean": "mean",
    "avg": "mean",
    "last": "latest value",
    "slope": "slope",
    "ratio": "ratio to the window before",
    "min": "minimum",
    "max": "maximum",
    "": "value",
}


def _describe(title: str, what: str, unit: str, parts: list[Part], insights) -> str:
    """What the metric is, from its names: unit, windows, and what each insight states."""
    kind = _UNIT_WORDS[unit] + (f" of {what}" if what and what != title.lower() else "")
    bits = [f"{title}: {kind}"]
    for role, where in (("window", "over the last {}"), ("prev", "over the {} before those")):
        windows = [p for p in parts if p.role == role and p.unit]
        if windows:
            aggs = list(dict.fromkeys(_AGG_WORDS[p.agg] for p in windows))
            bits.append(f"{_and(aggs)} " + where.format(_spans(windows)))
    said = []
    for insight in insights:
        columns = dict(insight.items)
        if "prev_value" in columns:
            said.append(f"the change from {columns['prev_value']} to {columns['current_value']}")
        elif "baseline_value" in columns:
            said.append(f"the change from {columns['baseline_value']} to {columns['recent_value']}")
        else:
            what = "a fact" if insight.template["kind"] == "fact" else "its level"
            said.append(f"{what}, {columns['value']}")
    names = [p.name for p in parts]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (
        "; ".join(bits)
        + f". Narrated as {_and(said)}. From feature{'s' if len(names) > 1 else ''} {shown}."
    )


def _spans(windows: list[Part]) -> str:
    """ "3, 6 and 12 months", or "month" for one window of 1."""
    spans = sorted({(p.days, p.n, p.unit) for p in windows})
    if len(spans) == 1:
        return windows[0].span
    return f"{_and([str(n) for _, n, _ in spans])} {spans[-1][2]}s"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
