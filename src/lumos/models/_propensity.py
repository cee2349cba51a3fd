"""Account propensity: a gradient-boosted model of the change in contracted quantity.

Trained on renewal-window labels (:func:`lumos.features.renewal_labels`),
validated on later cutoffs than it was trained on — never a random split,
because rows of one account at neighbouring cutoffs share most of their
features and label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from lumos._checks import check_fitted, check_number
from lumos.errors import DataValidationError, LumosUserError

CLASSES = np.array(["churn", "flat", "upsell"], dtype=object)


def classify_change(change, tolerance: float) -> np.ndarray:
    """``upsell``, ``flat`` or ``churn`` of each predicted change: flat within ±tolerance.

    >>> classify_change([2.0, 0.3, -1.0], 0.5).tolist()
    ['upsell', 'flat', 'churn']
    """
    change = np.asarray(change)
    return CLASSES[np.where(change > tolerance, 2, np.where(change < -tolerance, 0, 1))]


class PropensityModel:
    """XGBoost regression of the quantity an account (or product) will add or drop.

    Parameters
    ----------
    n_estimators : int, default=400
        Most boosting rounds; early stopping on the later cutoffs picks fewer.
    max_depth : int, default=5
    learning_rate : float, default=0.05
    subsample : float, default=0.8
    colsample_bytree : float, default=0.8
    validation_cutoffs : int, default=3
        The latest this many distinct cutoffs are held out for validation and
        early stopping; training uses only earlier cutoffs.
    early_stopping_rounds : int, default=30
    tolerance : float, default=0.0
        Predicted changes within ±tolerance are ``flat``.
    objective : str, default="reg:squarederror"
        XGBoost's objective: a regression of the change, or ``binary:logistic``
        to model the probability of a 0/1 label (``predict`` then returns it).
    random_state : int, default=0
    n_jobs : int, optional
        Threads for XGBoost (all cores by default).

    Attributes
    ----------
    booster_ : xgboost.Booster
    feature_names_in_ : ndarray of str
    best_iteration_ : int
    train_cutoffs_, validation_cutoffs_ : ndarray of datetime64
    validation_ : dict
        ``rows``, ``mae`` and the predictions on the validation rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"usage": rng.normal(size=400), "noise": rng.normal(size=400)})
    >>> y = 3 * X["usage"] + rng.normal(0, 0.1, 400)
    >>> cutoff = np.repeat(pd.date_range("2025-01-01", periods=8, freq="MS"), 50)
    >>> model = PropensityModel(n_estimators=50).fit(X, y, cutoff=cutoff)
    >>> model.validation_cutoffs_.astype(str).tolist()
    ['2025-06-01', '2025-07-01', '2025-08-01']
    >>> bool((model.predict_class(X) == np.where(y > 0, "upsell", "churn")).mean() > 0.9)
    True
    """

    def __init__(
        self,
        *,
        n_estimators: int = 400,
        max_depth: int = 5,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        validation_cutoffs: int = 3,
        early_stopping_rounds: int = 30,
        tolerance: float = 0.0,
        objective: str = "reg:squarederror",
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.validation_cutoffs = validation_cutoffs
        self.early_stopping_rounds = early_stopping_rounds
        self.tolerance = tolerance
        self.objective = objective
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        ints = ("n_estimators", "max_depth", "validation_cutoffs", "early_stopping_rounds")
        for name in ints:
            low = 0 if name == "validation_cutoffs" else 1
            check_number("PropensityModel", name, getattr(self, name), low=low, integer=True)
        for name in ("learning_rate", "subsample", "colsample_bytree"):
            check_number("PropensityModel", name, getattr(self, name), strict=True, high=1)
        if not isinstance(self.objective, str) or not self.objective.startswith(
            ("reg:", "binary:", "count:")
        ):
            raise LumosUserError(
                "The 'objective' parameter of PropensityModel must be an XGBoost regression, "
                f"binary or count objective such as 'binary:logistic'. Got {self.objective!r}.",
                code="bad_argument",
            )
        check_number("PropensityModel", "tolerance", self.tolerance)

    def fit(self, X: pd.DataFrame, y, *, cutoff, sample_weight=None) -> PropensityModel:
        """Fit on rows of earlier cutoffs; stop early on the latest ``validation_cutoffs``."""
        self._check_params()
        X = _features(X)
        y = np.asarray(y, dtype=np.float64)
        cutoff = np.asarray(pd.to_datetime(np.asarray(cutoff)), dtype="datetime64[D]")
        if not (len(y) == len(cutoff) == len(X)):
            raise LumosUserError(
                f"X has {len(X)} rows, y {len(y)} and cutoff {len(cutoff)}; pass one per row.",
                code="bad_argument",
            )
        if np.isnan(y).any():
            i = int(np.isnan(y).argmax())
            raise DataValidationError(
                f"y row {i} is NaN; drop rows whose label is not known.", code="bad_value", row=i
            )
        distinct = np.unique(cutoff)
        if len(distinct) <= self.validation_cutoffs:
            raise DataValidationError(
                f"The rows span {len(distinct)} cutoff(s); a time-based split needs more than "
                f"validation_cutoffs={self.validation_cutoffs}. Add earlier cutoffs or lower it.",
                code="too_few_cutoffs",
            )
        split = (
            distinct[len(distinct) - self.validation_cutoffs] if self.validation_cutoffs else None
        )
        train = cutoff < split if split is not None else np.ones(len(y), dtype=bool)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        params = {
            "objective": self.objective,
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "tree_method": "hist",
            "seed": self.random_state,
        }
        if self.n_jobs is not None:
            params["nthread"] = self.n_jobs
        names = list(X.columns)
        dtrain = xgb.DMatrix(
            X[train],
            label=y[train],
            feature_names=names,
            weight=None if weight is None else weight[train],
        )
        evals, stop = [], None
        if split is not None:
            dvalid = xgb.DMatrix(X[~train], label=y[~train], feature_names=names)
            evals, stop = [(dvalid, "validation")], self.early_stopping_rounds
        self.booster_ = xgb.train(
            params,
            dtrain,
            num_boost_round=self.n_estimators,
            evals=evals,
            early_stopping_rounds=stop,
            verbose_eval=False,
        )
        self.best_iteration_ = int(getattr(self.booster_, "best_iteration", self.n_estimators - 1))
        if stop is not None:  # keep only the rounds early stopping chose
            self.booster_ = self.booster_[: self.best_iteration_ + 1]
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.train_cutoffs_ = np.unique(cutoff[train])
        self.validation_cutoffs_ = np.unique(cutoff[~train])
        if split is not None:
            pred = self.predict(X[~train])
            self.validation_ = {
                "rows": int((~train).sum()),
                "mae": float(np.mean(np.abs(pred - y[~train]))),
                "index": X.index[~train],
                "prediction": pred,
            }
        else:
            self.validation_ = {"rows": 0}
        return self

    def _check_fitted(self) -> None:
        check_fitted(self, "booster_")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The predicted change per row (a probability for a ``binary:`` objective)."""
        self._check_fitted()
        X = _features(X, list(self.feature_names_in_))
        return self.booster_.inplace_predict(X.to_numpy(np.float64, na_value=np.nan))

    def predict_class(self, X: pd.DataFrame) -> np.ndarray:
        """``upsell``, ``flat`` or ``churn`` per row, by the predicted change and ``tolerance``."""
        if not self.objective.startswith("reg:"):
            raise LumosUserError(
                f"predict_class reads a predicted change; this model's objective is "
                f"{self.objective!r}. Threshold predict() instead.",
                code="bad_method",
            )
        return classify_change(self.predict(X), self.tolerance)


def _features(X, names: list[str] | None = None) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise LumosUserError(
            "X must be a pandas DataFrame of numeric features.", code="bad_argument"
        )
    if names is not None:
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise DataValidationError(
                f"X is missing feature column(s) the model was fitted on: "
                f"{', '.join(map(repr, missing[:5]))}; compute the same features.",
                code="missing_column",
                column=missing[0],
            )
        X = X[names]
    bad = [
        c
        for c in X.columns
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    ]
    if bad:
        raise DataValidationError(
            f"feature column {bad[0]!r} is not numeric (dtype {X[bad[0]].dtype}); encode it first.",
            code="non_numeric_column",
            column=bad[0],
        )
    return X
