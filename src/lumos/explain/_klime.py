"""K-LIME: k-means clusters, each explained by its own ridge GLM of the model's scores.

As H2O Driverless AI defines it: the features for k-means are the most
important ones of a random-forest surrogate of the scores (all of them when
there are at most six); one penalized GLM is fitted per cluster and one on all
rows; a cluster too small for its own GLM uses the global one; the number of
clusters maximizes the R² between the scores and the pooled GLM predictions,
here on a seeded holdout split. It needs only the features and the scores, so
it explains a scores-only table.

Every GLM comes from one Gram matrix of ``[X, y, 1]`` per cluster (one BLAS
call each on rows sorted by cluster; the global one is their sum), and all of
them are solved by one batched ``np.linalg.solve``.
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from lumos._checks import check_number, renamed
from lumos.errors import LumosUserError

K_GRID = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20)
SURROGATE_ROWS = 10_000
KMEANS_ROWS = 10_000


def klime_attributions(
    A,
    scores,
    *,
    random_state: int = 0,
    k_grid=None,
    min_cluster_size: int = 20,
    alpha: float = 1e-3,
    max_cluster_features: int = 6,
    holdout: float = 0.2,
    seed: int | None = None,
):
    """Explain the scores of each row of ``A`` by its K-LIME cluster's ridge GLM.

    Parameters
    ----------
    A : ndarray of shape (n, p)
        Feature rows; NaN are replaced by the column means.
    scores : ndarray of shape (n,)
        The model's output for each row.
    random_state : int, default=0
        Seed of the surrogate forest, k-means and the holdout split (``seed`` is its
        older name).
    k_grid : sequence of int, optional
        Numbers of clusters to try (1 is the global GLM alone); by default
        1–20. Values above ``n / min_cluster_size`` are dropped.
    min_cluster_size : int, default=20
        Clusters with fewer rows use the global GLM.
    alpha : float, default=1e-3
        Ridge penalty on the standardized coefficients, relative to the number
        of rows: each GLM minimizes ``mean((y - Xb)²) + alpha * |b|²``.
    max_cluster_features : int, default=6
        At most this many features (and at most a quarter of them) define the
        clusters when there are more than six.
    holdout : float, default=0.2
        Fraction of rows held out to choose the number of clusters.

    Returns
    -------
    values : ndarray of shape (n, p)
        ``coef * (x - cluster mean)`` in the features' own units.
    base : ndarray of shape (n,)
        The cluster GLM at the cluster mean (the cluster's mean score), so
        ``values.sum(1) + base`` is the K-LIME prediction.
    details : dict
        ``k``: chosen number of clusters; ``cluster`` (n,): each row's
        cluster, -1 for the global GLM; ``r2``: R² of the K-LIME predictions
        on all rows; ``r2_by_cluster``: {cluster: R²}; ``cluster_features``:
        column indices used by k-means; ``k_scores``: {k: holdout R²} (empty
        when only one k was possible); ``coef`` (k + 1, p), ``intercept``
        (k + 1,), ``cluster_mean`` (k + 1, p): row ``c`` is cluster ``c``'s
        GLM and the last row the global one, so ``coef[cluster]`` are each
        row's coefficients; ``prediction`` (n,).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A = rng.normal(size=(400, 3))
    >>> A[:, 0] += np.where(A[:, 0] > 0, 4.0, -4.0)  # two blobs
    >>> scores = np.where(A[:, 0] > 0, 2 * A[:, 1], -A[:, 2])
    >>> values, base, details = klime_attributions(A, scores, k_grid=[1, 2])
    >>> details["k"], round(details["r2"], 3)
    (2, 1.0)
    >>> np.round(details["coef"][:2], 1) + 0.0  # one GLM per blob
    array([[ 0.,  0., -1.],
           [ 0.,  2.,  0.]])
    >>> bool(np.allclose(values.sum(1) + base, details["prediction"]))
    True
    """
    random_state = renamed(
        random_state, seed, old="seed", new="random_state", owner="klime_attributions"
    )
    A, y = _inputs(A, scores)
    min_cluster_size = int(
        check_number("klime", "min_cluster_size", min_cluster_size, low=1, integer=True)
    )
    grid = _grid(k_grid, len(A), min_cluster_size)
    alpha = float(check_number("klime", "alpha", alpha))
    max_cluster_features = int(
        check_number("klime", "max_cluster_features", max_cluster_features, low=1, integer=True)
    )
    holdout = check_number("klime", "holdout", holdout, strict=True, high=1, high_strict=True)
    holdout = float(holdout)
    # One thread for BLAS and OpenMP: on a busy machine their spinning idle workers made
    # this up to 20x slower, and one thread explains 100,000 × 100 in about two seconds.
    with threadpool_limits(limits=1):
        return _explain(
            A, y, grid, random_state, min_cluster_size, alpha, max_cluster_features, holdout
        )


def _explain(A, y, grid, seed, min_cluster_size, alpha, max_cluster_features, holdout):
    n = len(A)
    rng = np.random.default_rng(seed)
    X = _impute(A)
    center, spread = X.mean(axis=0), X.std(axis=0)
    spread[spread == 0] = 1.0
    Xs = (X - center) / spread  # standardized once, for the clusters' conditioning
    y_mean = y.mean()
    ys = y - y_mean
    features = _cluster_features(Xs, ys, max_cluster_features, seed)
    C = Xs[:, features]
    sub = rng.choice(n, size=min(n, KMEANS_ROWS), replace=False)
    split = rng.permutation(n)
    n_hold = min(max(1, round(holdout * n)), n - 1)
    hold, train = split[:n_hold], split[n_hold:]

    labels = {k: _kmeans(C, sub, k, seed) for k in grid}
    k_scores = {}
    if len(grid) > 1:
        X_train, y_train, X_hold = Xs[train], ys[train], Xs[hold]
        for k in grid:
            model = _fit(X_train, y_train, labels[k][train], k, min_cluster_size, alpha)
            k_scores[k] = _r2(ys[hold], _predict(model, X_hold, labels[k][hold]))
    k = max(grid, key=lambda g: (k_scores.get(g, 0.0), -g))

    coef, intercept, mean, small = _fit(Xs, ys, labels[k], k, min_cluster_size, alpha)
    cluster = np.where(small[labels[k]], -1, labels[k])
    values = coef[cluster] * (Xs - mean[cluster])
    base = y_mean + intercept[cluster] + np.einsum("ij,ij->i", mean[cluster], coef[cluster])
    prediction = values.sum(axis=1) + base
    ids, inverse = np.unique(cluster, return_inverse=True)
    r2_by_cluster = {
        int(c): _r2(y[inverse == i], prediction[inverse == i]) for i, c in enumerate(ids)
    }
    coef_units = coef / spread
    details = {
        "k": k,
        "cluster": cluster,
        "r2": _r2(y, prediction),
        "r2_by_cluster": r2_by_cluster,
        "cluster_features": [int(j) for j in features],
        "k_scores": k_scores,
        "coef": coef_units,
        "intercept": y_mean + intercept - center @ coef_units.T,
        "cluster_mean": mean * spread + center,
        "prediction": prediction,
    }
    return values, base, details


def _fit(Xs, ys, labels, k, min_cluster_size, alpha):
    """Ridge GLMs of clusters 0..k-1 and (last) of all rows, in standardized units."""
    n, p = Xs.shape
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels, minlength=k)
    D = np.empty((n, p + 2))
    np.take(Xs, order, axis=0, out=D[:, :p])
    D[:, p] = ys[order]
    D[:, p + 1] = 1.0
    gram = np.zeros((k + 1, p + 2, p + 2))
    stops = np.cumsum(sizes)
    for c in range(k):  # one BLAS call per cluster
        block = D[stops[c] - sizes[c] : stops[c]]
        gram[c] = block.T @ block
    gram[k] = gram[:k].sum(axis=0)

    count = np.maximum(gram[:, -1, -1], 1.0)
    mean = gram[:, :p, -1] / count[:, None]
    y_mean = gram[:, p, -1] / count
    cov = gram[:, :p, :p] / count[:, None, None] - mean[:, :, None] * mean[:, None, :]
    cov_y = gram[:, :p, p] / count[:, None] - mean * y_mean[:, None]
    var = np.diagonal(cov, axis1=1, axis2=2)
    constant = var <= 1e-10  # features are standardized: a constant has variance ~0
    sd = np.where(constant, 1.0, np.sqrt(np.where(constant, 1.0, var)))
    corr = cov / (sd[:, :, None] * sd[:, None, :])
    corr[constant[:, :, None] | constant[:, None, :]] = 0.0
    lhs = corr + np.eye(p) * np.where(constant, 1.0, alpha + 1e-10)[:, None, :]
    rhs = np.where(constant, 0.0, cov_y / sd)
    coef = np.linalg.solve(lhs, rhs[:, :, None])[:, :, 0] / sd
    intercept = y_mean - np.einsum("ij,ij->i", mean, coef)

    small = np.append(sizes < min_cluster_size, False) | (k == 1)
    coef[small], intercept[small], mean[small] = coef[k], intercept[k], mean[k]
    return coef, intercept, mean, small[:k]


def _predict(model, Xs, labels):
    coef, intercept, _, small = model
    cluster = np.where(small[labels], -1, labels)
    return intercept[cluster] + np.einsum("ij,ij->i", Xs, coef[cluster])


def _kmeans(C, sub, k, seed) -> np.ndarray:
    if k == 1:
        return np.zeros(len(C), dtype=np.intp)
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():  # fewer distinct points than clusters is fine here
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, n_init=2, max_iter=100, random_state=seed).fit(C[sub])
    return km.predict(C).astype(np.intp)


def _cluster_features(Xs, ys, max_features, seed) -> np.ndarray:
    n, p = Xs.shape
    if p <= 6:
        return np.arange(p)
    from sklearn.ensemble import ExtraTreesRegressor

    rows = np.random.default_rng(seed).choice(n, size=min(n, SURROGATE_ROWS), replace=False)
    forest = ExtraTreesRegressor(
        n_estimators=12,
        max_depth=8,
        min_samples_leaf=5,
        max_features=0.3,
        n_jobs=-1,
        random_state=seed,
    ).fit(Xs[rows], ys[rows])
    top = min(int(np.ceil(0.25 * p)), max_features)
    return np.sort(np.argsort(-forest.feature_importances_, kind="stable")[:top])


def _r2(y, pred) -> float:
    ss_tot = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    ss_res = float(((y - pred) ** 2).sum())
    if ss_tot <= 0:
        return 1.0 if ss_res <= 1e-12 * max(1.0, float((y**2).sum())) else 0.0
    return 1.0 - ss_res / ss_tot


def _impute(A: np.ndarray) -> np.ndarray:
    missing = np.isnan(A)
    if not missing.any():
        return A
    count = np.maximum((~missing).sum(axis=0), 1)
    means = np.where(missing, 0.0, A).sum(axis=0) / count
    return np.where(missing, means, A)


def _inputs(A, scores):
    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    if A.ndim != 2 or len(A) == 0:
        raise LumosUserError(
            f"K-LIME needs a non-empty 2-D feature matrix. Got shape {A.shape}.",
            code="bad_argument",
        )
    if y.shape != (len(A),):
        raise LumosUserError(
            f"K-LIME needs one score per row: {len(A)} rows but scores of shape {y.shape}.",
            code="bad_argument",
        )
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise LumosUserError(
            f"K-LIME scores must be finite; row {bad[0]} holds {y[bad[0]]}. "
            "Drop or fill the rows without a score.",
            code="bad_argument",
        )
    return A, y


def _grid(k_grid, n: int, min_cluster_size: int) -> list[int]:
    given = K_GRID if k_grid is None else k_grid
    try:
        ks = sorted({int(k) for k in given if int(k) == k})
    except (TypeError, ValueError):
        ks = []
    if not ks or ks[0] < 1 or len(ks) != len(set(given)):
        raise LumosUserError(
            f"The 'k_grid' parameter of klime must be a list of ints >= 1. Got {k_grid!r}.",
            code="bad_argument",
        )
    kept = [k for k in ks if k == 1 or k <= min(n / min_cluster_size, KMEANS_ROWS)]
    if not kept:
        raise LumosUserError(
            f"No k in k_grid={list(ks)} fits {n} rows with min_cluster_size="
            f"{min_cluster_size}: k may be at most {min(n // min_cluster_size, KMEANS_ROWS)}. "
            "Add 1 (the global GLM) or lower min_cluster_size.",
            code="bad_argument",
        )
    return kept
