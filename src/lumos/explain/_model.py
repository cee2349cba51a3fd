"""Model Importer: one standardized model whatever its origin.

``import_model`` accepts an XGBoost or LightGBM booster or scikit-learn
wrapper, their model files, a scikit-learn tree ensemble or linear model (or a
Pipeline ending in one), or a scores-only table. The result knows its feature
names, its task, its link (so margins and probabilities can be told apart) and
how to predict either.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, softmax

from lumos.data import read_table
from lumos.errors import DataValidationError, LumosUserError, NotFittedError

KINDS = ("xgboost", "lightgbm", "sklearn_tree", "linear", "scores")
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib"}


@dataclass
class ImportedModel:
    """A model in Lumos's standard form.

    Attributes
    ----------
    kind : str
        One of ``xgboost``, ``lightgbm``, ``sklearn_tree``, ``linear``, ``scores``.
    feature_names : list of str
        The input columns the model reads, in order.
    task : str
        ``binary``, ``multiclass`` or ``regression``.
    link : str
        How a margin becomes the model's output: ``logit`` (binary), ``softmax``
        (multi-class), ``log`` (count models), ``identity`` (regression, and
        tree ensembles that average probabilities).
    objective : str
        The library's own name for the objective, when it has one.
    n_classes : int
        Number of classes (1 for regression and binary margins).
    estimator : object
        The native model (booster or scikit-learn estimator); ``None`` for scores.
    preprocess : object
        For a Pipeline, the steps before the final estimator; otherwise ``None``.
    scores : pandas.DataFrame
        For a scores-only table: the feature columns and the score column.
    score_output : str
        For a scores-only table: whether its scores are ``margin`` or ``probability``.
    """

    kind: str
    feature_names: list[str]
    task: str
    link: str
    objective: str = ""
    n_classes: int = 1
    estimator: Any = None
    preprocess: Any = None
    scores: pd.DataFrame | None = None
    score_column: str | None = None
    score_output: str = "probability"
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_tree(self) -> bool:
        return self.kind in ("xgboost", "lightgbm", "sklearn_tree")

    def matrix(self, X) -> np.ndarray:
        """The rows of ``X`` as the float matrix the final estimator reads."""
        return self.transform(select_features(X, self.feature_names, where="data"))

    def transform(self, A: np.ndarray) -> np.ndarray:
        """Raw feature rows → the matrix the final estimator reads (Pipelines' steps applied)."""
        if self.preprocess is None:
            return A
        if getattr(self.preprocess, "feature_names_in_", None) is not None:
            A = pd.DataFrame(A, columns=self.feature_names)
        out = self.preprocess.transform(A)
        return np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=np.float64)

    def predict(self, X, output: str = "margin") -> np.ndarray:
        """Predict rows of ``X`` as ``margin`` (raw score) or ``probability``.

        Multi-class models return an ``n × n_classes`` array; others a vector.
        """
        if output not in ("margin", "probability"):
            raise LumosUserError(
                f"output must be 'margin' or 'probability'. Got {output!r}.", code="bad_argument"
            )
        if self.kind == "scores":
            raise LumosUserError(
                "A scores-only model cannot predict new rows; explain it with method='klime', "
                "which needs only the features and the scores.",
                code="scores_only",
            )
        margin = self._margin(self.matrix(X))
        return margin if output == "margin" else self.inverse_link(margin)

    def inverse_link(self, margin: np.ndarray) -> np.ndarray:
        if self.link == "logit":
            return expit(margin)
        if self.link == "softmax":
            return softmax(margin, axis=1)
        if self.link == "log":
            return np.exp(margin)
        return margin

    def _margin(self, M: np.ndarray) -> np.ndarray:
        est = self.estimator
        names = getattr(est, "feature_names_in_", None)
        if names is not None and isinstance(M, np.ndarray) and M.shape[1] == len(names):
            M = pd.DataFrame(M, columns=names)
        if self.kind == "xgboost":
            out = est.inplace_predict(M, predict_type="margin")
        elif self.kind == "lightgbm":
            out = est.predict(M, raw_score=True)
        elif self.kind == "sklearn_tree" and self.link == "identity" and self.task != "regression":
            out = est.predict_proba(M)
            out = out[:, 1] if self.task == "binary" else out
        elif self.task == "regression":
            out = est.predict(M)
        else:
            out = est.decision_function(M)
        out = np.asarray(out, dtype=np.float64)
        if self.task == "multiclass" and out.ndim == 1:
            out = out.reshape(len(M), self.n_classes)
        return out


def select_features(X, feature_names: list[str], *, where: str = "data") -> np.ndarray:
    """Columns ``feature_names`` of ``X`` as a float matrix; a clear error if one is missing."""
    if isinstance(X, pd.DataFrame):
        missing = [f for f in feature_names if f not in X.columns]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise DataValidationError(
                f"{where} is missing column(s) the model needs: {shown}{more}; "
                "add them or check that the data matches the model.",
                code="missing_column",
                column=missing[0],
            )
        frame = X[feature_names]
        bad = [c for c in feature_names if not _is_numeric(frame[c])]
        if bad:
            raise DataValidationError(
                f"{where} column {bad[0]!r} is not numeric (dtype {frame[bad[0]].dtype}); "
                "encode it as numbers before explaining.",
                code="non_numeric_column",
                column=bad[0],
            )
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(feature_names):
        raise DataValidationError(
            f"{where} has shape {arr.shape}; the model needs 2-D rows of "
            f"{len(feature_names)} features. Pass a DataFrame with the model's columns.",
            code="bad_shape",
        )
    return arr


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def import_model(
    obj_or_path,
    *,
    trust: bool = False,
    feature_names: list[str] | None = None,
    score_column: str = "score",
    score_output: str = "probability",
    id_column: str | None = None,
) -> ImportedModel:
    """Import a model (or a scores-only table) into Lumos's standard form.

    Parameters
    ----------
    obj_or_path : object or path-like
        An XGBoost ``Booster`` or sklearn wrapper; a LightGBM ``Booster`` or
        sklearn wrapper; a scikit-learn tree ensemble, linear model or Pipeline
        ending in one; a DataFrame of features plus a score column; or a path to
        an XGBoost ``.json``/``.ubj`` file, a LightGBM model text file
        (``.txt``/``.lgb``), a scores table (``.csv``/``.parquet``), or — only
        with ``trust=True`` — a pickle/joblib file.
    trust : bool, default=False
        Allow loading pickle/joblib files, which can run code when loaded.
    feature_names : list of str, optional
        Names for models trained without them (NumPy input).
    score_column : str, default="score"
        For a scores table: the column holding the model's score.
    score_output : {"probability", "margin"}, default="probability"
        For a scores table: what its scores are.
    id_column : str, optional
        For a scores table: an id column that is not a feature.

    Returns
    -------
    ImportedModel

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> m = import_model(LogisticRegression().fit(X, [0, 1, 1, 0]), feature_names=["a", "b"])
    >>> m.kind, m.task, m.link, m.feature_names
    ('linear', 'binary', 'logit', ['a', 'b'])
    """
    if isinstance(obj_or_path, str | os.PathLike):
        return _import_path(
            Path(obj_or_path),
            trust=trust,
            feature_names=feature_names,
            score_column=score_column,
            score_output=score_output,
            id_column=id_column,
        )
    if isinstance(obj_or_path, pd.DataFrame):
        return _import_scores(obj_or_path, score_column, score_output, id_column, source="table")
    model = _import_object(obj_or_path, feature_names)
    return model


def _import_path(path: Path, *, trust, feature_names, score_column, score_output, id_column):
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataValidationError(
            f"model file {str(path)!r} does not exist; check the path.",
            code="file_not_found",
            file=str(path),
        )
    if suffix in PICKLE_SUFFIXES:
        if not trust:
            raise LumosUserError(
                f"model file {str(path)!r} is a pickle/joblib file, which can run code when "
                "loaded. Pass trust=True (CLI: --trust) only for files you made yourself, or "
                "save the model in its library's own format (.json/.ubj for XGBoost, "
                "model text for LightGBM).",
                code="untrusted_pickle",
            )
        import joblib

        try:
            obj = joblib.load(path)
        except Exception as exc:
            raise _unreadable(path, exc) from exc
        return _import_object(obj, feature_names, source=str(path))
    if suffix in (".csv", ".parquet", ".pq"):
        table = read_table(path, what="scores table")
        return _import_scores(table, score_column, score_output, id_column, source=str(path))
    if suffix in (".json", ".ubj"):
        import xgboost as xgb

        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except Exception as exc:
            raise _unreadable(path, exc) from exc
        return _from_xgboost(booster, feature_names, source=str(path))
    if suffix in (".txt", ".lgb", ".model"):
        try:
            import lightgbm as lgb
        except ImportError as exc:
            raise LumosUserError(
                "Reading a LightGBM model file needs lightgbm: pip install 'lumos[lightgbm]'.",
                code="missing_dependency",
            ) from exc
        try:
            booster = lgb.Booster(model_file=str(path))
        except Exception as exc:
            raise _unreadable(path, exc) from exc
        return _from_lightgbm(booster, feature_names, source=str(path))
    raise DataValidationError(
        f"model file {str(path)!r}: unknown format {suffix!r}. Use an XGBoost .json/.ubj, a "
        "LightGBM model .txt, a scores table (.csv/.parquet), or a pickle with trust=True.",
        code="unknown_format",
        file=str(path),
    )


def _unreadable(path: Path, exc: Exception) -> DataValidationError:
    return DataValidationError(
        f"model file {str(path)!r} could not be read ({type(exc).__name__}: {exc}); "
        "check it is a complete model saved by the library it names.",
        code="unreadable_file",
        file=str(path),
    )


def _import_object(obj, feature_names, source: str = "") -> ImportedModel:
    module = type(obj).__module__
    if module.startswith("xgboost"):
        booster = obj.get_booster() if hasattr(obj, "get_booster") else obj
        return _from_xgboost(booster, feature_names, source=source or type(obj).__name__)
    if module.startswith("lightgbm"):
        booster = obj.booster_ if hasattr(obj, "booster_") else obj
        return _from_lightgbm(booster, feature_names, source=source or type(obj).__name__)
    if module.startswith("sklearn"):
        return _from_sklearn(obj, feature_names, source=source or type(obj).__name__)
    raise LumosUserError(
        f"Cannot import a model of type {type(obj).__module__}.{type(obj).__name__}. Lumos "
        "reads XGBoost, LightGBM and scikit-learn models; for any other model pass a table of "
        "its features and scores (import_model(df, score_column=...)) and explain it with "
        "method='klime'.",
        code="unsupported_model",
    )


def _names(found, n: int, given) -> list[str]:
    if given is not None:
        given = [str(g) for g in given]
        if len(given) != n:
            raise LumosUserError(
                f"feature_names has {len(given)} names but the model reads {n} features.",
                code="bad_argument",
            )
        return given
    if found is not None and len(found) == n:
        return [str(f) for f in found]
    return [f"f{i}" for i in range(n)]


def _from_xgboost(booster, feature_names, source) -> ImportedModel:
    config = json.loads(booster.save_config())
    learner = config["learner"]
    objective = learner["objective"]["name"]
    n_classes = int(learner["learner_model_param"].get("num_class", "0") or 0)
    n_features = booster.num_features()
    names = _names(booster.feature_names, n_features, feature_names)
    if feature_names is not None:
        booster.feature_names = names
    if objective.startswith("multi:"):
        task, link = "multiclass", "softmax"
    elif objective.startswith(("binary:", "reg:logistic")):
        task, link, n_classes = "binary", "logit", 1
    elif objective.startswith(("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox")):
        task, link, n_classes = "regression", "log", 1
    else:
        task, link, n_classes = "regression", "identity", 1
    return ImportedModel(
        kind="xgboost",
        feature_names=names,
        task=task,
        link=link,
        objective=objective,
        n_classes=max(n_classes, 1),
        estimator=booster,
        source=source,
    )


def _from_lightgbm(booster, feature_names, source) -> ImportedModel:
    names = _names(booster.feature_name(), booster.num_feature(), feature_names)
    objective = str(booster.params.get("objective") or booster.dump_model()["objective"])
    objective = objective.split()[0]
    n_classes = booster.num_model_per_iteration()
    if n_classes > 1:
        task, link = "multiclass", "softmax"
    elif objective in ("binary", "cross_entropy", "xentropy"):
        task, link = "binary", "logit"
    elif objective in ("poisson", "gamma", "tweedie"):
        task, link = "regression", "log"
    else:
        task, link = "regression", "identity"
    return ImportedModel(
        kind="lightgbm",
        feature_names=names,
        task=task,
        link=link,
        objective=objective,
        n_classes=n_classes,
        estimator=booster,
        source=source,
    )


def _from_sklearn(obj, feature_names, source) -> ImportedModel:
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    preprocess, est = None, obj
    if isinstance(obj, Pipeline):
        preprocess = obj[:-1] if len(obj.steps) > 1 else None
        est = obj.steps[-1][1]
    try:
        check_is_fitted(obj)
    except Exception as exc:
        raise NotFittedError(f"The {type(obj).__name__} is not fitted; call fit first.") from exc
    n_in = getattr(obj, "n_features_in_", None) or getattr(est, "n_features_in_", None)
    names = _names(getattr(obj, "feature_names_in_", None), int(n_in), feature_names)
    kind = _sklearn_kind(est)
    if kind is None:
        raise LumosUserError(
            f"Cannot import scikit-learn {type(est).__name__}: Lumos reads tree ensembles, "
            "decision trees and linear models (or Pipelines ending in one). For other models "
            "pass a table of features and scores and use method='klime'.",
            code="unsupported_model",
        )
    if is_classifier(est):
        n_classes = len(est.classes_)
        task = "binary" if n_classes == 2 else "multiclass"
        averages = kind == "sklearn_tree" and not hasattr(est, "decision_function")
        link = "identity" if averages else ("logit" if task == "binary" else "softmax")
        n_classes = 1 if task == "binary" else n_classes
    else:
        task, link, n_classes = "regression", "identity", 1
    return ImportedModel(
        kind=kind,
        feature_names=names,
        task=task,
        link=link,
        objective=type(est).__name__,
        n_classes=n_classes,
        estimator=est,
        preprocess=preprocess,
        source=source,
    )


def _sklearn_kind(est) -> str | None:
    from sklearn import ensemble, linear_model, tree

    trees = (
        tree.DecisionTreeClassifier,
        tree.DecisionTreeRegressor,
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.GradientBoostingClassifier,
        ensemble.GradientBoostingRegressor,
    )
    if isinstance(est, trees):
        return "sklearn_tree"
    if type(est).__module__.startswith("sklearn.linear_model") and hasattr(est, "coef_"):
        return "linear"
    if isinstance(est, linear_model.LinearRegression):
        return "linear"
    return None


def _import_scores(table: pd.DataFrame, score_column, score_output, id_column, source):
    if score_output not in ("probability", "margin"):
        raise LumosUserError(
            f"score_output must be 'probability' or 'margin'. Got {score_output!r}.",
            code="bad_argument",
        )
    if score_column not in table.columns:
        raise DataValidationError(
            f"scores table {source!r} has no score column {score_column!r} (columns: "
            f"{', '.join(map(str, table.columns[:8]))}…); name it with score_column "
            "(CLI: --score-column).",
            code="missing_column",
            file=source,
            column=score_column,
        )
    drop = {score_column} | ({id_column} if id_column else set())
    names = [str(c) for c in table.columns if c not in drop]
    select_features(table, names, where=f"scores table {source!r}")
    scores = pd.to_numeric(table[score_column], errors="coerce")
    bad = np.flatnonzero(scores.isna().to_numpy())
    if len(bad):
        raise DataValidationError(
            f"scores table {source!r} row {bad[0]}: column {score_column!r} holds "
            f"{table[score_column].iloc[bad[0]]!r}, not a number; fill or drop that row.",
            code="bad_value",
            file=source,
            row=int(bad[0]),
            column=score_column,
        )
    return ImportedModel(
        kind="scores",
        feature_names=names,
        task="regression" if score_output == "margin" else "binary",
        link="identity",
        scores=table,
        score_column=score_column,
        score_output=score_output,
        source=source,
    )
