"""Batched, seeded LIME for tabular numeric data.

Two samplings. ``quartile`` (the default) is the ``lime`` package's default
``LimeTabularExplainer`` in regression mode; see ``_lime_quartile.py``.
``gaussian`` is ``LimeTabularExplainer`` with ``discretize_continuous=False``
and ``sample_around_instance=True``: Gaussian perturbations around the row,
scaled by each feature's standard deviation, weighted by an exponential kernel
of the distance in scaled space, and fitted by weighted ridge regression.

The Gaussian sampling is fast because every row shares one standard-normal
design (common random numbers). The kernel weights and the centred design are
then the same for all rows, so the ridge system is factorized once and every row's coefficients come
from one matrix product. The model is called once per batch of rows on one
stacked matrix. Sharing the design also makes a row's explanation independent
of the other rows explained with it.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from threadpoolctl import ThreadpoolController

from lumos._checks import check_number, renamed
from lumos.errors import LumosUserError
from lumos.explain._lime_quartile import SELECTIONS, quartile_lime

SAMPLINGS = ("quartile", "gaussian")
BATCH_CELLS = 3_000_000  # cells of the stacked perturbation matrix per model call


def lime_attributions(
    f,
    A,
    target=None,
    *,
    background=None,
    random_state=0,
    num_samples: int = 5000,
    batch_size: int | None = None,
    kernel_width: float | None = None,
    alpha: float = 1.0,
    sampling: str = "quartile",
    num_features: int | None = None,
    feature_selection: str | None = None,
    seed=None,
):
    """Explain each row of ``A`` by a local weighted ridge model (LIME).

    Parameters
    ----------
    f : callable
        ``f(A_batch, target_batch) -> ndarray of shape (m,)``: the model's output
        for ``m`` rows of raw features, given each row's class (or ``None``).
    A : ndarray of shape (n, p)
        Rows to explain; NaN marks a missing value.
    target : ndarray of shape (n,) of int, optional
        For multi-class models, the class explained for each row.
    background : ndarray of shape (k, p), optional
        The training data; defaults to ``A``. With ``quartile`` sampling, its
        quartiles cut each feature into bins and perturbations are drawn from
        it; with ``gaussian``, its per-feature means and standard deviations
        scale the perturbations and the features (a feature with zero or
        undefined spread gets scale 1). NaN are ignored.
    random_state : int, default=0
        Seed of the perturbations (``seed`` is its older name).
    num_samples : int, default=5000
        Perturbations per row, the row itself included; at least ``p + 2``.
    batch_size : int, optional
        Rows per batch (per model call with ``gaussian``); by default about
        three million matrix cells.
    kernel_width : float, optional
        Width of the exponential kernel; defaults to ``0.75 * sqrt(p)``.
    alpha : float, default=1.0
        Ridge penalty of the local model (as ``sklearn.linear_model.Ridge``).
    sampling : {"quartile", "gaussian"}, default="quartile"
        ``quartile`` is lime's default: every feature cut at the training
        quartiles, perturbations drawn from the training distribution bin by
        bin, and a local model on "the value is in the row's bin" (1 or 0).
        One perturbation set and one model pass serve every row.
        ``gaussian`` perturbs each row with normal noise scaled by the
        features' standard deviations and fits the raw (scaled) features.
    num_features : int, optional
        ``quartile`` only: features kept in each explanation (lime's
        ``num_features``); default 10.
    feature_selection : {"auto", "highest_weights", "forward_selection", "none"}, optional
        ``quartile`` only: how the ``num_features`` features are picked, as in
        lime; default ``auto`` (forward selection up to 6 features, highest
        weights above). ``none`` keeps every feature.

    Returns
    -------
    values : ndarray of shape (n, p)
        ``quartile``: the slope of "in the row's bin" for each selected
        feature, 0 for the others. ``gaussian``: ``coef_scaled * (x - mean) /
        scale``. 0 where ``x`` is NaN.
    base : ndarray of shape (n,)
        The local model's intercept (``gaussian``: its value at the background
        mean), so ``values.sum(1) + base`` is the local model's prediction at
        ``x``.
    details : dict
        ``quartile``: ``coef`` (n, p) equal to ``values``; ``selected`` (n, p)
        bool; ``bins`` (n, p) each value's quartile bin (0-3, -1 for NaN);
        ``edges`` (p, 3) the quartiles (NaN where fewer are distinct);
        ``intercept``; ``local_r2`` (lime's ``score``); ``num_samples``;
        ``num_features``; ``feature_selection`` (``auto`` resolved);
        ``kernel_width``; ``sampling``. ``gaussian``:
        ``coef`` (n, p): local slopes in the features' own units;
        ``coef_scaled`` (n, p): slopes per standard deviation; ``intercept``
        (n,): equal to ``base``; ``local_r2`` (n,): weighted R² of each local
        fit; ``num_samples``; ``kernel_width``; ``mean`` and ``scale`` (p,);
        ``sampling``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(1000, 3))
    >>> f = lambda M, t: 5 * M[:, 0] + 0.1 * M[:, 2]
    >>> values, base, details = lime_attributions(f, train[:2], background=train)
    >>> np.argmax(np.abs(values), axis=1)
    array([0, 0])
    >>> A = np.array([[0.0, 1.0], [1.0, -1.0], [2.0, 0.5]])
    >>> f = lambda M, t: 2 * M[:, 0] - M[:, 1]
    >>> values, base, details = lime_attributions(f, A, num_samples=500, sampling="gaussian")
    >>> np.round(details["coef"], 1)
    array([[ 2., -1.],
           [ 2., -1.],
           [ 2., -1.]])
    >>> bool(np.allclose(values.sum(1) + base, f(A, None), atol=0.05))
    True
    """
    random_state = renamed(
        random_state, seed, old="seed", new="random_state", owner="lime_attributions"
    )
    A = _matrix(A, "A")
    n, p = A.shape
    num_samples = int(check_number("lime", "num_samples", num_samples, low=p + 2, integer=True))
    if batch_size is not None:
        batch_size = int(check_number("lime", "batch_size", batch_size, low=1, integer=True))
    alpha = float(check_number("lime", "alpha", alpha))
    if kernel_width is None:
        kernel_width = 0.75 * np.sqrt(p)
    kernel_width = float(check_number("lime", "kernel_width", kernel_width, strict=True))
    if target is not None:
        target = np.asarray(target)
        if target.shape != (n,) or not np.issubdtype(target.dtype, np.integer):
            raise LumosUserError(
                f"target must be None or an int array of shape ({n},). "
                f"Got dtype {target.dtype} and shape {target.shape}.",
                code="bad_argument",
            )
    background = A if background is None else _matrix(background, "background", p)
    if sampling not in SAMPLINGS:
        raise LumosUserError(
            f"The 'sampling' parameter of lime must be one of {', '.join(SAMPLINGS)}. "
            f"Got {sampling!r}.",
            code="bad_argument",
        )
    if sampling == "quartile":
        num_features = 10 if num_features is None else num_features
        num_features = int(check_number("lime", "num_features", num_features, low=1, integer=True))
        feature_selection = "auto" if feature_selection is None else feature_selection
        if feature_selection not in SELECTIONS:
            raise LumosUserError(
                f"The 'feature_selection' parameter of lime must be one of "
                f"{', '.join(SELECTIONS)}. Got {feature_selection!r}.",
                code="bad_argument",
            )
        if len(background) == 0:
            raise LumosUserError(
                "background must hold at least one row to take quartiles from. Got 0 rows.",
                code="bad_argument",
            )
        return quartile_lime(
            f,
            A,
            target,
            background,
            random_state=random_state,
            num_samples=num_samples,
            num_features=num_features,
            feature_selection=feature_selection,
            kernel_width=kernel_width,
            alpha=alpha,
            batch_size=batch_size,
        )
    for name, value in (("num_features", num_features), ("feature_selection", feature_selection)):
        if value is not None:
            raise LumosUserError(
                f"The {name!r} parameter of lime applies to sampling='quartile' only. "
                f"Got {name}={value!r} with sampling='gaussian'; drop it.",
                code="bad_argument",
            )
    mean, scale = _moments(background)

    # One design for every row: row 0 is the instance itself, as in lime.
    Z = np.random.default_rng(random_state).standard_normal((num_samples, p))
    Z[0] = 0.0
    w = np.sqrt(np.exp(-np.einsum("ij,ij->i", Z, Z) / kernel_width**2))
    w_norm = w / w.sum()
    z_bar = w_norm @ Z
    WZc = (Z - z_bar) * w[:, None]
    gram = (Z - z_bar).T @ WZc

    # Per row, only three reductions of the model's outputs are kept.
    rhs = np.empty((n, p))
    y_bar = np.empty(n)
    ss_tot = np.empty(n)
    step = batch_size or max(1, BATCH_CELLS // (num_samples * max(p, 1)))
    Zs = Z * scale
    threads = ThreadpoolController()
    for start in range(0, n, step):
        rows = A[start : start + step]
        m = len(rows)
        perturbed = (rows[:, None, :] + Zs[None, :, :]).reshape(m * num_samples, p)
        tgt = None if target is None else np.repeat(target[start : start + m], num_samples)
        y = np.asarray(f(perturbed, tgt), dtype=np.float64)
        if y.size != m * num_samples:
            raise LumosUserError(
                f"The model function returned {y.size} values for {m * num_samples} rows; "
                "it must return one output per row.",
                code="bad_model_output",
            )
        y = y.reshape(m, num_samples)
        # One BLAS thread: idle OpenBLAS workers spin and slow the model's own threads.
        with threads.limit(limits=1, user_api="blas"):
            rhs[start : start + m] = y @ WZc
            y_bar[start : start + m] = y @ w_norm
            ss_tot[start : start + m] = (y - y_bar[start : start + m, None]) ** 2 @ w

    missing = np.isnan(A)
    beta = _solve(gram, rhs, missing, alpha)
    ss_res = ss_tot + np.einsum("ij,ij->i", beta @ gram - 2 * rhs, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        local_r2 = np.where(ss_tot > 0, 1.0 - np.maximum(ss_res, 0.0) / ss_tot, 1.0)
    u = np.where(missing, 0.0, (A - mean) / scale)
    values = beta * u
    intercept = y_bar - np.einsum("ij,ij->i", u + z_bar, beta)
    details = {
        "coef": beta / scale,
        "coef_scaled": beta,
        "intercept": intercept,
        "local_r2": local_r2,
        "num_samples": num_samples,
        "kernel_width": kernel_width,
        "mean": mean,
        "scale": scale,
        "sampling": "gaussian",
    }
    return values, intercept.copy(), details


def _solve(gram: np.ndarray, rhs: np.ndarray, missing: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge coefficients of every row; a row's NaN features are left out of its fit."""
    n, p = rhs.shape
    beta = np.zeros((n, p))
    eye = np.eye(p)
    try:
        factor = cho_factor(gram + alpha * eye)
    except np.linalg.LinAlgError as exc:
        raise LumosUserError(
            "The LIME design is singular: the kernel gives almost all perturbations zero "
            "weight. Use a larger kernel_width or alpha > 0.",
            code="bad_argument",
        ) from exc
    complete = ~missing.any(axis=1)
    beta[complete] = cho_solve(factor, rhs[complete].T).T
    # Rows with NaN: zeroing a feature's row and column (1 on the diagonal) drops it.
    partial = np.flatnonzero(~complete)
    chunk = max(1, 2_000_000 // max(p * p, 1))
    for start in range(0, len(partial), chunk):
        idx = partial[start : start + chunk]
        keep = ~missing[idx]
        systems = gram * (keep[:, :, None] & keep[:, None, :])
        systems += eye * np.where(keep, alpha, 1.0)[:, None, :]
        beta[idx] = np.linalg.solve(systems, (rhs[idx] * keep)[:, :, None])[:, :, 0]
    return beta


def _moments(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware column means (NaN → 0) and standard deviations (0 or NaN → 1)."""
    present = ~np.isnan(B)
    count = present.sum(axis=0)
    filled = np.where(present, B, 0.0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    var = (np.where(present, B - mean, 0.0) ** 2).sum(axis=0) / np.maximum(count, 1)
    scale = np.sqrt(var)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return mean, scale


def _matrix(A, name: str, p: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LumosUserError(
            f"{name} must be a numeric matrix; it could not be read as floats ({exc}).",
            code="bad_argument",
        ) from exc
    if arr.ndim != 2 or (p is not None and arr.shape[1] != p):
        want = "2-D" if p is None else f"2-D with {p} columns"
        raise LumosUserError(f"{name} must be {want}. Got shape {arr.shape}.", code="bad_argument")
    return arr
