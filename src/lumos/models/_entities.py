"""The entity solver GLMix shares with ``lumos.spark``: one model per entity, all at once.

* :func:`fit_entities`: batched Newton, one penalized logistic regression per
  entity, all solved together — rows sorted by entity, per-entity gradients
  and per-row scores by one block-sparse matrix built once per solve
  (:class:`EntityRows`), per-entity Hessians by batched dense products over
  entities of similar row counts, steps by a batched ``np.linalg.solve`` and
  a per-entity backtracking line search along each step's precomputed
  change of scores. The Spark engine runs it on each partition of entities.
* :class:`EntityBlock`: one random effect's rows, sorted by entity and capped.
* :func:`feature_union`: every coordinate's feature columns, each once.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit


def feature_union(fixed, effects) -> list[str]:
    """The fixed effect's and every random effect's feature columns, each once, in order.

    >>> feature_union(["a", "b"], {"member_id": ["b", "c"]})
    ['a', 'b', 'c']
    """
    return list(dict.fromkeys([*fixed, *(c for feats in effects.values() for c in feats)]))


FREEZE = 0.5  # when at most this share of entities still moves, solve those alone


def effect_features(M, columns, at) -> np.ndarray:
    """Rows ``at`` of the ``columns`` of ``M``, after a column of ones (the intercept's).

    >>> effect_features(np.arange(6.0).reshape(3, 2), [1], np.array([2, 0]))
    array([[1., 5.],
           [1., 1.]])
    """
    X = np.empty((len(at), len(columns) + 1))
    X[:, 0] = 1.0
    X[:, 1:] = M[np.ix_(at, columns)]
    return X


class EntityBlock:
    """The rows of one random effect: ``rows`` (sorted by entity) and each one's entity.

    ``X`` holds those rows' features (ones first) in that order and
    ``solver_rows`` their :class:`EntityRows`, built once for every solve of
    the block; rows that the cap leaves out are kept apart for scoring.
    """

    def __init__(self, ids, rows, ent, n, features, row_entity):
        self.ids, self.rows, self.ent, self.n = ids, rows, ent, n
        self.X = features(rows)
        self.solver_rows = EntityRows(self.X, ent, len(ids)) if len(rows) else None
        capped = row_entity >= 0
        capped[rows] = False
        self.capped = np.flatnonzero(capped)
        self.capped_entity = row_entity[self.capped]
        self.capped_X = features(self.capped)

    @classmethod
    def build(cls, ids, M, columns, keys, min_rows: int, max_rows: int | None, at=None):
        """The block of the rows with entity ``ids`` and the features ``columns`` of ``M``.

        Row i is row ``at[i]`` of ``M`` (``None``: row i). Entities with fewer
        than ``min_rows`` rows get no model; each keeps at most ``max_rows``
        rows (``None``: all), those with the smallest ``keys``.
        """
        n = len(ids)
        uniq, codes = np.unique(ids, return_inverse=True)
        counts = np.bincount(codes, minlength=len(uniq))
        active = counts >= min_rows
        order = np.lexsort((keys, codes))  # stable: ties keep the rows' order
        first = np.r_[0, np.cumsum(counts)[:-1]]
        rank = np.arange(n) - first[codes[order]]
        keep = active[codes[order]]
        if max_rows is not None:
            keep &= rank < max_rows
        rows = order[keep]
        new_index = np.cumsum(active) - 1
        ent = new_index[codes[rows]]
        row_entity = np.where(active[codes], new_index[codes], -1)  # -1: no model

        def features(r):
            return effect_features(M, columns, r if at is None else at[r])

        return cls(uniq[active], rows, ent, n, features, row_entity)

    def score_all(self, beta) -> np.ndarray:
        """Every row's score ``x . beta[its entity]`` (0 for rows of entities without a model)."""
        out = np.zeros(self.n)
        if self.solver_rows is not None:
            out[self.rows] = self.solver_rows.scores(beta)
        out[self.capped] = np.einsum("ij,ij->i", self.capped_X, beta[self.capped_entity])
        return out

    def fit(self, y, w, offset, beta, prior, pen, *, max_iter, tol) -> np.ndarray:
        """:func:`fit_entities` on this block's rows; ``y``, ``w`` and ``offset`` cover all rows."""
        r = self.rows
        return fit_entities(
            self.X,
            y[r],
            None if w is None else w[r],
            offset[r],
            self.ent,
            len(self.ids),
            beta,
            prior,
            pen,
            max_iter=max_iter,
            tol=tol,
            rows=self.solver_rows,
        )


def fit_entities(
    X, y, w, offset, ent, n_entities, beta, prior, pen, *, max_iter=50, tol=1e-6, rows=None
):
    """Batched Newton: one penalized logistic regression per entity, all solved together.

    Parameters
    ----------
    X : ndarray of shape (n_rows, d)
        Rows sorted by entity; column 0 is the intercept's column of ones.
    y, offset : ndarray of shape (n_rows,)
    w : ndarray of shape (n_rows,) or None
    ent : ndarray of shape (n_rows,)
        Each row's entity in ``0..n_entities-1``, non-decreasing, every entity present.
    beta, prior : ndarray of shape (n_entities, d)
        Starting point and the point the penalty pulls towards.
    pen : ndarray of shape (d,)
        The L2 penalty of each coefficient.
    max_iter : int, default=50
    tol : float, default=1e-6
        Stop when no coefficient moves by more than ``tol`` in an iteration.
    rows : EntityRows, optional
        ``EntityRows(X, ent, n_entities)``, when the caller keeps one for many solves.

    Returns
    -------
    ndarray of shape (n_entities, d)

    Examples
    --------
    >>> X = np.ones((4, 1)); y = np.array([1.0, 0.0, 1.0, 1.0]); ent = np.array([0, 0, 1, 1])
    >>> b = fit_entities(X, y, None, np.zeros(4), ent, 2, np.zeros((2, 1)), np.zeros((2, 1)),
    ...                  np.array([1e-4]))
    >>> b.ravel().round(2)  # entity 1 saw only positives: a large but finite intercept
    array([0.  , 7.84])
    """
    n = len(X)
    if n == 0:
        return beta
    rows = EntityRows(X, ent, n_entities) if rows is None else rows
    wt = np.ones(n) if w is None else w
    eye = np.diag(np.maximum(pen, 1e-10))  # keeps an unpenalized, rank-deficient entity solvable

    def entity_loss(b, z):
        losses = wt * (np.logaddexp(0.0, z) - y * z)
        diff = b - prior
        return np.add.reduceat(losses, rows.starts) + 0.5 * (diff * diff) @ pen

    z = offset + rows.scores(beta)
    loss = entity_loss(beta, z)
    for it in range(max_iter):
        mu = expit(z)
        grad = rows.sums(wt * (mu - y)) + (beta - prior) * pen
        H = rows.hessians(wt * mu * (1.0 - mu)) + eye
        step = -np.linalg.solve(H, grad[:, :, None])[:, :, 0]
        slope = np.einsum("ij,ij->i", grad, step)
        dz = rows.scores(step)
        t = np.ones(n_entities)
        for _ in range(30):  # per-entity backtracking (Armijo) line search
            new_z = z + t[ent] * dz
            new_loss = entity_loss(beta + t[:, None] * step, new_z)
            bad = new_loss > loss + 1e-4 * t * slope + 1e-12 * np.abs(loss)
            if not bad.any():
                break
            t[bad] *= 0.5
        if bad.any():  # entities whose step never helped stay where they are
            t[bad] = 0.0
            new_z = z + t[ent] * dz
            new_loss = entity_loss(beta + t[:, None] * step, new_z)
        beta = beta + t[:, None] * step
        loss, z = new_loss, new_z
        moving = np.abs(t[:, None] * step).max(axis=1) >= tol
        if not moving.any():
            break
        if moving.mean() <= FREEZE and it + 1 < max_iter:
            # the others have converged (their last step was under tol): solve these alone
            r = np.flatnonzero(moving[ent])
            beta[moving] = fit_entities(
                X[r],
                y[r],
                None if w is None else w[r],
                offset[r],
                (np.cumsum(moving) - 1)[ent[r]],
                int(moving.sum()),
                beta[moving],
                prior[moving],
                pen,
                max_iter=max_iter - it - 1,
                tol=tol,
            )
            break
    return beta


class EntityRows:
    """The products of :func:`fit_entities` over rows sorted by entity, set up once per solve.

    ``design`` is the block-sparse (n_entities*d x n_rows) matrix whose column i
    holds row i's features in its entity's d slots, so per-entity sums and
    per-row scores are one sparse product each. The Hessians come from
    entities padded to a common row count in groups of similar counts (at most
    a quarter of padding), one batched dense product per group.
    """

    GROWTH = 1.25  # the padded row count of a group over its smallest entity's

    def __init__(self, X, ent, n_entities):
        n, d = X.shape
        self.d, self.n_entities = d, n_entities
        index = np.int32 if n_entities * d < 2**31 and n * d < 2**31 else np.int64
        indices = (ent.astype(index)[:, None] * d + np.arange(d, dtype=index)).ravel()
        indptr = np.arange(0, n * d + 1, d, dtype=index)
        self.design = sp.csc_matrix((X.ravel(), indices, indptr), shape=(n_entities * d, n))
        counts = np.bincount(ent, minlength=n_entities)
        self.starts = np.r_[0, np.cumsum(counts)[:-1]]
        # exact counts up to 8, then geometric bands: every group pads by less than GROWTH
        band = np.where(
            counts <= 8,
            counts,
            9 + np.floor(np.log(np.maximum(counts, 8) / 8) / np.log(self.GROWTH)),
        )
        self.groups = []
        for key in np.unique(band):
            members = np.flatnonzero(band == key)
            width = int(counts[members].max())
            at = self.starts[members][:, None] + np.arange(width)
            pad = np.arange(width) >= counts[members][:, None]
            at[pad] = n  # row n of the weights: the padding's 0
            Xp = X[np.minimum(at, n - 1)]
            Xp[pad] = 0.0
            self.groups.append((members, at, Xp, np.empty_like(Xp)))

    def scores(self, beta) -> np.ndarray:
        """Each row's ``x . beta[its entity]``."""
        return self.design.T @ beta.ravel()

    def sums(self, r) -> np.ndarray:
        """Each entity's ``sum of r_i x_i`` over its rows, shape (n_entities, d)."""
        return (self.design @ r).reshape(self.n_entities, self.d)

    def hessians(self, s) -> np.ndarray:
        """Each entity's ``X_e' diag(s_e) X_e``, shape (n_entities, d, d)."""
        out = np.empty((self.n_entities, self.d, self.d))
        s = np.r_[s, 0.0]
        for members, at, Xp, scaled in self.groups:  # ``scaled``: a buffer kept for every call
            np.multiply(Xp, s[at][:, :, None], out=scaled)
            out[members] = np.matmul(Xp.transpose(0, 2, 1), scaled)
        return out
