"""What feature names say, for :func:`~lumos.explain.suggest_design`: stems and windows,
readable names, nouns, and categories from the names' own structure.

* A name ending in a period suffix splits into stem and suffix: previous
  periods (``_prev``, ``_prev_3m``, ``_3m_prev``), current values
  (``_current``), windows (``_30d``, ``_3m``, ``_last_month``), with an
  aggregate between stem and window (``searches_mean_3m``).
* Readable names expand abbreviations (``num`` → "number of") and keep
  acronyms in capitals ("BMI", "BP", "ID").
* A category is a family of features or a prefix several stems share, found
  after the qualifiers (``mean``, ``worst``, ``error``, ``num``, …) are set
  aside: "mean radius", "radius error" and "worst radius" are the family
  "Radius"; ``s1`` … ``s6`` the family "S1–S6"; ``usage_logins`` and
  ``usage_minutes`` the prefix "Usage". A qualifier is never a category.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lumos.explain._audit import ACRONYMS

_UNIT = r"(?P<unit>days?|d|weeks?|wks?|w|months?|mon|mo|m|quarters?|qtr|q|years?|yrs?|y)"
_WINDOW = rf"(?:(?:last_)?(?P<n>\d+)_?|last_){_UNIT}"
_PATTERNS = (
    ("prev", re.compile(rf"(?P<stem>.+?)_{_WINDOW}_prev(?:ious)?", re.IGNORECASE)),
    ("prev", re.compile(rf"(?P<stem>.+?)_prev(?:ious)?(?:_{_WINDOW})?", re.IGNORECASE)),
    ("current", re.compile(r"(?P<stem>.+?)_(?:current|curr|cur)", re.IGNORECASE)),
    ("window", re.compile(rf"(?P<stem>.+?)_{_WINDOW}", re.IGNORECASE)),
)
_AGG = re.compile(r"(?P<stem>.+?)_(?P<agg>sum|mean|avg|last|slope|ratio|min|max)", re.IGNORECASE)
_UNITS = {
    "d": ("day", 1),
    "w": ("week", 7),
    "m": ("month", 30),
    "q": ("quarter", 91),
    "y": ("year", 365),
}
WORDS = {
    "num": "number of",
    "nb": "number of",
    "pct": "percent",
    "perc": "percent",
    "avg": "average",
    "cnt": "count",
    "amt": "amount",
    "qty": "quantity",
    "tot": "total",
    "yoy": "year over year",
    "mom": "month over month",
    "qoq": "quarter over quarter",
    "wow": "week over week",
    "std": "standard deviation",
    "acct": "account",
    "accts": "accounts",
    "emp": "employee",
    "emps": "employees",
    "mgr": "manager",
    "msg": "message",
    "msgs": "messages",
    "rev": "revenue",
    "resp": "response",
}
_ACRONYMS = {a.lower(): a for a in ACRONYMS}
#: Words that qualify a measure rather than name it: never a category on their own.
QUALIFIERS = {
    *WORDS,
    "n",
    "number",
    "percent",
    "average",
    "mean",
    "median",
    "mode",
    "count",
    "total",
    "sum",
    "min",
    "minimum",
    "max",
    "maximum",
    "worst",
    "best",
    "error",
    "err",
    "se",
    "sd",
    "stderr",
    "var",
    "variance",
    "range",
    "first",
    "last",
    "latest",
    "current",
    "curr",
    "cur",
    "prev",
    "previous",
    "lag",
    "delta",
    "diff",
    "change",
    "log",
    "ln",
    "sqrt",
    "norm",
    "normalized",
    "scaled",
    "z",
    "zscore",
    "ratio",
    "rate",
    "share",
    "is",
    "has",
    "days",
    "weeks",
    "months",
    "years",
    "of",
    "to",
    "in",
    "into",
    "since",
    "under",
    "on",
    "at",
    "for",
    "per",
    "by",
    "the",
    "a",
    "an",
    "and",
}
_PREPOSITIONS = {"of", "to", "in", "into", "since", "under", "on", "at", "for", "per", "by"}
_NUMBERED = re.compile(r"^(?P<prefix>[a-z]+)(?P<number>\d+)$")
#: More stems than this that share nothing with another go together under "Other".
MAX_SINGLE_CATEGORIES = 10


class Part(NamedTuple):
    """One feature name read as stem + period: ``role`` is prev, current, window or plain."""

    name: str
    stem: str
    role: str
    days: int | None
    period: str  # "last 3 months", "previous 3 months", "previous period", ""
    agg: str = ""  # a window aggregate between stem and window: searches_mean_3m
    n: int = 0  # the window's length in its own unit (3 for _3m)
    unit: str = ""  # the window's unit word: day, week, month, quarter, year

    @property
    def span(self) -> str:
        """The window as words: "3 months", "month"."""
        if not self.unit:
            return ""
        return f"{self.n} {self.unit}s" if self.n != 1 else self.unit


def parse(name: str) -> Part:
    """Stem, role, window and aggregate of one feature name."""
    for role, pattern in _PATTERNS:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        unit = m.groupdict().get("unit")
        if unit is None:
            period = "previous period" if role == "prev" else ""
            return Part(name, m["stem"], role, None, period)
        n, (word, days) = int(m["n"] or 1), _UNITS[unit[0].lower()]
        span = f"{n} {word}s" if n != 1 else word
        period = f"{'previous' if role == 'prev' else 'last'} {span}"
        agg = _AGG.fullmatch(m["stem"])
        stem, agg = (agg["stem"], agg["agg"].lower()) if agg else (m["stem"], "")
        return Part(name, stem, role, n * days, period, agg, n, word)
    return Part(name, name, "plain", None, "")


def words(stem: str) -> list[str]:
    """The lower-case words of a name: ``_``, spaces and camelCase split."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem)
    return [w for w in re.split(r"[\W_]+", spaced.lower()) if w]


def _spelled(word: str) -> str:
    return _ACRONYMS.get(word, WORDS.get(word, word))


def readable(stem: str) -> str:
    """A sentence-initial name for a stem, acronyms in capitals.

    >>> readable("num_open_jobs"), readable("bmi"), readable("mean concave points")
    ('Number of open jobs', 'BMI', 'Mean concave points')
    """
    ws = words(stem)
    out = [_spelled(w) for w in ws]
    if ws and ws[0] == "n":
        out[0] = "number of"
    return _capital(" ".join(out) or stem)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def is_plural(name: str) -> bool:
    """Whether a readable name takes "are": its first word, or the last before a preposition,
    is a plural ("Units under contract", "Worst concave points"; not "Mean radius")."""
    ws = name.lower().split()
    head = []
    for w in ws:
        if w in _PREPOSITIONS:
            break
        head.append(w)
    return any(_plural_word(w) for w in {head[0], head[-1]} if head) if head else False


def _plural_word(word: str) -> bool:
    return (
        len(word) > 3
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is"))
        and word.upper() not in ACRONYMS
    )


def noun(name: str) -> str:
    """What a count counts, from its readable name: "Number of open jobs" → "open jobs",
    "Login count" → "logins"."""
    text = name.lower()
    for acronym in ACRONYMS:
        text = re.sub(rf"\b{acronym.lower()}\b", acronym, text)
    for lead in ("number of ", "count of ", "total ", "num of "):
        if text.startswith(lead) and len(text) > len(lead):
            return text[len(lead) :]
    for tail in (" count", " total", " number"):
        if text.endswith(tail) and len(text) > len(tail):
            text = text[: -len(tail)]
            return text if _plural_word(text.split()[-1]) else text + "s"
    return text


def singular(plural: str) -> str:
    """One of what a noun counts: its first plural word made singular ("messages sent" →
    "message sent", "searches" → "search", "open jobs" → "open job").

    >>> singular("messages sent"), singular("searches"), singular("companies"), singular("staff")
    ('message sent', 'search', 'company', 'staff')
    """
    ws = plural.split(" ")
    for i, w in enumerate(ws):
        if not _plural_word(w):
            continue
        if w.endswith("ies"):
            ws[i] = w[:-3] + "y"
        elif w.endswith(("ches", "shes", "sses", "xes", "zes")):
            ws[i] = w[:-2]
        else:
            ws[i] = w[:-1]
        break
    return " ".join(ws)


def categories(stems: list[str]) -> list[str]:
    """One category per stem: the family or prefix it shares with other stems.

    Qualifiers are set aside first; among the rest, the shortest leading words
    shared with another stem pick the group, named by what all its stems share.
    Numbered names (``s1`` … ``s6``) form one family. A stem that shares nothing
    is a category of its own, or "Other" when more than
    :data:`MAX_SINGLE_CATEGORIES` stems share nothing.

    >>> categories(["mean radius", "radius error", "worst radius", "mean concave points",
    ...             "concave points error", "worst concave points"])
    ['Radius', 'Radius', 'Radius', 'Concave points', 'Concave points', 'Concave points']
    >>> categories(["age", "bmi", "s1", "s2", "s3"])
    ['Age', 'BMI', 'S1–S3', 'S1–S3', 'S1–S3']
    """
    keys, numbers = [], []
    for stem in stems:
        ws = words(stem)
        content = [w for w in ws if w not in QUALIFIERS] or ws or [stem.lower()]
        m = _NUMBERED.match(content[0])
        if m is not None:
            content = [m["prefix"] + "#", *content[1:]]
        numbers.append(m["number"] if m is not None else None)
        keys.append(tuple(content))
    out = []
    for i, key in enumerate(keys):
        group = [i]
        for length in range(1, len(key) + 1):
            group = [j for j, other in enumerate(keys) if other[:length] == key[:length]]
            if len(group) >= 2:
                break
        if len(group) < 2:
            out.append(None)
            continue
        common = list(key)
        for j in group:
            while keys[j][: len(common)] != tuple(common):
                common.pop()
        out.append(_family_name(common, [numbers[j] for j in group]))
    alone = [i for i, c in enumerate(out) if c is None]
    for i in alone:
        if len(alone) > MAX_SINGLE_CATEGORIES:
            out[i] = "Other"
        else:
            out[i] = readable(stems[i])
    return out


def _family_name(common: list[str], numbers: list[str | None]) -> str:
    named = []
    for w in common:
        if w.endswith("#"):
            prefix = w[:-1]
            spelled = _ACRONYMS.get(
                prefix, prefix.upper() if len(prefix) <= 2 else prefix.capitalize()
            )
            low, high = (min(numbers, key=_as_int), max(numbers, key=_as_int))
            named.append(f"{spelled}{low}–{spelled}{high}")
        else:
            named.append(_spelled(w))
    return _capital(" ".join(named))


def _as_int(text: str | None) -> int:
    return int(text) if text is not None else -1
