"""Logistic regression with per-row offsets, L2 towards a prior, dense or sparse features.

The loss is a *sum* over rows, as in Photon-ML and GDMix (so ``l2=1`` means
the same as their ``L2 = 1`` and scikit-learn's ``C=1``)::

    sum_i w_i * (log(1 + exp(z_i)) - y_i * z_i)
        + l2 / 2 * ||coef - coef_prior||^2 + intercept_l2 / 2 * (b - b_prior)^2

with ``z_i = offset_i + x_i . coef + b``. The intercept carries only the tiny
``intercept_l2`` penalty, which keeps it finite when every label is the same.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin

from lumos._checks import check_fitted, check_number
from lumos.errors import DataValidationError, LumosUserError

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator, X, y="no_validation", **kwargs):
        return estimator._validate_data(X, y, **kwargs)


SOLVERS = ("lbfgs", "newton")
HESSIAN_ROWS = 8192  # rows per block of the dense Hessian: small temporaries, no fresh pages


def logistic_loss_grad(
    params,
    X,
    y,
    *,
    offset=None,
    sample_weight=None,
    l2=1.0,
    intercept_l2=0.0,
    prior=None,
    fit_intercept=True,
):
    """The penalized logistic loss and its gradient at ``params``.

    Parameters
    ----------
    params : ndarray of shape (n_features + fit_intercept,)
        Coefficients, then the intercept when ``fit_intercept``.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Labels in {0, 1}.
    offset, sample_weight : ndarray of shape (n_samples,), optional
    l2, intercept_l2 : float
        Penalties of the coefficients and of the intercept.
    prior : ndarray like ``params``, optional
        The point the penalty pulls towards (0 by default).
    fit_intercept : bool, default=True

    Returns
    -------
    loss : float
    grad : ndarray like ``params``

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0]])
    >>> loss, grad = logistic_loss_grad(np.zeros(2), X, np.array([1.0, 0.0]), l2=0.0)
    >>> round(float(loss), 4), grad.tolist()
    (1.3863, [-1.0, 0.0])
    """
    p = X.shape[1]
    coef = params[:p]
    z = X @ coef
    if fit_intercept:
        z = z + params[p]
    if offset is not None:
        z = z + offset
    w = 1.0 if sample_weight is None else sample_weight
    loss_rows = np.logaddexp(0.0, z) - y * z
    resid = w * (expit(z) - y)
    diff = params if prior is None else params - prior
    pen = np.full(len(params), float(l2))
    if fit_intercept:
        pen[p] = intercept_l2
    loss = float(np.sum(w * loss_rows)) + 0.5 * float(pen @ (diff * diff))
    grad = np.empty(len(params))
    grad[:p] = X.T @ resid
    if fit_intercept:
        grad[p] = resid.sum()
    grad += pen * diff
    return loss, grad


def logistic_hessian(params, X, sample_weight, offset, l2, intercept_l2, fit_intercept):
    """The Hessian of :func:`logistic_loss_grad`'s loss at ``params``."""
    p = X.shape[1]
    z = X @ params[:p] + (params[p] if fit_intercept else 0.0)
    if offset is not None:
        z = z + offset
    mu = expit(z)
    s = mu * (1.0 - mu) * (1.0 if sample_weight is None else sample_weight)
    H = np.zeros((len(params), len(params)))
    if sp.issparse(X):
        H[:p, :p] = (X.T @ X.multiply(s[:, None]).tocsr()).toarray()
    else:  # symmetric products (BLAS syrk) of sqrt(s) X with itself, a block of rows at a time
        root = np.sqrt(s)
        for lo in range(0, X.shape[0], HESSIAN_ROWS):
            block = X[lo : lo + HESSIAN_ROWS] * root[lo : lo + HESSIAN_ROWS, None]
            H[:p, :p] += block.T @ block
    if fit_intercept:
        H[:p, p] = H[p, :p] = X.T @ s
        H[p, p] = s.sum()
    H[np.diag_indices(len(params))] += l2
    if fit_intercept:
        H[p, p] += intercept_l2 - l2
    return H


def minimize_logistic(
    X,
    y,
    *,
    offset=None,
    sample_weight=None,
    l2=1.0,
    intercept_l2=1e-4,
    prior=None,
    x0=None,
    fit_intercept=True,
    solver="lbfgs",
    max_iter=200,
    tol=1e-6,
):
    """Minimize :func:`logistic_loss_grad`; return ``(params, iterations)``."""
    n_params = X.shape[1] + bool(fit_intercept)
    x = np.zeros(n_params) if x0 is None else np.array(x0, dtype=np.float64)
    kw = dict(
        offset=offset,
        sample_weight=sample_weight,
        l2=l2,
        intercept_l2=intercept_l2,
        prior=prior,
        fit_intercept=fit_intercept,
    )
    if solver == "lbfgs":
        res = scipy.optimize.minimize(
            lambda v: logistic_loss_grad(v, X, y, **kw),
            x,
            jac=True,
            method="L-BFGS-B",
            # the loss is a sum over rows: scale the gradient tolerance to a per-row one
            options={"maxiter": max_iter, "gtol": tol * max(1, X.shape[0]), "ftol": 1e-12},
        )
        return res.x, int(res.nit)
    loss, grad = logistic_loss_grad(x, X, y, **kw)
    for it in range(1, max_iter + 1):
        H = logistic_hessian(x, X, sample_weight, offset, l2, intercept_l2, fit_intercept)
        step = np.linalg.solve(H, -grad)
        t, slope = 1.0, float(grad @ step)
        for _ in range(30):  # backtracking (Armijo) line search
            cand = x + t * step
            new_loss, new_grad = logistic_loss_grad(cand, X, y, **kw)
            if new_loss <= loss + 1e-4 * t * slope:
                break
            t *= 0.5
        x, loss, grad = cand, new_loss, new_grad
        if np.max(np.abs(t * step)) < tol:
            return x, it
    return x, max_iter


def binary_labels(y, owner="LogisticRegression"):
    """Encode ``y`` as 0/1 floats; return ``(y01, classes)``.

    Labels that are a subset of {0, 1} (or booleans) keep ``classes=[0, 1]``
    even when only one of them occurs; any other labels must hold exactly two
    values, the larger being the positive class.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataValidationError(
            f"{owner} needs a 1-d binary label; got y of shape {y.shape}.",
            code="non_binary_label",
        )
    if y.dtype.kind == "f" and np.isnan(y).any():
        i = int(np.flatnonzero(np.isnan(y))[0])
        raise DataValidationError(
            f"y row {i} is NaN; drop rows whose label is not known.", code="bad_value", row=i
        )
    classes = np.unique(y)
    if y.dtype.kind == "f" and (classes != np.round(classes)).any():
        odd = classes[classes != np.round(classes)][0]
        raise DataValidationError(
            f"y holds continuous values such as {odd!r}; {owner} needs a binary label "
            "(0/1, booleans or exactly two classes). Threshold it first.",
            code="non_binary_label",
        )
    if y.dtype.kind in "biuf" and np.isin(classes, [0, 1]).all():
        return (y == 1).astype(np.float64), np.array([0, 1], dtype=y.dtype)
    if len(classes) != 2:
        shown = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes[:5])
        raise DataValidationError(
            f"Only binary classification is supported. y holds {len(classes)} distinct "
            f"value(s) ({shown}{', …' if len(classes) > 5 else ''}); {owner} needs 0/1, "
            "booleans or exactly two classes.",
            code="non_binary_label",
        )
    return (y == classes[1]).astype(np.float64), classes


def check_weights(sample_weight, n, owner="LogisticRegression"):
    """``sample_weight`` as a float array of ``n`` finite values >= 0 (None stays None)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or not w.any():
        raise DataValidationError(
            f"sample_weight of {owner} must hold {n} finite values >= 0, not all zero; "
            f"got shape {w.shape}.",
            code="bad_value",
        )
    return w


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression with per-row offsets and an L2 penalty.

    The intercept is penalized only by the tiny ``intercept_l2``, so the
    intercept of a one-class problem stays finite. ``fit`` takes an optional
    ``offset`` (a known part of each row's score, as GLMix passes the other
    coordinates' scores) and an optional ``prior`` model whose coefficients the
    penalty pulls towards (incremental training).

    Parameters
    ----------
    l2 : float, default=1.0
        L2 penalty of the coefficients, on the summed (not averaged) loss.
    intercept_l2 : float, default=1e-4
        L2 penalty of the intercept.
    fit_intercept : bool, default=True
    solver : {"lbfgs", "newton"}, default="lbfgs"
        L-BFGS (scipy.optimize) or Newton with a backtracking line search.
    max_iter : int, default=200
    tol : float, default=1e-6
        Tolerance of the gradient per row (L-BFGS) or of the step (Newton).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    n_iter_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2))
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-(X @ [2.0, -1.0] + 0.5)))).astype(int)
    >>> model = LogisticRegression(l2=1.0).fit(X, y)
    >>> np.round(model.coef_, 1), np.round(model.intercept_, 1)
    (array([[ 1.9, -1.1]]), array([0.6]))
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    """

    def __init__(
        self,
        *,
        l2: float = 1.0,
        intercept_l2: float = 1e-4,
        fit_intercept: bool = True,
        solver: str = "lbfgs",
        max_iter: int = 200,
        tol: float = 1e-6,
    ):
        self.l2 = l2
        self.intercept_l2 = intercept_l2
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse = True
        return tags

    def _check_params(self) -> None:
        name = type(self).__name__
        check_number(name, "l2", self.l2)
        check_number(name, "intercept_l2", self.intercept_l2)
        check_number(name, "max_iter", self.max_iter, low=1, integer=True)
        check_number(name, "tol", self.tol, strict=True)
        if self.solver not in SOLVERS:
            raise LumosUserError(
                f"The 'solver' parameter of {name} must be one of {SOLVERS}. Got {self.solver!r}.",
                code="bad_argument",
            )

    def fit(self, X, y, *, offset=None, sample_weight=None, prior=None) -> LogisticRegression:
        """Fit to features ``X`` and binary labels ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        offset : array-like of shape (n_samples,), optional
            Added to every row's score, fixed during the fit.
        sample_weight : array-like of shape (n_samples,), optional
        prior : LogisticRegression, optional
            A fitted model on the same features; the penalties pull towards
            its coefficients and intercept instead of 0.

        Returns
        -------
        self
        """
        self._check_params()
        X, y = _validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=False, reset=True
        )
        y01, self.classes_ = binary_labels(y, type(self).__name__)
        n = X.shape[0]
        offset = _offset(offset, n)
        w = check_weights(sample_weight, n)
        prior_params = None
        if prior is not None:
            prior._check_fitted()
            if prior.coef_.shape[1] != X.shape[1]:
                raise LumosUserError(
                    f"The prior has {prior.coef_.shape[1]} features and X {X.shape[1]}; "
                    "pass a prior fitted on the same features.",
                    code="bad_argument",
                )
            prior_params = np.r_[prior.coef_[0], prior.intercept_[:1] if self.fit_intercept else []]
        params, self.n_iter_ = minimize_logistic(
            X,
            y01,
            offset=offset,
            sample_weight=w,
            l2=float(self.l2),
            intercept_l2=float(self.intercept_l2),
            prior=prior_params,
            x0=prior_params,
            fit_intercept=self.fit_intercept,
            solver=self.solver,
            max_iter=self.max_iter,
            tol=self.tol,
        )
        p = X.shape[1]
        self.coef_ = params[:p].reshape(1, p)
        self.intercept_ = np.array([params[p] if self.fit_intercept else 0.0])
        return self

    def _check_fitted(self) -> None:
        check_fitted(self, "coef_")

    def decision_function(self, X, offset=None) -> np.ndarray:
        """The score (log-odds) of each row, ``offset`` included."""
        self._check_fitted()
        X = _validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        z = np.asarray(X @ self.coef_[0]).ravel() + self.intercept_[0]
        off = _offset(offset, X.shape[0])
        return z if off is None else z + off

    def predict_proba(self, X, offset=None) -> np.ndarray:
        """Probabilities of ``classes_[0]`` and ``classes_[1]``, one row per sample."""
        p1 = expit(self.decision_function(X, offset))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X, offset=None) -> np.ndarray:
        """The more probable class of each row."""
        positive = self.decision_function(X, offset) > 0
        return self.classes_[positive.astype(int)]


def _offset(offset, n):
    if offset is None:
        return None
    off = np.asarray(offset, dtype=np.float64)
    if off.shape != (n,) or not np.isfinite(off).all():
        raise DataValidationError(
            f"offset must hold {n} finite values, one per row; got shape {off.shape}.",
            code="bad_value",
        )
    return off
