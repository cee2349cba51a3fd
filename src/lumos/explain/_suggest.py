"""Suggest a starting Insights Design from a model's feature names and a data sample.

``suggest_design(model, data)`` drafts ``features.csv``, ``insights.csv`` and
``templates.yaml`` for a person to edit. The rules:

* **Super features.** A name ending in a period suffix is split into stem and
  suffix (case-insensitive): previous periods ``_prev``, ``_previous``,
  ``_prev_1m``, ``_1m_prev``; current values ``_current``, ``_curr``, ``_cur``; windows
  ``_30d``, ``_4w``, ``_3m``, ``_12mo``, ``_1q``, ``_1y``, ``_3_months``,
  ``_last_3m``, ``_last_month``. Features sharing a stem form one super
  feature; a name with no suffix is its own stem.
* **Window aggregates.** An aggregate between stem and window (``_sum``,
  ``_mean``, ``_avg``, ``_last``, ``_slope``, ``_ratio``, ``_min``, ``_max``:
  ``searches_mean_3m``, ``searches_mean_prev_3m``, the names of
  :class:`~lumos.features.WindowFeatures`) joins the stem's super feature; a
  previous window pairs with the current window of the same aggregate and
  length (the shortest such pair) as a ``change_3_months`` insight: "Searches
  fell from 41 to 18 (-56%) in the last 3 months against the 3 before."
* **Insight type**, tried in order: ``value_change`` when a previous-period
  feature has a current partner (the window of the same length, ``x_1m`` for
  ``x_prev_1m``; else ``x_current``; else the bare ``x``); ``trend`` when two
  or more window lengths exist (``recent_value`` the shortest,
  ``baseline_value`` the longest; its ``change`` assumes comparable windows,
  such as averages or rates, so edit it for running totals); otherwise one
  feature (current, else bare, else shortest window) is a ``flag`` when its
  non-missing values are all 0/1, else a ``current_value``. Other features of
  the stem stay under the super feature (they count towards its importance).
* **Readable names.** The stem's words (``_`` and camelCase split) with
  abbreviations expanded (``num`` or a leading ``n`` → "number of", ``pct``,
  ``avg``, ``cnt``, ``amt``, ``yoy``, …), lower case with a capital first
  letter since templates start with ``{super_feature}``. A super feature of
  one windowed feature names its window: "Hires (last 12 months)".
* **Ultra features.** Super features are clustered by the Spearman
  correlation of their most recent feature (ranks over each column's values,
  pairwise-complete rows, at most ``max_rows`` rows sampled with seed 0;
  constant columns correlate 0): average linkage on ``1 - |corr|``, cut at
  ``1 - corr_threshold``. A cluster is named after its first member in model
  feature order.
* **Category.** The stem's first word that is not a generic prefix (``num``,
  ``pct``, ``has``, ``is``, ``total``, …) when two or more super features
  share it (``usage_…`` → "Usage"); otherwise "Other".
* **Description.** "From feature(s) …", naming the model features.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import yaml
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from lumos._checks import check_number
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain._model import ImportedModel, import_model, select_features

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
_WORDS = {
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
    "id": "ID",
    "ctr": "CTR",
    "ltv": "LTV",
    "nps": "NPS",
    "crm": "CRM",
    "roi": "ROI",
}
_GENERIC = {
    *_WORDS,
    "n",
    "number",
    "percent",
    "average",
    "count",
    "total",
    "mean",
    "median",
    "max",
    "min",
    "sum",
    "is",
    "has",
    "log",
    "ratio",
    "rate",
    "share",
}
_TEMPLATES = {
    "value_change": {
        "text": "{super_feature} changed from {prev_value} to {current_value} "
        "({percent_change:+.0%}) in the last period.",
        "derive": {"percent_change": "(current_value - prev_value) / prev_value"},
    },
    "trend": {
        "text": "{super_feature} is {recent_value} over the most recent window against "
        "{baseline_value} over the longest ({change:+.0%}).",
        "derive": {"change": "(recent_value - baseline_value) / baseline_value"},
    },
    "flag": {"text": "{super_feature}: {value:yesno}."},
    "current_value": {"text": "{super_feature} is {value}."},
}


class _Part(NamedTuple):
    name: str
    stem: str
    role: str  # prev, current, window or plain
    days: int | None
    period: str
    agg: str = ""  # a window aggregate between stem and window: searches_mean_3m


@dataclass(frozen=True, repr=False)
class SuggestedDesign:
    """A draft Insights Design: the three tables of an insights folder, in memory.

    Attributes
    ----------
    features : pandas.DataFrame
        ``feature, super_feature, ultra_feature, category, description``.
    insights : pandas.DataFrame
        ``super_feature, insight_type, item, feature``.
    templates : dict
        insight type → ``{"text": ..., "derive": {name: expression}}``.
    """

    features: pd.DataFrame
    insights: pd.DataFrame
    templates: dict

    def __repr__(self) -> str:
        f, types = self.features, ", ".join(self.templates)
        counts = [len(f), f["super_feature"].nunique(), f["ultra_feature"].nunique()]
        return "SuggestedDesign({} features, {} super, {} ultra; ".format(*counts) + types + ")"

    def write(self, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write ``features.csv``, ``insights.csv`` and ``templates.yaml`` into ``folder``.

        The files are written beside ``folder`` and moved into place only when all
        are complete. A non-empty folder is refused (code ``exists``) unless
        ``overwrite=True``, which replaces the three files and leaves any others.
        """
        folder = Path(folder).resolve()  # so "." has a parent to write beside
        filled = folder.exists() and (not folder.is_dir() or any(folder.iterdir()))
        if filled and (not overwrite or not folder.is_dir()):
            what = "already holds files" if folder.is_dir() else "is a file, not a folder"
            raise LumosUserError(
                f"{str(folder)!r} {what}; choose a new folder for the design, or pass "
                "overwrite=True to replace the design files in an existing folder.",
                code="exists",
            )
        texts = {
            "features.csv": self.features.to_csv(index=False, lineterminator="\n"),
            "insights.csv": self.insights.to_csv(index=False, lineterminator="\n"),
            "templates.yaml": yaml.safe_dump(self.templates, sort_keys=False, width=4096),
        }
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.tmp"
        tmp.mkdir()
        try:
            for name, text in texts.items():
                (tmp / name).write_text(text, encoding="utf-8")
            if folder.is_dir():  # move the complete files in; other files stay
                for name in texts:
                    os.replace(tmp / name, folder / name)
            else:  # the whole folder appears in one step
                os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder


def suggest_design(
    model,
    data,
    out: str | os.PathLike | None = None,
    *,
    corr_threshold: float = 0.7,
    max_rows: int = 20000,
    overwrite: bool = False,
) -> SuggestedDesign:
    """Suggest a starting Insights Design for ``model`` from a sample of its data.

    Parameters
    ----------
    model : ImportedModel or model object
        The model (anything :func:`~lumos.explain.import_model` reads); only its
        feature names are used.
    data : pandas.DataFrame
        Rows holding at least the model's feature columns, e.g. training data.
    out : path-like, optional
        When given, also write the design into this folder (:meth:`SuggestedDesign.write`).
    corr_threshold : float, default=0.7
        Super features whose values correlate at least this much (absolute
        Spearman, average linkage) share an ultra feature. In ``(0, 1]``.
    max_rows : int, default=20000
        At most this many rows (sampled with seed 0) are used for correlations.
    overwrite : bool, default=False
        Allow writing into a non-empty ``out`` folder.

    Returns
    -------
    SuggestedDesign

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> seats = rng.poisson(20, 60)
    >>> X = pd.DataFrame({"seats_used_3m": seats, "seats_used_12m": seats + rng.poisson(3, 60),
    ...                   "has_premium": rng.integers(0, 2, 60), "num_hires": rng.poisson(4, 60)})
    >>> design = suggest_design(LinearRegression().fit(X, rng.normal(size=60)), X)
    >>> design
    SuggestedDesign(4 features, 3 super, 3 ultra; trend, flag, current_value)
    >>> print(design.insights.to_string(index=False))
      super_feature  insight_type           item        feature
         Seats used         trend   recent_value  seats_used_3m
         Seats used         trend baseline_value seats_used_12m
        Has premium          flag          value    has_premium
    Number of hires current_value          value      num_hires
    """
    if not isinstance(model, ImportedModel):
        model = import_model(model)
    check_number("suggest_design", "corr_threshold", corr_threshold, strict=True, high=1)
    check_number("suggest_design", "max_rows", max_rows, low=2, integer=True)
    if not isinstance(data, pd.DataFrame):
        raise LumosUserError(
            "data must be a pandas DataFrame holding the model's feature columns "
            f"({', '.join(model.feature_names[:3])}, …). Got {type(data).__name__}.",
            code="bad_argument",
        )
    names = list(model.feature_names)
    X = select_features(data, names, where="data")
    if len(X) == 0:
        msg = "data has no rows; pass a sample of the rows the model scores (e.g. training data)."
        raise DataValidationError(msg, code="empty")
    groups: dict[str, list[_Part]] = {}
    for part in map(_parse, names):
        groups.setdefault(part.stem.lower(), []).append(part)
    column = {name: j for j, name in enumerate(names)}
    supers, rows, leads = [], [], []
    for parts in groups.values():
        kind, items = _insight(parts, lambda f: _is_flag(X[:, column[f]]))
        title = _readable(parts[0].stem)
        if len(parts) == 1 and parts[0].period:
            title += f" ({parts[0].period})"
        if title in supers:
            title += f" ({parts[0].stem})"
        supers.append(title)
        leads.append(column[items[1][1] if kind == "value_change" else items[0][1]])
        rows += [(title, kind, item, feature) for item, feature in items]
    insights = pd.DataFrame(rows, columns=["super_feature", "insight_type", "item", "feature"])
    lead = X[:, leads]
    if len(lead) > max_rows:
        lead = lead[np.sort(np.random.default_rng(0).choice(len(lead), max_rows, replace=False))]
    labels = _clusters(_spearman(lead), corr_threshold)
    ultra = {label: supers[i] for i, label in reversed(list(enumerate(labels)))}
    heads = [_first_word(parts[0].stem) for parts in groups.values()]
    categories = [h.capitalize() if h and heads.count(h) >= 2 else "Other" for h in heads]
    records = []
    for s, parts in enumerate(groups.values()):
        what = f"From feature{'s' if len(parts) > 1 else ''} " + ", ".join(p.name for p in parts)
        records += [(p.name, supers[s], ultra[labels[s]], categories[s], what) for p in parts]
    records.sort(key=lambda r: column[r[0]])
    columns = ["feature", "super_feature", "ultra_feature", "category", "description"]
    used = set(insights["insight_type"])
    templates = {k: copy.deepcopy(v) for k, v in _TEMPLATES.items() if k in used}
    for kind in sorted(k for k in used if k.startswith("change_")):
        span = kind[7:].replace("_", " ")  # "3 months", "month"
        count = span.split()[0] if span[0].isdigit() else "one"
        templates[kind] = {
            "text": "{super_feature} {percent_change:rose/fell} from {prev_value} to "
            f"{{current_value}} ({{percent_change:+pct}}) in the last {span} against the "
            f"{count} before.",
            "derive": {"percent_change": "(current_value - prev_value) / prev_value"},
        }
    design = SuggestedDesign(pd.DataFrame(records, columns=columns), insights, templates)
    if out is not None:
        design.write(out, overwrite=overwrite)
    return design


def _parse(name: str) -> _Part:
    for role, pattern in _PATTERNS:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        unit = m.groupdict().get("unit")
        if unit is None:
            period = "previous period" if role == "prev" else ""
            return _Part(name, m["stem"], role, None, period)
        n, (word, days) = int(m["n"] or 1), _UNITS[unit[0].lower()]
        span = f"{n} {word}s" if n != 1 else word
        period = f"{'previous' if role == 'prev' else 'last'} {span}"
        agg = _AGG.fullmatch(m["stem"])
        stem, agg = (agg["stem"], agg["agg"].lower()) if agg else (m["stem"], "")
        return _Part(name, stem, role, n * days, period, agg)
    return _Part(name, name, "plain", None, "")


def _insight(parts: list[_Part], is_flag) -> tuple[str, list[tuple[str, str]]]:
    """The insight type of one stem's features and its (item, feature) pairs."""
    others = [p for p in parts if p.role != "prev"]
    for prev in sorted((p for p in parts if p.role == "prev"), key=lambda p: p.days or 0):
        same = [
            o
            for o in others
            if o.role == "window" and prev.days and o.days == prev.days and o.agg == prev.agg
        ]
        if prev.agg and same:  # window aggregates: the change names its window
            kind = "change_" + prev.period.split(" ", 1)[1].replace(" ", "_")
            return kind, [("prev_value", prev.name), ("current_value", same[0].name)]
        current = same + [o for o in others if o.role == "current"]
        current += [o for o in others if o.role == "plain"]
        if current:
            return "value_change", [("prev_value", prev.name), ("current_value", current[0].name)]
    windows = [o for o in others if o.role == "window"]
    for agg in ("mean", "avg", "last", "sum", "min", "max"):  # comparable windows of one kind
        if len({w.days for w in windows if w.agg == agg}) >= 2:
            windows = [w for w in windows if w.agg == agg]
            break
    else:
        windows = [w for w in windows if not w.agg] or windows
    if len({w.days for w in windows}) >= 2:
        recent = min(windows, key=lambda w: w.days)
        baseline = max(windows, key=lambda w: w.days)
        return "trend", [("recent_value", recent.name), ("baseline_value", baseline.name)]
    rank = {"current": 0, "plain": 1, "window": 2, "prev": 3}
    one = min(parts, key=lambda p: (rank[p.role], p.days or 0))
    return ("flag" if is_flag(one.name) else "current_value"), [("value", one.name)]


def _is_flag(values: np.ndarray) -> bool:
    values = values[~np.isnan(values)]
    return len(values) > 0 and bool(np.isin(values, (0.0, 1.0)).all())


def _words(stem: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem)
    return [w for w in re.split(r"[\W_]+", spaced.lower()) if w]


def _readable(stem: str) -> str:
    """A sentence-initial name for a stem: ``num_open_jobs`` → "Number of open jobs"."""
    words = _words(stem)
    out = [_WORDS.get(w, w) for w in words]
    if words and words[0] == "n":
        out[0] = "number of"
    text = " ".join(out) or stem
    return text[:1].upper() + text[1:]


def _first_word(stem: str) -> str:
    return next((w for w in _words(stem) if w not in _GENERIC and not w.isdigit()), "")


def _spearman(X: np.ndarray) -> np.ndarray:
    """Spearman correlations of the columns of ``X``, pairwise-complete; 0 where undefined."""
    R = pd.DataFrame(X).rank().to_numpy(dtype=np.float64)
    present = ~np.isnan(R)
    M = present.astype(np.float64)
    counts = M.sum(axis=0)
    means = np.divide(np.nansum(R, axis=0), counts, out=np.zeros_like(counts), where=counts > 0)
    Z = np.where(present, R - means, 0.0)
    n = M.T @ M
    sx = Z.T @ M  # sx[i, j]: sum of column i's ranks over rows where i and j are present
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = Z.T @ Z - sx * sx.T / n
        var = (Z * Z).T @ M - sx**2 / n
        corr = cov / np.sqrt(var * var.T)
    ok = (n >= 3) & (var > 1e-9) & (var.T > 1e-9)
    corr = np.clip(np.where(ok, corr, 0.0), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def _clusters(corr: np.ndarray, threshold: float) -> np.ndarray:
    if len(corr) < 2:
        return np.ones(len(corr), dtype=int)
    D = 1.0 - np.abs((corr + corr.T) / 2)
    np.fill_diagonal(D, 0.0)
    Z = linkage(squareform(np.clip(D, 0.0, 1.0), checks=False), method="average")
    return fcluster(Z, t=1.0 - threshold, criterion="distance")
