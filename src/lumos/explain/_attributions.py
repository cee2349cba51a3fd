"""Model Interpreter: per-row feature attributions.

``attribute(model, X, method=...)`` returns :class:`Attributions`. Exact
methods (``tree_shap``, ``linear_shap``) satisfy
``values.sum(1) + base == margin``; the surrogate methods (``lime``,
``klime``) satisfy it for their local linear model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lumos._checks import renamed
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain._model import ImportedModel, import_model, select_features

METHODS = ("auto", "shap", "tree_shap", "linear_shap", "lime", "klime")


@dataclass(frozen=True)
class Attributions:
    """Per-row feature attributions.

    Attributes
    ----------
    values : ndarray of shape (n, p)
        Contribution of each feature to each row's output.
    base : ndarray of shape (n,)
        The output with no feature information; ``values.sum(1) + base`` is the
        explained output (the model's for exact methods, the surrogate's otherwise).
    feature_names : list of str
    method : str
        The method that produced the values (``tree_shap``, ``linear_shap``,
        ``lime``, ``klime``), with the routine in brackets where there is a
        choice, e.g. ``tree_shap[xgboost]``.
    output : str
        The space of ``values``: ``margin``, ``probability`` or ``score``.
    index : pandas.Index
        Row labels of the explained rows.
    details : dict
        Method-specific extras (LIME local coefficients, K-LIME clusters and R²).
    """

    values: np.ndarray
    base: np.ndarray
    feature_names: list[str]
    method: str
    output: str
    index: pd.Index
    target: np.ndarray | None = None
    details: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values)

    def to_frame(self) -> pd.DataFrame:
        """The values as a DataFrame indexed like the explained rows."""
        return pd.DataFrame(self.values, index=self.index, columns=self.feature_names)

    def top_features(self, top_k: int = 5, *, k: int | None = None) -> pd.DataFrame:
        """The ``top_k`` features with the largest absolute attribution per row (``k`` is
        its older name)."""
        top_k = renamed(top_k, k, old="k", new="top_k", owner="Attributions.top_features")
        order = np.argsort(-np.abs(self.values), axis=1, kind="stable")[:, :top_k]
        names = np.asarray(self.feature_names, dtype=object)[order]
        columns = [f"top_{i + 1}" for i in range(top_k)]
        return pd.DataFrame(names, index=self.index, columns=columns)


def attribute(
    model,
    X,
    method: str = "auto",
    *,
    target: int | None = None,
    background=None,
    random_state: int = 0,
    seed: int | None = None,
    **options,
) -> Attributions:
    """Explain each row of ``X`` with feature attributions.

    Parameters
    ----------
    model : ImportedModel or model object
        Anything :func:`import_model` accepts; imported on the fly if needed.
    X : DataFrame or ndarray
        Rows to explain; a DataFrame must hold the model's feature columns.
    method : {"auto", "shap", "tree_shap", "linear_shap", "lime", "klime"}, default="auto"
        ``auto`` picks the best the model allows: exact SHAP for trees and
        linear models, K-LIME for a scores-only table. ``shap`` is exact SHAP
        of either kind.
    target : int, optional
        For multi-class models, the class to explain; by default each row's
        predicted class.
    background : DataFrame or ndarray, optional
        Reference rows for ``linear_shap`` (means) and ``lime`` (the training
        data its quartiles and perturbations come from); defaults to ``X``.
        With ``tree_shap``, given background rows make it interventional
        TreeSHAP: each row is explained against every background row
        (``shap.TreeExplainer(model, data=background,
        feature_perturbation="interventional")``, whole background), and the
        base value is the background's mean score; without, TreeSHAP is
        path-dependent (the trees' own cover).
    random_state : int, default=0
        Seed of the random methods (``lime``, ``klime``); ``seed`` is its older name.
    **options
        Passed to the method (e.g. ``num_samples``, ``num_features`` or
        ``sampling="gaussian"`` for ``lime``, ``k_grid`` for ``klime``).

    Returns
    -------
    Attributions

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    >>> lr = LinearRegression().fit(X, 2 * X["a"] - X["b"])
    >>> attr = attribute(lr, X)
    >>> attr.method, np.allclose(attr.values.sum(1) + attr.base, lr.predict(X))
    ('linear_shap', True)
    """
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="attribute")
    if method not in METHODS:
        raise LumosUserError(
            f"method must be one of {', '.join(METHODS)}. Got {method!r}.", code="bad_argument"
        )
    if not isinstance(model, ImportedModel):
        model = import_model(model)
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))
    method = resolve_method(model, method)
    if method == "klime":
        from lumos.explain._klime import klime_attributions

        if model.kind == "scores":
            scores, output = scores_of(model, X), model.score_output
        else:
            output = options.pop("output", "margin")
            scores = _predict(model, X, target, output)
        A = select_features(X, model.feature_names)
        values, base, details = klime_attributions(A, scores, random_state=random_state, **options)
        return Attributions(
            values, base, model.feature_names, "klime", output, index, None, details
        )

    A = select_features(X, model.feature_names)
    if model.kind == "scores":
        raise LumosUserError(
            f"method={method!r} needs a model that can predict; a scores-only table can be "
            "explained with method='klime'.",
            code="scores_only",
        )
    tgt = _targets(model, A, target)
    if method == "lime":
        from lumos.explain._lime import lime_attributions

        output = options.pop("output", "margin")
        bg = None if background is None else select_features(background, model.feature_names)
        values, base, details = lime_attributions(
            _model_fn(model, output), A, tgt, background=bg, random_state=random_state, **options
        )
        return Attributions(values, base, model.feature_names, "lime", output, index, tgt, details)
    engine = options.pop("engine", "auto") if method == "tree_shap" else "auto"
    _no_options(method, options)
    if method == "linear_shap":
        bg = A if background is None else select_features(background, model.feature_names)
        values, base = _linear_shap(model, A, bg, tgt)
        return Attributions(values, base, model.feature_names, "linear_shap", "margin", index, tgt)
    bg = None
    if background is not None:
        bg = select_features(background, model.feature_names, where="background")
    values, base, routine, output = _tree_shap(model, A, tgt, engine, bg)
    return Attributions(
        values, base, model.feature_names, f"tree_shap[{routine}]", output, index, tgt
    )


def scores_of(model: ImportedModel, X) -> np.ndarray:
    """The scores of a scores-only model for rows ``X``: its score column, or the table's own."""
    if isinstance(X, pd.DataFrame) and model.score_column in X.columns:
        scores = pd.to_numeric(X[model.score_column], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(np.isnan(scores))
        if len(bad):
            raise DataValidationError(
                f"row {bad[0]}: score column {model.score_column!r} holds "
                f"{X[model.score_column].iloc[bad[0]]!r}, not a number; fill or drop that row.",
                code="bad_value",
                row=int(bad[0]),
                column=model.score_column,
            )
        return scores
    if len(X) == len(model.scores):
        return model.scores[model.score_column].to_numpy(dtype=np.float64)
    raise DataValidationError(
        f"The rows to explain have no score column {model.score_column!r} and are not the "
        f"{len(model.scores)} rows of the scores table; pass the scores table itself.",
        code="missing_column",
        column=model.score_column,
    )


def resolve_method(model: ImportedModel, method: str) -> str:
    """The attribution method ``method`` means for ``model`` ("auto" and "shap" resolved)."""
    if method == "auto":
        if model.kind == "scores":
            return "klime"
        if model.kind == "linear":
            return "linear_shap"
        if model.kind == "sklearn_tree" and not (_reads(model) or _has_shap()):
            return "lime"
        return "tree_shap"
    if method == "shap":
        return "linear_shap" if model.kind == "linear" else "tree_shap"
    if method == "tree_shap" and not model.is_tree:
        raise LumosUserError(
            f"method='tree_shap' needs a tree model; this is a {model.kind} model. "
            "Use method='shap' (exact SHAP of any kind) or 'auto'.",
            code="bad_method",
        )
    if method == "linear_shap" and model.kind != "linear":
        raise LumosUserError(
            f"method='linear_shap' needs a linear model; this is a {model.kind} model. "
            "Use method='shap' or 'auto'.",
            code="bad_method",
        )
    return method


def _reads(model: ImportedModel) -> bool:
    """Whether Lumos's own TreeSHAP reads this scikit-learn model."""
    from lumos.explain._forest import reads_sklearn

    return reads_sklearn(model.estimator)


def _has_shap() -> bool:
    try:
        import shap  # noqa: F401
    except ImportError:
        return False
    return True


def _no_options(method: str, options: dict) -> None:
    if options:
        raise LumosUserError(
            f"method={method!r} takes no options; got {', '.join(sorted(options))}.",
            code="bad_argument",
        )


def _targets(model: ImportedModel, A: np.ndarray, target: int | None) -> np.ndarray | None:
    if model.task != "multiclass":
        if target not in (None, 0, 1):
            raise LumosUserError(
                f"target={target!r} is only for multi-class models.", code="bad_argument"
            )
        return None
    if target is not None:
        if not 0 <= target < model.n_classes:
            raise LumosUserError(
                f"target must be a class index in [0, {model.n_classes - 1}]. Got {target!r}.",
                code="bad_argument",
            )
        return np.full(len(A), target, dtype=np.int64)
    return np.argmax(model._margin(model.transform(A)), axis=1)


def _model_fn(model: ImportedModel, output: str):
    """A function from raw feature rows (and per-row classes) to the explained output."""
    if output not in ("margin", "probability"):
        raise LumosUserError(
            f"output must be 'margin' or 'probability'. Got {output!r}.", code="bad_argument"
        )

    def f(A: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
        margin = model._margin(model.transform(A))
        out = margin if output == "margin" else model.inverse_link(margin)
        if out.ndim == 2:
            out = out[np.arange(len(out)), target]
        return out

    return f


def _predict(model: ImportedModel, X, target, output) -> np.ndarray:
    A = select_features(X, model.feature_names)
    return _model_fn(model, output)(A, _targets(model, A, target))


def _linear_shap(model, A, background, target):
    est = model.estimator
    M, B = model.transform(A), model.transform(background)
    if M.shape[1] != A.shape[1]:
        raise LumosUserError(
            "Exact SHAP of a Pipeline needs steps that keep one column per feature "
            f"(got {A.shape[1]} features in, {M.shape[1]} out); use method='lime' or 'klime'.",
            code="bad_method",
        )
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
    mean = np.nanmean(B, axis=0)
    if target is None:
        w, b = coef[0], intercept[0]
        values = (M - mean) * w
        base = np.full(len(M), b + mean @ w)
    else:
        w, b = coef[target], intercept[target]
        values = (M - mean) * w
        base = b + w @ mean
    values = np.where(np.isnan(values), 0.0, values)
    return values, base


ENGINES = ("auto", "lumos", "library")


def _tree_shap(model: ImportedModel, A: np.ndarray, target, engine: str = "auto", bg=None):
    """Exact TreeSHAP, interventional against ``bg`` when given; returns values, base,
    routine, output.

    ``engine="auto"`` runs Lumos's compiled TreeSHAP (:mod:`lumos.explain._treeshap`,
    :mod:`lumos.explain._treeshap_interventional`) on every model it reads, and the
    library's own routine (XGBoost's ``pred_contribs``, LightGBM's ``pred_contrib``,
    ``shap`` for scikit-learn and for every interventional one) on the rest;
    ``"lumos"`` and ``"library"`` insist on one.
    """
    if engine not in ENGINES:
        raise LumosUserError(
            f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.", code="bad_argument"
        )
    M = model.transform(A)
    if M.shape[1] != A.shape[1]:
        raise LumosUserError(
            "TreeSHAP of a Pipeline needs steps that keep one column per feature "
            f"(got {A.shape[1]} features in, {M.shape[1]} out); use method='lime' or 'klime'.",
            code="bad_method",
        )
    forest, why = (None, "") if engine == "library" else _forest_of(model, M)
    B = None if bg is None else model.transform(bg)
    if B is not None and len(B) == 0:
        raise LumosUserError(
            "background has no rows; give the rows to explain against (e.g. a sample of the "
            "training data), or none for path-dependent TreeSHAP.",
            code="empty",
        )
    from lumos.explain._treeshap import available_memory, tree_shap
    from lumos.explain._treeshap_interventional import (
        interventional_bytes,
        interventional_tree_shap,
    )

    if forest is not None and B is not None:
        if interventional_bytes(forest) > available_memory() // 4:
            forest, why = None, "its interventional tables need more than a quarter of free memory"
    if forest is not None:
        if B is None:
            contrib, algorithm = tree_shap(forest, M)
            routine = "lumos" if algorithm == "tables" else "lumos-recursive"
        else:
            contrib, routine = interventional_tree_shap(forest, M, B), "lumos-interventional"
        output = _forest_output(model)
        if contrib.shape[1] == 1:
            contrib = contrib[:, 0]
        elif model.task == "binary":  # a classifier's two probabilities: explain the positive one
            contrib = contrib[:, 1]
    elif engine == "lumos":
        raise LumosUserError(
            f"engine='lumos' cannot read this model: {why}; use engine='auto'.",
            code="unsupported_model",
        )
    elif B is not None:
        contrib, routine, output = _shap_tree(model, M, B)
    elif model.kind == "xgboost":
        import xgboost as xgb

        dm = xgb.DMatrix(M, missing=np.nan, feature_names=model.estimator.feature_names)
        contrib = model.estimator.predict(dm, pred_contribs=True)
        routine, output = "xgboost", "margin"
    elif model.kind == "lightgbm":
        contrib = np.asarray(model.estimator.predict(M, pred_contrib=True))
        if model.task == "multiclass":
            contrib = contrib.reshape(len(M), model.n_classes, -1)
        routine, output = "lightgbm", "margin"
    else:
        contrib, routine, output = _shap_tree(model, M)
    contrib = np.asarray(contrib, dtype=np.float64)
    if contrib.ndim == 3:
        contrib = contrib[np.arange(len(M)), target]
    return np.ascontiguousarray(contrib[:, :-1]), contrib[:, -1].copy(), routine, output


_FORESTS: dict[int, tuple] = {}  # id(estimator) → (estimator, forest): one import per model


def _forest_of(model: ImportedModel, M: np.ndarray):
    """Lumos's flat form of the model with each output's offset, or None and the reason."""
    from lumos.explain import _forest

    held = _FORESTS.get(id(model.estimator))
    if held is not None and held[0] is model.estimator:
        return held[1], ""
    try:
        if model.kind == "xgboost":
            forest = _forest.from_xgboost(model.estimator)
        elif model.kind == "lightgbm":
            forest = _forest.from_lightgbm(model.estimator)
        elif model.kind == "sklearn_tree":
            forest = _forest.from_sklearn(model.estimator)
        else:
            return None, f"a {model.kind} model is not a tree ensemble"
    except LumosUserError as exc:
        return None, exc.message
    from lumos.explain._treeshap import predict_margin

    probe = M[: min(len(M), 64)]
    if len(probe) == 0:
        return None, "no rows to read the base score from"
    raw = predict_margin(forest, probe)
    forest.offset = (_library_margin(model, probe, forest.n_groups) - raw).mean(axis=0)
    if len(_FORESTS) > 16:
        _FORESTS.clear()
    _FORESTS[id(model.estimator)] = (model.estimator, forest)
    return forest, ""


def _library_margin(model: ImportedModel, M: np.ndarray, n_groups: int) -> np.ndarray:
    """``(rows, outputs)``: the library's own raw output, which the forest's trees sum to."""
    out = model._margin(M)
    if out.ndim == 1 and n_groups == 2:  # a binary classifier's probabilities, both classes
        out = np.column_stack([1.0 - out, out])
    return out.reshape(len(M), n_groups)


def _forest_output(model: ImportedModel) -> str:
    """What a forest's margin is for ``model``: a forest classifier's average is a probability."""
    if model.kind == "sklearn_tree" and model.link == "identity" and model.task != "regression":
        return "probability"
    return "margin"


def _shap_tree(model: ImportedModel, M: np.ndarray, B: np.ndarray | None = None):
    """``shap.TreeExplainer``'s values (interventional against every row of ``B`` when given;
    shap by default keeps only 100 background rows)."""
    try:
        import shap
    except ImportError as exc:
        raise LumosUserError(
            "TreeSHAP of a model Lumos's engine cannot read needs the shap package: "
            "pip install 'lumos[shap]'; or use method='lime'.",
            code="missing_dependency",
        ) from exc
    if B is None:
        explainer = shap.TreeExplainer(model.estimator)
    else:
        masker = shap.maskers.Independent(B, max_samples=len(B))
        explainer = shap.TreeExplainer(
            model.estimator, data=masker, feature_perturbation="interventional"
        )
    values = np.asarray(explainer.shap_values(M, check_additivity=False))
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    output = _forest_output(model) if model.kind == "sklearn_tree" else "margin"
    if values.ndim == 3:  # (n, p, classes) in recent shap
        if model.task == "binary":
            values, expected = values[:, :, 1], expected[1:2]
        else:
            values = np.transpose(values, (0, 2, 1))
            if B is not None:  # shap's interventional expected values do not sum: the mean
                expected = np.asarray(model._margin(B), dtype=np.float64).mean(axis=0)
            base = np.broadcast_to(expected[None, :, None], (len(M), len(expected), 1))
            return np.concatenate([values, base], axis=2), "shap", output
    base = np.full((len(M), 1), expected[-1])
    return np.concatenate([values, base], axis=1), "shap", output
