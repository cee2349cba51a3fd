"""Batched, seeded LIME for tabular numeric data.

The same method as the ``lime`` package's ``LimeTabularExplainer`` in
regression mode with ``discretize_continuous=False`` and
``sample_around_instance=True``: Gaussian perturbations around the row, scaled
by each feature's standard deviation, weighted by an exponential kernel of the
distance in scaled space, and fitted by weighted ridge regression.

It is fast because every row shares one standard-normal design (common random
numbers). The kernel weights and the centred design are then the same for all
rows, so the ridge system is factorized once and every row's coefficients come
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
        Rows whose per-feature means and standard deviations scale the
        perturbations and the features; defaults to ``A``. NaN are ignored; a
        feature with zero or undefined spread gets scale 1.
    random_state : int, default=0
        Seed of the perturbation design (``seed`` is its older name).
    num_samples : int, default=5000
        Perturbations per row, the row itself included; at least ``p + 2``.
    batch_size : int, optional
        Rows per model call; by default about three million matrix cells.
    kernel_width : float, optional
        Width of the exponential kernel; defaults to ``0.75 * sqrt(p)``.
    alpha : float, default=1.0
        Ridge penalty of the local model (as ``sklearn.linear_model.Ridge``).

    Returns
    -------
    values : ndarray of shape (n, p)
        ``coef_scaled * (x - mean) / scale``; 0 where ``x`` is NaN.
    base : ndarray of shape (n,)
        The local model at the background mean, so ``values.sum(1) + base`` is
        the local model's prediction at ``x``.
    details : dict
        ``coef`` (n, p): local slopes in the features' own units;
        ``coef_scaled`` (n, p): slopes per standard deviation; ``intercept``
        (n,): equal to ``base``; ``local_r2`` (n,): weighted R² of each local
        fit; ``num_samples``; ``kernel_width``; ``mean`` and ``scale`` (p,).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.0, 1.0], [1.0, -1.0], [2.0, 0.5]])
    >>> f = lambda M, t: 2 * M[:, 0] - M[:, 1]
    >>> values, base, details = lime_attributions(f, A, num_samples=500)
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
    mean, scale = _moments(A if background is None else _matrix(background, "background", p))

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
