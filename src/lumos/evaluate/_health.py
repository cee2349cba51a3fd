"""A model's health on held-out predictions: metrics, calibration, slices and fairness gaps.

:func:`model_health` reads one table of predictions — a 0/1 label, a
predicted probability, and the columns to slice and group by — for one or
several models side by side (a ``model`` column), and gathers what a modeler
looks at before trusting a model: ROC-AUC, PR-AUC, log loss, Brier score and
calibration per model (:func:`binary_report`), the slices where it does worse
than on the rest (:func:`~lumos.evaluate.find_slices`), and the gaps between
groups of members (:func:`~lumos.evaluate.fairness_report`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from lumos._checks import renamed, require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate._fairness import FairnessReport, fairness_report
from lumos.evaluate._propensity import paired
from lumos.evaluate._slices import Slices, find_slices


def binary_report(y_true, y_score, *, groups=None) -> pd.DataFrame:
    """Rows, base rate, mean score, ROC-AUC, PR-AUC, log loss and Brier score of predictions.

    Parameters
    ----------
    y_true : array-like of 0/1
    y_score : array-like of probabilities in [0, 1]
    groups : array-like, optional
        A group per row (e.g. the model): a row for all rows and one per group.

    Examples
    --------
    >>> report = binary_report([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> report.loc["all", ["rows", "roc_auc", "mean_score"]].tolist()
    [4.0, 0.75, 0.4125]
    """
    y, p, parts = paired(y_true, y_score, groups, ("y_true", "y_score"))
    parts = parts or {"all": np.ones(len(y), dtype=bool)}
    return pd.DataFrame({name: _figures(y[m], p[m]) for name, m in parts.items()}).T


def _figures(y: np.ndarray, p: np.ndarray) -> dict:
    both = 0 < y.sum() < len(y)
    eps = np.finfo(np.float64).eps  # as scikit-learn's log_loss clips
    q = np.clip(p, eps, 1 - eps)
    return {
        "rows": float(len(y)),
        "base_rate": float(y.mean()) if len(y) else np.nan,
        "mean_score": float(p.mean()) if len(y) else np.nan,
        "roc_auc": float(roc_auc_score(y, p)) if both else np.nan,
        "pr_auc": float(average_precision_score(y, p)) if both else np.nan,
        "log_loss": float(-(y * np.log(q) + (1 - y) * np.log1p(-q)).mean()) if len(y) else np.nan,
        "brier": float(((p - y) ** 2).mean()) if len(y) else np.nan,
    }


def reliability(y_true, y_score, bins: int = 10) -> pd.DataFrame:
    """Calibration by quantile bins of the score: each bin's rows, mean score and observed rate.

    Examples
    --------
    >>> table = reliability([0, 1, 0, 1], [0.2, 0.3, 0.6, 0.9], bins=2)
    >>> table[["rows", "mean_score", "observed"]].values.tolist()
    [[2.0, 0.25, 0.5], [2.0, 0.75, 0.5]]
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_score, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    parts = [part for part in np.array_split(order, min(bins, len(p))) if len(part)]
    return pd.DataFrame(
        {
            "rows": [float(len(part)) for part in parts],
            "mean_score": [float(p[part].mean()) for part in parts],
            "observed": [float(y[part].mean()) for part in parts],
        }
    )


def check_predictions(data, label, score, groups=(), *, source: str = "predictions"):
    """The labels and scores of a predictions table, or an error naming the column and row.

    Labels must be 0 or 1 and scores probabilities in [0, 1]; ``groups`` must be columns.
    """
    if not isinstance(data, pd.DataFrame):
        raise LumosUserError("data must be a pandas DataFrame.", code="bad_argument")
    groups = [groups] if isinstance(groups, str) else list(groups)
    require_columns(
        data,
        (label, score, *groups),
        source=source,
        hint="name the label, score and group columns it has.",
        file=source,
    )
    if data.empty:
        raise DataValidationError(f"{source} has no rows.", code="empty", file=source)
    y = pd.to_numeric(data[label], errors="coerce").to_numpy(dtype=float)
    p = pd.to_numeric(data[score], errors="coerce").to_numpy(dtype=float)
    for name, values, ok in (
        (label, data[label], np.isin(y, (0.0, 1.0))),
        (score, data[score], np.isfinite(p) & (p >= 0) & (p <= 1)),
    ):
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            want = "0 or 1" if name == label else "a probability in [0, 1]"
            got = values.iloc[row]
            got = got.item() if hasattr(got, "item") else got  # NumPy scalars as plain ones
            raise DataValidationError(
                f"{source} row {row}: column {name!r} must be {want}; got {got!r}; fix or drop "
                "the row.",
                code="bad_value",
                file=source,
                row=row,
                column=name,
            )
    return y, p


@dataclass
class ModelHealth:
    """What :func:`model_health` found, per model (in the table's order)."""

    metrics: pd.DataFrame
    calibration: dict[str, pd.DataFrame] = field(default_factory=dict)
    slices: dict[str, Slices] = field(default_factory=dict)
    fairness: dict[str, FairnessReport] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)


def model_health(
    data: pd.DataFrame,
    label: str = "label",
    score: str = "score",
    *,
    groups=(),
    features=None,
    model: str = "model",
    metric: str = "log_loss",
    max_order: int = 2,
    min_support: float = 0.02,
    top_k: int = 8,
    n_bootstrap: int = 200,
    threshold: float | None = None,
    random_state: int = 0,
    source: str = "predictions",
    seed: int | None = None,
) -> ModelHealth:
    """Metrics, calibration, under-performing slices and group gaps of each model's predictions.

    Parameters
    ----------
    data : DataFrame
        One row per prediction: ``label`` (0/1), ``score`` (a probability),
        optionally ``model`` (which model made it), and the columns to slice
        and group by.
    groups : list of str
        Columns whose groups' gaps are measured (e.g. ``industry``, ``region``).
    features : list of str, optional
        Columns the slice finder conditions on; default every column but the
        label, score, model and ids (names ending in ``_id``).
    threshold : float, optional
        The score at or above which a row counts as selected, for the
        fairness rates; default the base rate, so a calibrated model selects
        about as many rows as are positive.
    random_state : int, default=0
        Seeds the bootstrap of the fairness gaps (``seed`` is its older name).
    source : str
        How the table is named in errors (a file name).
    """
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="model_health")
    groups = [groups] if isinstance(groups, str) else list(groups)
    y, p = check_predictions(data, label, score, groups, source=source)
    names = data[model].astype(str).to_numpy() if model in data.columns else None
    skip = {label, score, model}
    if features is None:
        features = [c for c in data.columns if c not in skip and not str(c).endswith("_id")]
    features = list(features)
    out = ModelHealth(binary_report(y, p, groups=names), groups=groups, features=features)
    for name in out.metrics.index:
        rows = np.ones(len(y), dtype=bool) if names is None else names == name
        part = data.loc[rows].reset_index(drop=True)
        yy, pp = y[rows], p[rows]
        out.calibration[name] = reliability(yy, pp)
        if features:
            out.slices[name] = find_slices(
                part,
                yy,
                pp,
                features,
                metric=metric,
                max_order=max_order,
                min_support=min_support,
                top_k=top_k,
            )
        if groups:
            cut = float(yy.mean()) if threshold is None else threshold
            out.fairness[name] = fairness_report(
                part,
                yy,
                pp,
                groups,
                threshold=cut,
                n_bootstrap=n_bootstrap,
                slice_features=[],
                random_state=random_state,
            )
    return out


__all__ = ["ModelHealth", "binary_report", "check_predictions", "model_health", "reliability"]
