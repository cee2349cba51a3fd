"""How well predicted quantity changes sort and size upsell and churn."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from lumos.errors import LumosUserError


def propensity_report(
    change_true, change_pred, *, tolerance: float = 0.0, groups=None
) -> pd.DataFrame:
    """Precision, recall, ROC-AUC, PR-AUC and calibration for upsell and churn.

    A row is an upsell if its change is above ``tolerance`` and a churn if it is
    below ``-tolerance``; predictions are classed the same way. ROC-AUC and
    PR-AUC rank rows by the predicted change (upsell) or its negative (churn).
    Calibration compares the mean predicted and actual change, and reports
    the slope of actual on predicted (1 is calibrated).

    Parameters
    ----------
    change_true, change_pred : array-like of shape (n,)
    tolerance : float, default=0.0
    groups : array-like of shape (n,), optional
        A group per row (e.g. the product); the report then has a row for all
        rows and one per group.

    Returns
    -------
    DataFrame
        One row per group (``all`` first) and one column per figure:
        ``rows``, ``mae``, ``mean_true``, ``mean_pred``, ``calibration_slope``,
        and for each class ``{class}_rate``, ``{class}_precision``,
        ``{class}_recall``, ``{class}_roc_auc``, ``{class}_pr_auc``.

    Examples
    --------
    >>> report = propensity_report([2, -1, 0, 3], [1.5, -0.5, 0.2, 2.0])
    >>> report.loc["all", ["upsell_precision", "upsell_recall", "churn_roc_auc"]].tolist()
    [0.6666666666666666, 1.0, 1.0]
    """
    y, p, parts = paired(change_true, change_pred, groups, ("change_true", "change_pred"))
    if np.isnan(y).any() or np.isnan(p).any():
        raise LumosUserError("change_true and change_pred must not hold NaN.", code="bad_argument")
    parts = {"all": np.ones(len(y), dtype=bool), **parts}
    return pd.DataFrame({name: _figures(y[m], p[m], tolerance) for name, m in parts.items()}).T


def paired(truth, predicted, groups, names) -> tuple[np.ndarray, np.ndarray, dict]:
    """Two float vectors of one length, and each group's rows (``{}`` without groups)."""
    y = np.asarray(truth, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise LumosUserError(
            f"{names[0]} {y.shape} and {names[1]} {p.shape} must be vectors of one length.",
            code="bad_argument",
        )
    if groups is None:
        return y, p, {}
    g = np.asarray(groups, dtype=object)
    if len(g) != len(y):
        raise LumosUserError(f"groups has {len(g)} rows, not {len(y)}.", code="bad_argument")
    return y, p, {str(k): g == k for k in pd.unique(g)}


def _figures(y: np.ndarray, p: np.ndarray, tol: float) -> dict:
    out = {
        "rows": len(y),
        "mae": float(np.mean(np.abs(y - p))) if len(y) else np.nan,
        "mean_true": float(np.mean(y)) if len(y) else np.nan,
        "mean_pred": float(np.mean(p)) if len(y) else np.nan,
    }
    out["calibration_slope"] = (
        float(np.polyfit(p, y, 1)[0]) if len(y) > 1 and p.std() > 0 else np.nan
    )
    for name, truth, pred, score in (
        ("upsell", y > tol, p > tol, p),
        ("churn", y < -tol, p < -tol, -p),
    ):
        hits = float((truth & pred).sum())
        out[f"{name}_rate"] = float(truth.mean()) if len(y) else np.nan
        out[f"{name}_precision"] = hits / pred.sum() if pred.any() else np.nan
        out[f"{name}_recall"] = hits / truth.sum() if truth.any() else np.nan
        both = 0 < truth.sum() < len(truth)
        out[f"{name}_roc_auc"] = float(roc_auc_score(truth, score)) if both else np.nan
        out[f"{name}_pr_auc"] = float(average_precision_score(truth, score)) if both else np.nan
    return out
