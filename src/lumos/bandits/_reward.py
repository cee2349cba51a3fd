"""A logistic reward model for the model-based estimators (DM, DR, switch-DR).

:func:`fit_reward_model` predicts every action's (and slot's) reward
probability per round from the context, the action and their cross terms.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.special import expit

from lumos._checks import check_number
from lumos.bandits._ope import _finite, _in_range, _show, _vector
from lumos.errors import LumosUserError


def fit_reward_model(
    context,
    action,
    reward,
    n_actions: int,
    *,
    position=None,
    len_list: int | None = None,
    new_context=None,
    features: str = "crossed",
    C: float = 1.0,
    n_folds: int = 1,
    random_state=None,
    max_iter: int = 1000,
) -> np.ndarray:
    """Predict every action's click probability with one logistic regression.

    The model is scikit-learn's ``LogisticRegression`` on sparse features built
    from the context ``x`` (``d`` columns), the action ``a`` and the slot ``k``:

    - ``features="crossed"`` (default): ``x``, one-hot ``a``, one-hot ``a``
      crossed with ``x`` (``n_actions * d`` columns), one-hot ``k``. Each action
      gets its own context effects, shrunk by the L2 penalty towards the shared
      ones: a per-action model that borrows strength across actions.
    - ``features="additive"``: ``x``, one-hot ``a``, one-hot ``k`` (actions only
      shift the intercept).

    The slot enters additively in the logit. Context columns are used as given:
    pass one-hot or standardised features so the penalty treats them alike.

    Parameters
    ----------
    context : array-like of shape (n, d)
        The logged rounds' context features.
    action : array-like of int, shape (n,)
        The logged actions, in ``[0, n_actions)``.
    reward : array-like of shape (n,)
        Binary (0/1) rewards; for real-valued rewards fit your own regressor and
        pass its predictions as ``estimated_rewards``.
    n_actions : int
        The number of actions.
    position : array-like of int, shape (n,), optional
        The logged slots; the output then has a position axis.
    len_list : int, optional
        Length of that axis (default ``position.max() + 1``).
    new_context : array-like of shape (m, d), optional
        Predict for these contexts instead of ``context``.
    features : {"crossed", "additive"}, default="crossed"
        The feature map above.
    C : float, default=1.0
        Inverse L2 penalty strength of ``LogisticRegression``.
    n_folds : int, default=1
        With ``n_folds > 1`` each logged round is predicted by a model fitted
        on the other folds (cross-fitting, as doubly robust estimation prefers);
        not with ``new_context``.
    random_state : int or None, default=None
        Seeds the fold split.
    max_iter : int, default=1000
        Iterations of the lbfgs solver.

    Returns
    -------
    ndarray of shape (m, n_actions) or (m, n_actions, len_list)
        Predicted reward probabilities, the ``estimated_rewards`` of
        :func:`estimate`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> context = np.eye(2)[rng.integers(0, 2, 4000)]     # two user types
    >>> action = rng.integers(0, 3, 4000)
    >>> p = np.array([[0.1, 0.5, 0.3], [0.6, 0.2, 0.3]])  # click rate per type and action
    >>> reward = rng.random(4000) < p[context.argmax(1), action]
    >>> q = fit_reward_model(context, action, reward, n_actions=3, new_context=np.eye(2))
    >>> q.round(1)
    array([[0.1, 0.5, 0.3],
           [0.6, 0.2, 0.3]])
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    x = _matrix("context", context)
    n, d = x.shape
    n_actions = int(check_number("fit_reward_model", "n_actions", n_actions, low=1, integer=True))
    a = _vector("action", action, n)
    if not (np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise LumosUserError(
            f"action must hold integer action ids; got dtype {a.dtype}.", code="bad_argument"
        )
    _in_range("action", a, n_actions, "n_actions")
    y = _vector("reward", reward, n)
    bad = np.flatnonzero((y != 0) & (y != 1))
    if len(bad):
        raise LumosUserError(
            f"fit_reward_model fits a logistic regression, so reward must hold 0/1; got "
            f"{_show(y[bad[0]])} at row {bad[0]}. For real-valued rewards fit your own regressor "
            "and pass its predictions as estimated_rewards.",
            code="non_binary_label",
        )
    if position is None:
        if len_list is not None:
            raise LumosUserError(
                "len_list was given without position; pass position too or drop len_list.",
                code="bad_argument",
            )
        k, n_slots = None, 0
    else:
        k = _vector("position", position, n)
        if not np.issubdtype(k.dtype, np.integer):
            raise LumosUserError(
                f"position must hold integer slots; got dtype {k.dtype}.", code="bad_argument"
            )
        if len_list is None:
            n_slots = int(k.max()) + 1
        else:
            n_slots = int(
                check_number("fit_reward_model", "len_list", len_list, low=1, integer=True)
            )
        _in_range("position", k, n_slots, "len_list")
    if features not in ("crossed", "additive"):
        raise LumosUserError(
            f"features must be 'crossed' or 'additive'. Got {features!r}.", code="bad_argument"
        )
    check_number("fit_reward_model", "C", C, strict=True)
    n_folds = int(check_number("fit_reward_model", "n_folds", n_folds, low=1, integer=True))
    if n_folds > 1 and new_context is not None:
        raise LumosUserError(
            "n_folds > 1 cross-fits predictions for the logged rounds themselves; drop "
            "new_context or set n_folds=1.",
            code="bad_argument",
        )
    target = None
    if new_context is not None:
        target = _matrix("new_context", new_context)
        if target.shape[1] != d:
            raise LumosUserError(
                f"new_context must have the {d} columns of context. Got shape {target.shape}.",
                code="bad_argument",
            )
    crossed = features == "crossed"

    def design(rows: np.ndarray) -> sparse.csr_matrix:
        m, acts = len(rows), a[rows]
        blocks = [sparse.csr_matrix(x[rows]), _one_hot(acts, n_actions)]
        if crossed:
            cols = (acts[:, None] * d + np.arange(d)).ravel()
            blocks.append(
                sparse.csr_matrix(
                    (x[rows].ravel(), (np.repeat(np.arange(m), d), cols)), shape=(m, n_actions * d)
                )
            )
        if k is not None:
            blocks.append(_one_hot(k[rows], n_slots))
        return sparse.hstack(blocks, format="csr")

    def fit(rows: np.ndarray) -> LogisticRegression:
        labels = np.unique(y[rows])
        if len(labels) < 2:
            where = "" if len(rows) == n else " in a training fold; lower n_folds"
            raise LumosUserError(
                f"reward holds only {_show(labels[0])}{where}: a reward model needs both 0s "
                "and 1s.",
                code="non_binary_label",
            )
        return LogisticRegression(C=C, max_iter=max_iter).fit(design(rows), y[rows])

    def predict(model: LogisticRegression, ctx: np.ndarray) -> np.ndarray:
        coef = model.coef_[0]
        logit = model.intercept_[0] + (ctx @ coef[:d])[:, None] + coef[d : d + n_actions]
        if crossed:
            logit = (
                logit
                + ctx @ coef[d + n_actions : d + n_actions + n_actions * d].reshape(n_actions, d).T
            )
        if k is not None:
            logit = logit[:, :, None] + coef[-n_slots:]
        return expit(logit)

    if n_folds == 1:
        return predict(fit(np.arange(n)), x if target is None else target)
    if n_folds > n:
        raise LumosUserError(
            f"n_folds must be at most the {n} logged rounds. Got {n_folds}.", code="bad_argument"
        )
    out = np.empty((n, n_actions, n_slots) if k is not None else (n, n_actions))
    for train, test in KFold(n_folds, shuffle=True, random_state=random_state).split(x):
        out[test] = predict(fit(train), x[test])
    return out


def _matrix(label: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise LumosUserError(
            f"{label} must be a 2-D array (rounds × features). Got shape {arr.shape}.",
            code="bad_argument",
        )
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise LumosUserError(
            f"{label} must be numeric; got dtype {arr.dtype}. One-hot encode categories "
            "first (e.g. pandas.get_dummies).",
            code="bad_argument",
        ) from None
    _finite(label, arr)
    return arr


def _one_hot(values: np.ndarray, size: int) -> sparse.csr_matrix:
    m = len(values)
    return sparse.csr_matrix((np.ones(m), (np.arange(m), values)), shape=(m, size))
