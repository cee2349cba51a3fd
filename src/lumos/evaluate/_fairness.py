"""Fairness gaps: how a model serves each group of members, and the largest gaps between groups.

For every group attribute (gender, age band, occupation, …) and each of its
groups: the selection rate (score ≥ threshold), true- and false-positive
rates, precision, calibration (mean score − mean label) and AUC. For each
metric the gap is the best group's value minus the worst's (groups of at
least ``min_rows`` rows), with a bootstrap interval: Poisson-weighted
resamples of the rows, the same two groups compared in each. The slice
finder then runs inside each group, to say where within it the model fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lumos._checks import renamed, require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate._slices import Slices, _column, find_slices

RATES = ("selection_rate", "tpr", "fpr", "precision", "calibration")
_READABLE = {
    "selection_rate": "selection rate",
    "tpr": "true-positive rate",
    "fpr": "false-positive rate",
    "precision": "precision",
    "calibration": "calibration (mean score − mean label)",
    "auc": "AUC",
}


@dataclass
class FairnessReport:
    """Per-group metrics, the largest gaps with intervals, and the slices inside each group."""

    metrics: pd.DataFrame
    gaps: pd.DataFrame
    slices: dict = field(default_factory=dict)

    def sentences(self) -> list[str]:
        out = []
        for g in self.gaps.itertuples():
            out.append(
                f"The {_READABLE.get(g.metric, g.metric)} of {g.attribute} = {g.high_group} is "
                f"{g.gap:.3g} above {g.attribute} = {g.low_group} "
                f"(95% interval {g.low:.3g} to {g.high:.3g})."
            )
        return out


def _group_rates(
    group: np.ndarray, k: int, y: np.ndarray, pred: np.ndarray, p: np.ndarray, w: np.ndarray
) -> dict:
    """Each rate per group code (``k`` groups) with row weights ``w`` (1s, or a resample's)."""

    def s(values):
        return np.bincount(group, weights=w * values, minlength=k)

    n, pos, sel = s(np.ones_like(y)), s(y), s(pred)
    tp, fp = s(pred * y), s(pred * (1 - y))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "selection_rate": sel / n,
            "tpr": tp / pos,
            "fpr": fp / (n - pos),
            "precision": tp / sel,
            "calibration": (s(p) - pos) / n,
        }


def fairness_report(
    data: pd.DataFrame,
    y_true,
    y_score,
    groups,
    *,
    threshold: float = 0.5,
    min_rows: int = 30,
    n_bootstrap: int = 500,
    alpha: float = 0.05,
    slice_features=None,
    slice_support: float = 0.05,
    random_state: int = 0,
    seed: int | None = None,
) -> FairnessReport:
    """Metrics per group, the largest gap of each metric per attribute, and slices per group.

    ``random_state`` seeds the bootstrap of the gaps' intervals (``seed`` is its
    older name).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"gender": rng.choice(["F", "M"], 4000)})
    >>> y = (rng.random(4000) < 0.4).astype(float)
    >>> score = np.where(df.gender == "M", 0.6, 0.4) + 0.1 * y  # M always selected
    >>> report = fairness_report(df, y, score, ["gender"], n_bootstrap=100, slice_features=[])
    >>> row = report.gaps.set_index("metric").loc["selection_rate"]
    >>> row["high_group"], bool(row["low"] > 0)
    ('M', True)
    """
    random_state = renamed(
        random_state, seed, old="seed", new="random_state", owner="fairness_report"
    )
    if not isinstance(data, pd.DataFrame):
        raise LumosUserError("data must be a pandas DataFrame.", code="bad_argument")
    y, p = _column(data, y_true, "y_true"), _column(data, y_score, "y_score")
    if isinstance(groups, str):
        groups = [groups]
    groups = list(groups)
    if not groups:
        raise LumosUserError("give at least one group attribute.", code="bad_argument")
    require_columns(data, groups, source="data", hint="name group columns among them.")
    ok = np.isfinite(y) & np.isfinite(p)
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise DataValidationError(
            f"row {row}: label {float(y[row])} and score {float(p[row])} must be numbers; drop or "
            "fill missing ones.",
            code="bad_value",
            row=row,
        )
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise DataValidationError(
            "y_true must hold 0/1 labels for fairness metrics.", code="bad_value"
        )
    from sklearn.metrics import roc_auc_score

    pred = (p >= threshold).astype(float)
    label_columns = [c for c in (y_true, y_score) if isinstance(c, str)]
    if slice_features is None:
        slice_features = [c for c in data.columns if c not in label_columns]
    metric_rows, gap_rows, slices = [], [], {}
    ones = np.ones(len(y))
    for attribute in groups:
        values = data[attribute].astype("object")
        codes, names = pd.factorize(values.where(values.notna(), "(missing)"), sort=True)
        k = len(names)
        rates = _group_rates(codes, k, y, pred, p, ones)
        counts = np.bincount(codes, minlength=k)
        for j, name in enumerate(names):
            inside = codes == j
            both = 0 < y[inside].sum() < inside.sum()
            auc = float(roc_auc_score(y[inside], p[inside])) if both else np.nan
            metric_rows.append(
                {
                    "attribute": attribute,
                    "group": name,
                    "rows": int(counts[j]),
                    **{m: float(rates[m][j]) for m in RATES},
                    "auc": auc,
                }
            )
        big = counts >= min_rows
        if big.sum() < 2:
            continue
        resampled = [  # Poisson(1) row weights, one generator per resample: no n × B matrix
            _group_rates(
                codes,
                k,
                y,
                pred,
                p,
                np.random.default_rng([random_state, b]).poisson(1.0, len(y)).astype(float),
            )
            for b in range(n_bootstrap)
        ]
        for metric in RATES:
            values = np.where(big, rates[metric], np.nan)
            if np.isnan(values).all():
                continue
            hi, lo = int(np.nanargmax(values)), int(np.nanargmin(values))
            gap = values[hi] - values[lo]
            boot = np.array([r[metric][hi] - r[metric][lo] for r in resampled])
            boot = boot[np.isfinite(boot)]
            low, high = (
                np.quantile(boot, [alpha / 2, 1 - alpha / 2]) if len(boot) else (np.nan, np.nan)
            )
            gap_rows.append(
                {
                    "attribute": attribute,
                    "metric": metric,
                    "high_group": names[hi],
                    "low_group": names[lo],
                    "gap": float(gap),
                    "low": float(low),
                    "high": float(high),
                }
            )
        features = [f for f in slice_features if f != attribute]
        for j, name in enumerate(names):
            inside = codes == j
            if features and counts[j] >= max(min_rows, 20):
                try:
                    found = find_slices(
                        data.loc[inside].reset_index(drop=True),
                        y[inside],
                        p[inside],
                        features,
                        max_order=2,
                        min_support=slice_support,
                        top_k=3,
                    )
                except LumosUserError:
                    continue  # too small a group to slice
                slices[(attribute, name)] = found
    gaps = pd.DataFrame(
        gap_rows, columns=["attribute", "metric", "high_group", "low_group", "gap", "low", "high"]
    )
    gaps = gaps.sort_values("gap", ascending=False, kind="stable").reset_index(drop=True)
    return FairnessReport(pd.DataFrame(metric_rows), gaps, slices)


__all__ = ["FairnessReport", "Slices", "fairness_report"]
