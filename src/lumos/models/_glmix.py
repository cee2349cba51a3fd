"""GLMix: a global logistic model plus one model per entity of each random effect.

The score of a row is the sum of its coordinates' scores::

    z = x_fixed . beta + b  +  sum over random effects r of  x_r . beta_r[id_r] + b_r[id_r]

Fitting is block coordinate descent (as in Photon-ML and GDMix): each
coordinate is refitted with the other coordinates' scores as a fixed offset.
The fixed effect is a :class:`~lumos.models.LogisticRegression`; all the
entities of a random effect are solved together by one batched Newton
iteration (:func:`~lumos.models.solvers.fit_entities`, shared with Spark).
The descent runs in ``_glmix_descent`` (on all rows, and on the rows that
``l2="auto"``'s search in ``_glmix_auto`` keeps); the inputs are checked in
``_glmix_inputs`` and the row cap's sampling keys come from ``_keys``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin

from lumos._checks import check_fitted, check_number
from lumos.data import atomic_path
from lumos.errors import DataValidationError, LumosUserError
from lumos.models._entities import EntityBlock, feature_union
from lumos.models._glmix_auto import choose_l2
from lumos.models._glmix_descent import descend
from lumos.models._glmix_inputs import as_frame, column_names, entity_ids, feature_matrix
from lumos.models._keys import sample_keys
from lumos.models._logistic import (
    SOLVERS,
    binary_labels,
    check_weights,
)

AUTO = "auto"
FIXED = "fixed_effect"
FIXED_INTERCEPT_L2 = 1e-4  # the global intercept sees every row: barely penalized
FORMAT = "lumos.glmix"
VERSION = 1


class GLMix(ClassifierMixin, BaseEstimator):
    """Generalized linear mixed model: a global model plus per-entity models.

    Parameters
    ----------
    fixed_effect : sequence of str, default=()
        Feature columns of the global model (it always has an intercept).
    random_effects : dict of {str: sequence of str}, optional
        One random effect per id column: ``{"member_id": course_cols,
        "course_id": member_cols}`` fits one model per member on the course
        features and one per course on the member features. An empty list is
        an intercept-only random effect; ``{}`` (the default) is plain
        logistic regression.
    l2 : "auto", float or dict, default="auto"
        L2 penalty of the coefficients (summed loss, as Photon-ML and GDMix).
        ``"auto"`` chooses each random effect's penalty on a held-out eighth
        of the rows (about an eighth of each entity's), then refits on all
        rows; the choices are in ``l2_`` (see ``_glmix_auto``; the fixed
        effect gets 1.0). A float sets every coordinate; a dict sets it per
        coordinate, keyed by ``"fixed_effect"`` and the id columns, and
        missing keys take 1.0.
    intercept_l2 : float or dict, optional
        L2 penalty of the intercepts, per coordinate like ``l2``. By default
        (``None``, or a coordinate missing from the dict) each entity's
        intercept is penalized like that random effect's coefficients, which
        keeps entities with one or two rows from fitting their own noise, and
        the global intercept by a tiny 1e-4 only (it sees every row).
    min_rows : int, default=1
        Entities with fewer rows get no model of their own (coefficients 0,
        i.e. the global model).
    max_rows_per_entity : int, optional
        Fit each entity on at most this many of its rows (Photon-ML's
        active-data upper bound): those with the smallest
        :func:`sample_keys` of their position in ``df`` and ``random_state``,
        a pseudo-random sample that every engine draws alike.
    passes : int, default=2
        Rounds of coordinate descent over all coordinates.
    standardize : bool, default=False
        Center and scale every feature column by its training mean and
        standard deviation before fitting (coefficients are on that scale; a
        refit with a prior keeps the prior's scaling).
    solver : {"newton", "lbfgs"}, default="newton"
        Solver of the fixed effect: Newton suits up to a few hundred dense
        features; L-BFGS scales to many more.
    max_iter : int, default=50
        Most iterations per coordinate and pass.
    tol : float, default=1e-6
    warm_start : bool, default=False
        Start a refit from the current coefficients (matched by entity id).
    random_state : int, default=0
        Seed of the row cap's sample (an int >= 0).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_fixed_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
    entity_ids_ : dict of {str: ndarray}
        The entities of each random effect that have a model of their own.
    entity_coef_ : dict of {str: ndarray of shape (n_entities, n_features)}
    entity_intercept_ : dict of {str: ndarray of shape (n_entities,)}
    entity_rows_ : dict of {str: ndarray of shape (n_entities,)}
        Rows each entity was fitted on (after the cap).
    loss_ : list of float
        The penalized training loss after each pass.
    l2_ : dict of {str: float}
        The L2 penalty of each coordinate's coefficients: ``l2`` resolved, or
        chosen by ``l2="auto"``.
    intercept_l2_ : dict of {str: float}
        The L2 penalty of each coordinate's intercepts.

    Notes
    -----
    scikit-learn's ``estimator_checks`` do not apply to this class: its input
    is a DataFrame whose id columns choose the per-entity models, while the
    checks feed anonymous numeric arrays. The checks run on
    :class:`~lumos.models.LogisticRegression`, which fits every coordinate
    here, and the tests cover GLMix's scikit-learn surface (``get_params``,
    ``clone``, ``predict_proba``'s two columns, "call fit first").

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 6000
    >>> df = pd.DataFrame({"member_id": rng.integers(0, 60, n), "x": rng.normal(size=n)})
    >>> slope = np.linspace(-2, 2, 60)
    >>> z = 0.5 + slope[df["member_id"]] * df["x"]
    >>> y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    >>> model = GLMix(fixed_effect=["x"], random_effects={"member_id": ["x"]}).fit(df, y)
    >>> learned = model.coef_[0, 0] + model.entity_coef_["member_id"][:, 0]
    >>> bool(np.corrcoef(learned, slope)[0, 1] > 0.95)
    True
    >>> model.predict_proba(df.head(2)).shape
    (2, 2)
    """

    def __init__(
        self,
        *,
        fixed_effect=(),
        random_effects=None,
        l2="auto",
        intercept_l2=None,
        min_rows: int = 1,
        max_rows_per_entity: int | None = None,
        passes: int = 2,
        standardize: bool = False,
        solver: str = "newton",
        max_iter: int = 50,
        tol: float = 1e-6,
        warm_start: bool = False,
        random_state: int = 0,
    ):
        self.fixed_effect = fixed_effect
        self.random_effects = random_effects
        self.l2 = l2
        self.intercept_l2 = intercept_l2
        self.min_rows = min_rows
        self.max_rows_per_entity = max_rows_per_entity
        self.passes = passes
        self.standardize = standardize
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters
    def _effects(self) -> dict[str, list[str]]:
        effects = {} if self.random_effects is None else self.random_effects
        if not isinstance(effects, dict):
            raise LumosUserError(
                "The 'random_effects' parameter of GLMix must be a dict of "
                f"{{id column: [feature columns]}}. Got {effects!r}.",
                code="bad_argument",
            )
        out = {}
        for col, feats in effects.items():
            if not isinstance(col, str) or col == FIXED:
                raise LumosUserError(
                    f"random_effects key {col!r} must be an id column name other than {FIXED!r}.",
                    code="bad_argument",
                )
            out[col] = column_names(feats, f"random_effects[{col!r}]")
        return out

    def _intercept_penalty(self, col: str, l2: float) -> float:
        """The intercept penalty of coordinate ``col`` when its coefficients get ``l2``."""
        value = self.intercept_l2
        if isinstance(value, dict):
            value = value.get(col)
        if value is None:
            return FIXED_INTERCEPT_L2 if col == FIXED else l2
        return float(value)

    def _intercept_penalties(self, l2: dict[str, float]) -> dict[str, float]:
        if self.intercept_l2 is not None:  # check names and values
            self._per_coordinate("intercept_l2", None, list(l2))
        return {c: self._intercept_penalty(c, v) for c, v in l2.items()}

    def _per_coordinate(self, name: str, default, coords: list[str]) -> dict:
        value = getattr(self, name)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in coords]
            if unknown:
                raise LumosUserError(
                    f"The {name!r} parameter of GLMix names {unknown[0]!r}, which is not a "
                    f"coordinate; use {FIXED!r} or a random-effect id column "
                    f"({', '.join(map(repr, coords[1:])) or 'none'}).",
                    code="bad_argument",
                )
            out = {c: value.get(c, default) for c in coords}
        else:
            out = dict.fromkeys(coords, value)
        for v in out.values():
            if v is not None:
                check_number("GLMix", name, v)
        return {c: None if v is None else float(v) for c, v in out.items()}

    def _check_params(self):
        """``(fixed, effects, l2, il2)``: checked; ``l2`` is ``"auto"`` or a dict per coordinate."""
        fixed = column_names(self.fixed_effect, "fixed_effect")
        effects = self._effects()
        coords = [FIXED, *effects]
        if isinstance(self.l2, str):
            if self.l2 != AUTO:
                raise LumosUserError(
                    f"The 'l2' parameter of GLMix must be \"auto\", a float >= 0 or a dict "
                    f"of them per coordinate. Got {self.l2!r}.",
                    code="bad_argument",
                )
            l2 = AUTO
        else:
            l2 = self._per_coordinate("l2", 1.0, coords)
        il2 = self._intercept_penalties(dict.fromkeys(coords, 1.0) if l2 == AUTO else l2)
        check_number("GLMix", "min_rows", self.min_rows, low=1, integer=True)
        if self.max_rows_per_entity is not None:
            check_number(
                "GLMix", "max_rows_per_entity", self.max_rows_per_entity, low=1, integer=True
            )
        check_number("GLMix", "passes", self.passes, low=1, integer=True)
        check_number("GLMix", "random_state", self.random_state, low=0, integer=True)
        check_number("GLMix", "max_iter", self.max_iter, low=1, integer=True)
        check_number("GLMix", "tol", self.tol, strict=True)
        if self.solver not in SOLVERS:
            raise LumosUserError(
                f"The 'solver' parameter of GLMix must be one of {SOLVERS}. Got {self.solver!r}.",
                code="bad_argument",
            )
        return fixed, effects, l2, il2

    # ------------------------------------------------------------------ fitting
    def fit(self, df, y, *, sample_weight=None, prior=None) -> GLMix:
        """Fit by block coordinate descent.

        Parameters
        ----------
        df : DataFrame
            The id columns of the random effects and every feature column.
        y : array-like of shape (n_rows,)
            Binary labels.
        sample_weight : array-like of shape (n_rows,), optional
        prior : GLMix, optional
            A fitted model with the same coordinates: the penalties pull
            towards its coefficients (per entity id) instead of 0, and
            entities absent from ``df`` keep their prior models. This is an
            incremental refit; :meth:`partial_fit` passes the current model.

        Returns
        -------
        self
        """
        fixed, effects, l2, il2 = self._check_params()
        df = as_frame(df)
        y01, classes = binary_labels(y, "GLMix")
        if len(y01) != len(df):
            raise LumosUserError(
                f"df has {len(df)} rows and y {len(y01)}; pass one label per row.",
                code="bad_argument",
            )
        if len(df) == 0:
            raise DataValidationError("df has no rows; GLMix needs data.", code="empty")
        w = check_weights(sample_weight, len(df), "GLMix")
        start = self if (self.warm_start and hasattr(self, "coef_")) else None
        if prior is not None:
            prior._check_fitted()
            if prior._layout() != (fixed, effects):
                raise LumosUserError(
                    "The prior GLMix has other coordinates or features than this one; "
                    "pass a prior with the same fixed_effect and random_effects.",
                    code="bad_argument",
                )
            start = prior
        columns = feature_union(fixed, effects)
        raw = feature_matrix(df, columns)
        if self.standardize and prior is not None:  # the prior's coefficients are on its scale
            mean, std = prior.scale_mean_, prior.scale_std_
        elif self.standardize:
            mean, std = raw.mean(axis=0), raw.std(axis=0)
            std[std == 0] = 1.0
        else:
            mean, std = np.zeros(len(columns)), np.ones(len(columns))
        M = (raw - mean) / std if self.standardize else raw
        pos = {c: i for i, c in enumerate(columns)}
        n = len(df)
        Xf = M[:, [pos[c] for c in fixed]]

        # one block per random effect: rows sorted by entity, with a column of ones
        ids = {col: entity_ids(df, col, fitting=True) for col in effects}
        cols = {col: [pos[c] for c in feats] for col, feats in effects.items()}
        keys = sample_keys(np.arange(n, dtype=np.uint64), self.random_state)
        blocks = {
            col: EntityBlock.build(
                ids[col], M, cols[col], keys, self.min_rows, self.max_rows_per_entity
            )
            for col in effects
        }

        # the inputs are checked: choose the penalties (a refit on a prior keeps its
        # choices); the search's model, fitted on most rows, is a close starting point
        if l2 == AUTO and prior is not None:
            l2 = dict(prior.l2_)
        elif l2 == AUTO:
            l2, searched = choose_l2(self, Xf, y01, w, ids, M, cols)
            start = start if start is not None else searched
        il2 = self._intercept_penalties(l2)

        # starting point and prior, matched by id
        if isinstance(start, GLMix):
            start = start._coefficients() if start._layout() == (fixed, effects) else None
        towards = None if prior is None else prior._coefficients()
        fparams = np.zeros(len(fixed) + 1) if start is None else start[0].copy()
        fprior = None if towards is None else towards[0]
        for col, b in blocks.items():
            b.beta = np.zeros((len(b.ids), len(effects[col]) + 1))
            b.prior = np.zeros_like(b.beta)
            for src, target in ((start, b.beta), (towards, b.prior)):
                if src is not None:
                    src_ids, src_beta = src[1][col]
                    known = pd.Index(src_ids).get_indexer(b.ids)
                    hit = known >= 0
                    target[hit] = src_beta[known[hit]]

        fparams, _, self.loss_ = descend(
            Xf,
            y01,
            w,
            fparams,
            blocks,
            l2,
            il2,
            passes=self.passes,
            fprior=fprior,
            solver=self.solver,
            max_iter=self.max_iter,
            tol=self.tol,
        )

        # fitted state; prior entities absent from df keep their prior models
        self.classes_ = classes
        self.l2_, self.intercept_l2_ = l2, il2
        self.fixed_effect_ = fixed
        self.random_effects_ = effects
        self.feature_columns_ = columns
        self.scale_mean_, self.scale_std_ = mean, std
        self.coef_ = fparams[:-1].reshape(1, -1)
        self.intercept_ = fparams[-1:].copy()
        self.entity_ids_, self.entity_coef_, self.entity_intercept_ = {}, {}, {}
        self.entity_rows_ = {}
        for col, b in blocks.items():
            rows = np.bincount(b.ent, minlength=len(b.ids))
            ids, beta = b.ids, b.beta
            if prior is not None:
                old = prior.entity_ids_[col]
                gone = ~np.isin(old, ids)
                ids = np.concatenate([ids, old[gone]])
                kept = np.column_stack(
                    [prior.entity_intercept_[col][gone], prior.entity_coef_[col][gone]]
                )
                beta = np.vstack([beta, kept])
                rows = np.concatenate([rows, np.zeros(int(gone.sum()), dtype=rows.dtype)])
            self.entity_ids_[col] = ids
            self.entity_intercept_[col] = beta[:, 0].copy()
            self.entity_coef_[col] = beta[:, 1:].copy()
            self.entity_rows_[col] = rows
        return self

    def partial_fit(self, df, y, *, sample_weight=None) -> GLMix:
        """Refit on new rows with the current model as the prior (a plain fit when unfitted)."""
        prior = copy.deepcopy(self) if hasattr(self, "coef_") else None
        return self.fit(df, y, sample_weight=sample_weight, prior=prior)

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        check_fitted(self, "coef_")

    def _layout(self):
        return self.fixed_effect_, self.random_effects_

    def _coefficients(self):
        """``(fixed effect's coefficients then intercept, {id column: (ids, beta)})``."""
        entities = {
            col: (
                self.entity_ids_[col],
                np.column_stack([self.entity_intercept_[col], self.entity_coef_[col]]),
            )
            for col in self.random_effects_
        }
        return np.r_[self.coef_[0], self.intercept_[0]], entities

    def decision_function(self, df) -> np.ndarray:
        """The score (log-odds) of each row: the global model plus each entity's model.

        Ids the model has not seen (or that had too few rows) add nothing: those
        rows get the global model only.
        """
        self._check_fitted()
        df = as_frame(df)
        M = (feature_matrix(df, self.feature_columns_) - self.scale_mean_) / self.scale_std_
        pos = {c: i for i, c in enumerate(self.feature_columns_)}
        z = M[:, [pos[c] for c in self.fixed_effect_]] @ self.coef_[0] + self.intercept_[0]
        for col, feats in self.random_effects_.items():
            ids = entity_ids(df, col, fitting=False)
            known = pd.Index(self.entity_ids_[col]).get_indexer(ids)
            hit = np.flatnonzero(known >= 0)
            e = known[hit]
            Xr = M[np.ix_(hit, [pos[c] for c in feats])]
            part = np.einsum("ij,ij->i", Xr, self.entity_coef_[col][e])
            z[hit] += part + self.entity_intercept_[col][e]
        return z

    def predict_proba(self, df) -> np.ndarray:
        """Probabilities of ``classes_[0]`` and ``classes_[1]``, one row per row of ``df``."""
        p1 = expit(self.decision_function(df))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, df) -> np.ndarray:
        """The more probable class of each row."""
        positive = self.decision_function(df) > 0
        return self.classes_[positive.astype(int)]

    def random_effect_frame(self, column: str) -> pd.DataFrame:
        """One random effect's models as a DataFrame: one row per entity id."""
        self._check_fitted()
        if column not in self.random_effects_:
            raise LumosUserError(
                f"{column!r} is not a random effect of this GLMix; it has "
                f"{list(self.random_effects_)}.",
                code="bad_argument",
            )
        frame = pd.DataFrame(self.entity_coef_[column], columns=self.random_effects_[column])
        frame.insert(0, "intercept", self.entity_intercept_[column])
        frame.insert(len(frame.columns), "rows", self.entity_rows_[column])
        return frame.set_index(pd.Index(self.entity_ids_[column], name=column))

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the model to the folder ``path`` as ``model.json`` and ``arrays.npz``.

        Neither file can run code: :meth:`load` reads the arrays with
        ``allow_pickle=False``.
        """
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {
            "coef": self.coef_,
            "intercept": self.intercept_,
            "scale_mean": self.scale_mean_,
            "scale_std": self.scale_std_,
        }
        for k, col in enumerate(self.random_effects_):
            arrays[f"re{k}_ids"] = self.entity_ids_[col]
            arrays[f"re{k}_coef"] = self.entity_coef_[col]
            arrays[f"re{k}_intercept"] = self.entity_intercept_[col]
            arrays[f"re{k}_rows"] = self.entity_rows_[col]
        params = self.get_params()
        params["fixed_effect"] = list(self.fixed_effect_)
        params["random_effects"] = self.random_effects_
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "params": params,
            "classes": self.classes_.tolist(),
            "feature_columns": self.feature_columns_,
            "loss": self.loss_,
            "l2": self.l2_,
            "intercept_l2": self.intercept_l2_,
        }
        with atomic_path(path / "arrays.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        with atomic_path(path / "model.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path) -> GLMix:
        """Read a model written by :meth:`save`."""
        path = Path(path)
        meta_file, array_file = path / "model.json", path / "arrays.npz"
        if not meta_file.is_file() or not array_file.is_file():
            raise DataValidationError(
                f"{str(path)!r} is not a saved GLMix: it needs model.json and arrays.npz.",
                code="file_not_found",
                file=str(path),
            )
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise DataValidationError(
                f"{meta_file} holds format {meta.get('format')!r} version "
                f"{meta.get('version')!r}; this Lumos reads {FORMAT!r} version {VERSION}.",
                code="unreadable_file",
                file=str(meta_file),
            )
        model = cls(**meta["params"])
        fixed, effects, l2, il2 = model._check_params()
        with np.load(array_file, allow_pickle=False) as a:
            model.coef_, model.intercept_ = a["coef"], a["intercept"]
            model.scale_mean_, model.scale_std_ = a["scale_mean"], a["scale_std"]
            model.entity_ids_, model.entity_coef_ = {}, {}
            model.entity_intercept_, model.entity_rows_ = {}, {}
            for k, col in enumerate(effects):
                model.entity_ids_[col] = a[f"re{k}_ids"]
                model.entity_coef_[col] = a[f"re{k}_coef"]
                model.entity_intercept_[col] = a[f"re{k}_intercept"]
                model.entity_rows_[col] = a[f"re{k}_rows"]
        model.classes_ = np.asarray(meta["classes"])
        model.fixed_effect_, model.random_effects_ = fixed, effects
        model.feature_columns_ = meta["feature_columns"]
        model.loss_ = meta["loss"]
        model.l2_ = meta.get("l2", l2)  # files saved before l2="auto" hold explicit penalties
        model.intercept_l2_ = meta.get("intercept_l2", il2)
        return model
