"""The slice finder: conjunctions of conditions where a model does significantly worse.

A *slice* is a conjunction of up to ``max_order`` conditions, one per feature
— a category, a missing value, or a quantile bin of a number ("tenure in
[0, 3)"). Its *effect* is how much worse the per-row metric is inside it than
outside: ``mean(loss | slice) − mean(loss | rest)``, with a Welch interval
and p-value, Bonferroni-corrected for every slice of the lattice.

The search is SliceLine's (Sagadeeva and Boehm, SIGMOD 2021), level by level:

* every slice of one feature set is counted at once — one ``bincount`` of
  the set's combined codes gives each cell's size, loss sum and sum of
  squares — so a level is a handful of vectorized passes over the rows;
* a slice is a candidate only if every one of its parents (drop one
  condition) has the minimum support (the apriori rule), and
* only if its parents' upper bound on any descendant's effect —
  ``min(max loss, loss sum / min support)`` against the smallest rest mean
  it can leave — can still beat the ``top_k``-th effect found so far;

so the result is exactly that of scoring every slice of the lattice, which a
test checks against an exhaustive ``groupby`` enumeration.

``score="sliceline"`` ranks by SliceLine's own score instead, as the
``sliceline`` package's ``Slicefinder`` does: with ``ē`` the mean loss, a
slice of ``s`` rows and loss sum ``e`` scores
``α·((e/s)/ē − 1) − (1 − α)·(n/s − 1)``, only slices scoring above 0 count,
and a slice's descendants are bounded by that score's largest value over
sizes from the minimum support to the slice's own (a descendant's loss sum
being at most ``min(size · max loss, e)``), the bound SliceLine prunes by.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from lumos._checks import check_number, require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate._slice_search import _Search

#: The columns of :attr:`Slices.table`, one row per slice found.
COLUMNS = (
    "slice",
    "order",
    "size",
    "share",
    "metric_slice",
    "metric_rest",
    "effect",
    "low",
    "high",
    "p_value",
    "p_adjusted",
    "significant",
)
METRICS = ("log_loss", "error_rate", "squared_error", "calibration_gap", "auc")
#: How :func:`find_slices` ranks slices.
SCORES = ("effect", "sliceline")
_NAMES = {
    "log_loss": "Log loss",
    "error_rate": "Error rate",
    "squared_error": "Squared error",
    "calibration_gap": "Under-prediction (label − score)",
    "auc": "AUC's shortfall",
}


@dataclass
class Slices:
    """What :func:`find_slices` found: one row per slice, best first, and how it searched."""

    table: pd.DataFrame
    metric: str
    overall: float
    n_rows: int
    lattice_size: int
    evaluated: int
    conditions: dict = field(repr=False, default_factory=dict)
    score: str = "effect"

    def sentences(self) -> list[str]:
        """One sentence per slice a reader can check, e.g. "Log loss is 0.21 higher (±0.04) …"."""
        name = _NAMES.get(self.metric, self.metric)
        out = []
        for row in self.table.itertuples():
            half = (row.high - row.low) / 2
            out.append(
                f"{name} is {row.effect:.3g} higher (±{half:.2g}) for rows where {row.slice}; "
                f"{row.share:.1%} of rows (p = {row.p_adjusted:.2g} after {self.lattice_size:,} "
                "slices)."
            )
        return out


def row_losses(metric, y_true, y_score) -> np.ndarray:
    """Per-row losses whose slice mean is the metric: log loss, 0/1 error, squared error, gap."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_score, dtype=float)
    if callable(metric):
        losses = np.asarray(metric(y, p), dtype=float)
        if losses.shape != y.shape:
            raise LumosUserError(
                f"a metric function must return one loss per row ({y.shape}); got {losses.shape}.",
                code="bad_argument",
            )
        return losses
    if metric == "log_loss":
        q = np.clip(p, 1e-15, 1 - 1e-15)
        return -(y * np.log(q) + (1 - y) * np.log1p(-q))
    if metric == "error_rate":
        return ((p >= 0.5) != (y >= 0.5)).astype(float)
    if metric == "squared_error":
        return (y - p) ** 2
    if metric == "calibration_gap":
        return y - p
    raise LumosUserError(
        f"metric must be one of {', '.join(METRICS)} or a function (y_true, y_score) → per-row "
        f"losses; got {metric!r}.",
        code="bad_argument",
    )


def encode(data: pd.DataFrame, features, bins: int = 4) -> tuple[np.ndarray, list[list[str]]]:
    """``(n, F)`` small-integer codes and each feature's condition texts.

    Numbers with more than ``bins`` distinct values are cut at their quantiles;
    other columns are categories. A missing value is a category of its own.
    """
    codes = np.empty((len(data), len(features)), dtype=np.int32)
    labels: list[list[str]] = []
    for j, name in enumerate(features):
        column = data[name]
        missing = column.isna().to_numpy()
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        # a prefix with more than ``bins`` distinct values settles it without hashing every row
        if numeric and (column.iloc[:4096].nunique() > bins or column.nunique() > bins):
            values = column.to_numpy(dtype=float)
            edges = np.unique(np.nanquantile(values[~missing], np.linspace(0, 1, bins + 1)))
            inner = edges[1:-1]
            code = np.searchsorted(inner, values, side="right")
            texts = []
            for k in range(len(inner) + 1):
                lo = f"{edges[k]:.4g}"
                hi = f"{edges[k + 1]:.4g}"
                bracket = "]" if k == len(inner) else ")"
                texts.append(f"{name} in [{lo}, {hi}{bracket}")
        else:
            code, cats = pd.factorize(column, sort=True)  # hashing: no Python strings made
            code = np.maximum(code, 0)  # missing: -1, recoded below
            texts = [f"{name} = {c}" for c in cats]
        if missing.any():
            code = np.where(missing, len(texts), code)
            texts.append(f"{name} is missing")
        codes[:, j] = code
        labels.append(texts)
    return codes, labels


def find_slices(
    data: pd.DataFrame,
    y_true,
    y_score,
    features=None,
    *,
    metric: str | Callable = "log_loss",
    max_order: int = 3,
    min_support: float = 0.01,
    alpha: float = 0.05,
    bins: int = 4,
    top_k: int = 10,
    score: str = "effect",
    sliceline_alpha: float = 0.6,
) -> Slices:
    """The ``top_k`` slices where ``metric`` is worst against the rest, with significance.

    Parameters
    ----------
    data : DataFrame
        One row per prediction, holding ``features`` (and the label and
        score columns when those are given by name).
    y_true, y_score : str or array-like
        Labels and predicted probabilities (or values, for ``squared_error``
        and functions), as column names of ``data`` or arrays.
    features : list of str, optional
        Columns to slice by (default: every column but the label and score).
    metric : str or callable
        ``log_loss``, ``error_rate`` (threshold 0.5), ``squared_error``,
        ``calibration_gap`` (label − score: under-prediction), ``auc`` (the
        effect is the rest's AUC minus the slice's; every supported slice is
        scored, as AUC has no bound to prune by), or a function
        ``(y_true, y_score) -> per-row losses``.
    max_order : int, default=3
        The most conditions in a slice.
    min_support : float, default=0.01
        The smallest slice, as a share of the rows (or a count when ≥ 1).
    alpha : float, default=0.05
        Significance level, after Bonferroni correction over the lattice.
    bins : int, default=4
        Quantile bins of a numeric feature.
    top_k : int, default=10
        How many slices to return, best ``score`` first.
    score : {"effect", "sliceline"}, default="effect"
        How slices are ranked. ``effect``: the slice's mean loss minus the
        rest's. ``sliceline``: SliceLine's score (the ``sliceline`` package's
        ``Slicefinder``), ``α·((e/s)/ē − 1) − (1 − α)·(n/s − 1)`` for a slice of
        ``s`` rows with loss sum ``e`` (``ē``: the mean loss), which weighs a
        slice's size against its error; only slices scoring above 0 are
        returned, so there may be fewer than ``top_k``. It needs non-negative
        losses, so not ``calibration_gap`` or ``auc``. Equal scores are ordered
        as ``Slicefinder`` orders them; ``top_k`` is kept even when the next
        slice ties (``Slicefinder`` returns every tie).
    sliceline_alpha : float, default=0.6
        SliceLine's α, in (0, 1]: the weight of the error term against the
        size term (``Slicefinder``'s ``alpha``, with its default). Used only
        with ``score="sliceline"``.

    Returns
    -------
    Slices
        ``table``: ``slice``, ``order``, ``size``, ``share``, ``metric_slice``,
        ``metric_rest``, ``effect``, ``low``, ``high``, ``p_value``,
        ``p_adjusted``, ``significant``, and with ``score="sliceline"`` also
        ``score``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"region": rng.choice(["NA", "EU"], 4000),
    ...                    "plan": rng.choice(["free", "pro"], 4000)})
    >>> y = rng.random(4000) < 0.3
    >>> score = np.where((df.region == "EU") & (df.plan == "free"), 0.7, 0.3)  # wrong there
    >>> found = find_slices(df, y, score, top_k=1)
    >>> found.table["slice"].iloc[0], bool(found.table["significant"].iloc[0])
    ('region = EU and plan = free', True)
    """
    if not isinstance(data, pd.DataFrame):
        raise LumosUserError("data must be a pandas DataFrame.", code="bad_argument")
    y, p, label_columns = _column(data, y_true, "y_true"), _column(data, y_score, "y_score"), []
    label_columns = [c for c in (y_true, y_score) if isinstance(c, str)]
    if features is None:
        features = [c for c in data.columns if c not in label_columns]
    features = list(features)
    require_columns(data, features, source="data", hint="name features to slice by among them.")
    if not features:
        raise LumosUserError("give at least one feature to slice by.", code="bad_argument")
    for name, value, low in (("max_order", max_order, 1), ("top_k", top_k, 1), ("bins", bins, 2)):
        check_number("find_slices", name, value, low=low, integer=True)
    check_number("find_slices", "alpha", alpha, strict=True, high=1, high_strict=True)
    if score not in SCORES:
        raise LumosUserError(
            f"score must be 'effect' (the slice's mean loss minus the rest's) or 'sliceline' "
            f"(SliceLine's error and size score); got {score!r}.",
            code="bad_argument",
        )
    check_number("find_slices", "sliceline_alpha", sliceline_alpha, strict=True, high=1)
    if score == "sliceline" and metric in ("auc", "calibration_gap"):
        raise LumosUserError(
            f"score='sliceline' needs non-negative per-row losses and metric {metric!r} has "
            "none; use log_loss, error_rate, squared_error or your own loss, or score='effect'.",
            code="bad_argument",
        )
    n = len(data)
    min_size = math.ceil(min_support * n) if min_support < 1 else int(min_support)
    if min_size < 2 or min_size > n:
        raise LumosUserError(
            f"min_support must leave slices of 2 to {n} rows; got {min_support!r} "
            f"({min_size} rows).",
            code="bad_argument",
        )
    if metric == "auc":  # its own module, which reads this one's Slices and encode
        from lumos.evaluate._auc_slices import _auc_slices

        return _auc_slices(
            data, y, p, features, bins, min_size, min(max_order, len(features)), top_k, alpha
        )
    losses = row_losses(metric, y, p)
    bad = ~np.isfinite(losses)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"row {row}: label {float(y[row])} and score {float(p[row])} give no finite {metric} "
            "loss; "
            "drop or fill missing labels and scores.",
            code="bad_value",
            row=row,
        )
    if score == "sliceline" and (losses < 0).any():
        row = int(np.flatnonzero(losses < 0)[0])
        raise LumosUserError(
            f"score='sliceline' needs non-negative per-row losses; the metric gave "
            f"{float(losses[row]):.4g} at row {row}. Return losses >= 0, or use score='effect'.",
            code="bad_argument",
        )
    codes, labels = encode(data, features, bins)
    order = min(max_order, len(features))
    weight = sliceline_alpha if score == "sliceline" else None
    search = _Search(codes, [len(t) for t in labels], losses, min_size, order, top_k, weight)
    del codes  # the search keeps one contiguous column per feature
    found = search.run()
    lattice = search.lattice_size
    rows = []
    total, total_sq = losses.sum(), (losses**2).sum()
    for (fs, cell), (size, s1, s2), value in found:
        rest = n - size
        mean_in, mean_out = s1 / size, (total - s1) / rest
        var_in = max(s2 / size - mean_in**2, 0.0) * size / max(size - 1, 1)
        var_out = max((total_sq - s2) / rest - mean_out**2, 0.0) * rest / max(rest - 1, 1)
        se = math.sqrt(var_in / size + var_out / rest) or 1e-300
        df = (var_in / size + var_out / rest) ** 2 / max(
            (var_in / size) ** 2 / max(size - 1, 1) + (var_out / rest) ** 2 / max(rest - 1, 1),
            1e-300,
        )
        effect = mean_in - mean_out
        p_value = float(stats.t.sf(effect / se, df))  # one-sided: worse inside
        p_adjusted = min(1.0, p_value * lattice)
        crit = stats.t.ppf(1 - alpha / 2, df)
        text = " and ".join(labels[f][c] for f, c in zip(fs, cell, strict=True))
        rows.append(
            (
                text,
                len(fs),
                size,
                size / n,
                mean_in,
                mean_out,
                effect,
                effect - crit * se,
                effect + crit * se,
                p_value,
                p_adjusted,
                p_adjusted < alpha,
                value,
            )
        )
    table = pd.DataFrame(rows, columns=[*COLUMNS, "score"])
    if score == "effect":  # the score is the effect
        table = table.drop(columns="score")
    name = metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")
    return Slices(table, name, float(losses.mean()), n, lattice, search.evaluated, score=score)


def _column(data: pd.DataFrame, value, what: str) -> np.ndarray:
    if isinstance(value, str):
        require_columns(data, [value], source=f"{what}: data")
        value = data[value]
    out = np.asarray(value, dtype=float)
    if out.shape != (len(data),):
        raise LumosUserError(
            f"{what} must have one value per row of data ({len(data)}); got shape {out.shape}.",
            code="bad_shape",
        )
    return out
