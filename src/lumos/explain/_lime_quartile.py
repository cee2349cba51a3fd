"""LIME in the ``lime`` package's default mode, batched over rows.

``LimeTabularExplainer``'s defaults (``discretize_continuous=True``,
``discretizer='quartile'``, ``sample_around_instance=False``) cut every feature
at the quartiles of the training data, draw each perturbation's bin from the
training bin frequencies and its value from a normal truncated to the bin
(with the bin's mean and standard deviation), and fit a weighted ridge on a
binary design: 1 where a perturbation falls in the explained row's bin. The
kernel weighs each perturbation by its distance in that binary space.

None of the draws depends on the row explained, so one perturbation set and
one model pass serve every row; only the binary design, the kernel weights
and the ridge fit are per row, and those are batched matrix products and
solves. Each row's estimator is lime's: the row itself is the first sample
(weight 1), feature selection ``auto`` picks ``forward_selection`` for up to
six features and ``highest_weights`` (ridge with ``alpha=0.01``, largest
``|coef|``) above, and the explanation is ``Ridge(alpha)`` on the selected
features.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import truncnorm
from threadpoolctl import ThreadpoolController

from lumos.errors import LumosUserError

SELECTIONS = ("auto", "highest_weights", "forward_selection", "none")
DESIGN_CELLS = 3_000_000  # cells of the per-row binary designs built at once
PREDICT_CELLS = 3_000_000  # cells of the matrix handed to the model per call
STD_FLOOR = 1e-11  # added to each bin's standard deviation, as lime does


def quartile_lime(
    f,
    A: np.ndarray,
    target,
    background: np.ndarray,
    *,
    random_state,
    num_samples: int,
    num_features: int,
    feature_selection: str,
    kernel_width: float,
    alpha: float,
    batch_size: int | None,
):
    """Values, base and details of lime's default estimator for every row of ``A``.

    See :func:`lumos.explain._lime.lime_attributions` (``sampling="quartile"``).
    """
    n, p = A.shape
    bins = _Bins(background)
    rng = np.random.default_rng(random_state)
    sample_bins, samples = bins.sample(num_samples - 1, rng)
    y_rows = _predict(f, A, target)
    classes = [None] if target is None else np.unique(target).tolist()
    y_shared = {
        c: _predict(f, samples, None if c is None else np.full(len(samples), c)) for c in classes
    }

    present = ~np.isnan(A)
    row_bins = bins.of(A)
    if feature_selection == "auto":
        feature_selection = "forward_selection" if num_features <= 6 else "highest_weights"
    k = p if feature_selection == "none" else min(num_features, p)

    coef = np.zeros((n, p))
    selected = np.zeros((n, p), dtype=bool)
    intercept, local_r2 = np.empty(n), np.empty(n)
    step = batch_size or max(1, DESIGN_CELLS // (num_samples * max(p, 1)))
    threads = ThreadpoolController()
    # One BLAS thread: idle OpenBLAS workers spin and slow everything else on a busy machine.
    with threads.limit(limits=1, user_api="blas"):
        for start in range(0, n, step):
            at = slice(start, min(start + step, n))
            ys = np.stack(
                [
                    y_shared[c]
                    for c in ([None] * (at.stop - at.start) if target is None else target[at])
                ]
            )
            stats = _weighted_moments(
                sample_bins, row_bins[at], present[at], ys, y_rows[at], kernel_width
            )
            sel = _select(stats, present[at], k, feature_selection)
            beta, b0, r2 = _fit(stats, present[at], sel, alpha)
            rows = np.arange(at.start, at.stop)[:, None]
            coef[rows, sel] = beta
            selected[rows, sel] = present[at][np.arange(len(sel))[:, None], sel]
            intercept[at], local_r2[at] = b0, r2
    details = {
        "coef": coef,
        "intercept": intercept,
        "local_r2": local_r2,
        "selected": selected,
        "bins": np.where(present, row_bins, -1),
        "edges": bins.edges,
        "num_samples": num_samples,
        "num_features": k,
        "feature_selection": feature_selection,
        "kernel_width": kernel_width,
        "sampling": "quartile",
    }
    return coef.copy(), intercept.copy(), details


class _Bins:
    """Quartile bins of each feature with the per-bin statistics lime samples from."""

    def __init__(self, B: np.ndarray):
        p = B.shape[1]
        present = ~np.isnan(B)
        edges = np.full((p, 3), np.nan)
        seen = present.any(axis=0)
        if seen.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a column with a NaN
                q = np.nanpercentile(B[:, seen], [25, 50, 75], axis=0).T
            q[:, 1:][q[:, 1:] == q[:, :-1]] = np.nan  # distinct quartiles, as np.unique
            edges[seen] = np.sort(q, axis=1)  # NaN last
        self.nbins = 1 + (~np.isnan(edges)).sum(axis=1)
        self.edges = edges
        bins = self.of(B)
        flat, values = (bins + 4 * np.arange(p)).ravel(), B.ravel()
        if not present.all():
            flat, values = flat[present.ravel()], values[present.ravel()]
        count = np.bincount(flat, minlength=4 * p).reshape(p, 4).astype(float)
        total = np.bincount(flat, values, minlength=4 * p).reshape(p, 4)
        self.mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        dev = values - self.mean.ravel()[flat]
        var = np.bincount(flat, dev**2, minlength=4 * p).reshape(p, 4)
        self.std = np.sqrt(np.divide(var, count, out=np.zeros_like(var), where=count > 0))
        self.std += STD_FLOOR
        self.freq = count / np.maximum(count.sum(axis=1, keepdims=True), 1)
        self.freq[~present.any(axis=0), 0] = 1.0  # an all-missing feature: one bin of NaN
        col_min = np.fmin.reduce(B, axis=0, initial=np.inf)  # NaN ignored
        col_max = np.fmax.reduce(B, axis=0, initial=-np.inf)
        self.lo = np.column_stack([col_min, edges])
        self.hi = np.column_stack([edges, np.full(p, np.nan)])
        self.hi[np.arange(p), self.nbins - 1] = col_max

    def of(self, X: np.ndarray) -> np.ndarray:
        """The bin of each value: the number of edges below it (lime's ``searchsorted``)."""
        return (X[:, :, None] > self.edges[None]).sum(axis=2, dtype=np.int8)

    def sample(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``m`` rows drawn as lime draws them: bins by training frequency, values in-bin."""
        p = len(self.nbins)
        u = rng.random((m, p))
        cum = np.cumsum(self.freq, axis=1)
        sb = np.minimum((u[:, :, None] >= cum[None]).sum(axis=2, dtype=np.int8), self.nbins - 1)
        sb = sb.astype(np.int8)
        cols = np.broadcast_to(np.arange(p), sb.shape)
        mean, std = self.mean[cols, sb], self.std[cols, sb]
        lo, hi = self.lo[cols, sb], self.hi[cols, sb]
        # a bin holding one value gives that value (lime returns its z-score, 0, there)
        values = mean.copy()
        wide = (hi > lo) & (std > STD_FLOOR)
        values[wide] = truncnorm.rvs(
            (lo[wide] - mean[wide]) / std[wide],
            (hi[wide] - mean[wide]) / std[wide],
            loc=mean[wide],
            scale=std[wide],
            random_state=rng,
        )
        values[~np.isfinite(lo)] = np.nan  # all-missing features stay missing
        return sb, values


def _predict(f, M: np.ndarray, target) -> np.ndarray:
    m, p = M.shape
    step = max(1, PREDICT_CELLS // max(p, 1))
    out = []
    for start in range(0, m, step):
        tgt = None if target is None else target[start : start + step]
        y = np.asarray(f(M[start : start + step], tgt), dtype=np.float64).ravel()
        if y.size != len(M[start : start + step]):
            raise LumosUserError(
                f"The model function returned {y.size} values for "
                f"{len(M[start : start + step])} rows; it must return one output per row.",
                code="bad_model_output",
            )
        out.append(y)
    return np.concatenate(out) if out else np.empty(0)


def _weighted_moments(sample_bins, row_bins, present, ys, y0, kernel_width):
    """Centred weighted Gram matrix, cross-products and total sum of squares per row.

    Each row's design is its own instance (all ones, weight 1) followed by the
    shared samples, coded 1 where a sample shares the row's bin. One batched
    product of ``[sqrt(w) * design, sqrt(w), sqrt(w) * y]`` with itself gives
    every weighted sum the ridge needs.
    """
    m, p = row_bins.shape
    D = sample_bins[None] == row_bins[:, None]
    if not present.all():
        D &= present[:, None, :]
    matches = D.sum(axis=2, dtype=np.int32)
    root_w = np.exp(-(present.sum(axis=1)[:, None] - matches) / (4.0 * kernel_width**2))
    E = np.empty((m, D.shape[1], p + 2))
    np.multiply(D, root_w[:, :, None], out=E[:, :, :p])
    E[:, :, p] = root_w
    E[:, :, p + 1] = root_w * ys
    sums = np.matmul(E.transpose(0, 2, 1), E)
    v = np.concatenate([present, np.ones((m, 1)), y0[:, None]], axis=1)  # the row itself
    sums += v[:, :, None] * v[:, None, :]
    sw, sy, ss_y = sums[:, p, p], sums[:, p, p + 1], sums[:, p + 1, p + 1]
    d_bar = sums[:, :p, p] / sw[:, None]
    y_bar = sy / sw
    return {
        "gram": sums[:, :p, :p] - sw[:, None, None] * d_bar[:, :, None] * d_bar[:, None, :],
        "rhs": sums[:, :p, p + 1] - sw[:, None] * d_bar * y_bar[:, None],
        "ss_tot": np.maximum(ss_y - sw * y_bar**2, 0.0),
        "d_bar": d_bar,
        "y_bar": y_bar,
    }


def _select(stats, present, k: int, method: str) -> np.ndarray:
    """Indices (m, k) of each row's selected features, in lime's order of selection."""
    G, rhs = stats["gram"], stats["rhs"]
    m, p = rhs.shape
    if method == "none":
        return np.broadcast_to(np.arange(p), (m, p)).copy()
    if method == "highest_weights":
        coef = _ridge(G, rhs, present, 0.01)
        return np.argsort(-np.abs(coef), axis=1, kind="stable")[:, :k]
    # forward_selection: add the feature that most raises the weighted R² of an OLS fit
    chosen = np.zeros((m, k), dtype=int)
    taken = ~present.copy()
    rows = np.arange(m)
    diag = np.einsum("mjj->mj", G)
    for t in range(k):
        if t == 0:
            num, den = rhs**2, diag.copy()
        else:
            S = chosen[:, :t]
            inv = np.linalg.pinv(G[rows[:, None, None], S[:, :, None], S[:, None, :]])
            G_Sj = G[rows[:, None], S]  # (m, t, p)
            proj = inv @ G_Sj
            b_S = np.take_along_axis(rhs, S, axis=1)
            num = (rhs - np.einsum("mt,mtp->mp", b_S, proj)) ** 2
            den = diag - np.einsum("mtp,mtp->mp", G_Sj, proj)
        scale = np.maximum(diag.max(axis=1, keepdims=True), 1.0)
        gain = np.where(den > 1e-9 * scale, num / np.where(den > 0, den, 1.0), 0.0)
        gain[taken] = -np.inf
        pick = np.argmax(gain, axis=1)
        # a row with every feature taken (all missing) repeats one; its fit drops it
        chosen[:, t] = pick
        taken[rows, pick] = True
    return chosen


def _fit(stats, present, sel, alpha: float):
    """Ridge on each row's selected features: slopes, intercept, weighted R²."""
    G, rhs = stats["gram"], stats["rhs"]
    rows = np.arange(len(sel))
    G_s = G[rows[:, None, None], sel[:, :, None], sel[:, None, :]]
    keep = np.take_along_axis(present, sel, axis=1)
    keep &= ~_repeats(sel)
    rhs_s = np.take_along_axis(rhs, sel, axis=1)
    beta = _ridge(G_s, rhs_s, keep, alpha)
    intercept = stats["y_bar"] - np.einsum(
        "mk,mk->m", np.take_along_axis(stats["d_bar"], sel, 1), beta
    )
    ss_tot = stats["ss_tot"]
    ss_res = ss_tot + np.einsum("mk,mk->m", np.einsum("mkl,ml->mk", G_s, beta) - 2 * rhs_s, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - np.maximum(ss_res, 0.0) / ss_tot, 1.0)
    return beta, intercept, r2


def _ridge(G, rhs, keep, alpha: float) -> np.ndarray:
    """Batched ``(G + alpha I) beta = rhs``; features not kept get 0."""
    systems = G * (keep[:, :, None] & keep[:, None, :])
    systems = systems + np.eye(G.shape[1]) * np.where(keep, alpha, 1.0)[:, None, :]
    try:
        return np.linalg.solve(systems, (rhs * keep)[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(systems) @ (rhs * keep)[:, :, None])[:, :, 0]


def _repeats(sel: np.ndarray) -> np.ndarray:
    """True where an index already appeared earlier in its row."""
    order = np.argsort(sel, axis=1, kind="stable")
    s = np.take_along_axis(sel, order, axis=1)
    dup_sorted = np.zeros_like(sel, dtype=bool)
    dup_sorted[:, 1:] = s[:, 1:] == s[:, :-1]
    out = np.zeros_like(dup_sorted)
    np.put_along_axis(out, order, dup_sorted, axis=1)
    return out
