"""The entity solver GLMix shares with ``lumos.spark``: one model per entity, all at once.

* :func:`fit_entities`: batched Newton, one penalized logistic regression per
  entity, all solved together — rows sorted by entity, per-entity gradients
  by ``np.add.reduceat``, per-entity Hessians by one sparse block product,
  steps by a batched ``np.linalg.solve`` and a per-entity backtracking line
  search. The Spark engine runs it on each partition of entities.
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


class EntityBlock:
    """The rows of one random effect: ``rows`` (sorted by entity) and each one's entity."""

    def __init__(self, ids, rows, ent, X_all, codes, new_index, active):
        self.ids, self.rows, self.ent, self.X_all = ids, rows, ent, X_all
        # every row's entity (-1: no model), for the scores of rows left out by the cap
        self.row_entity = np.where(active[codes], new_index[codes], -1)

    @classmethod
    def build(cls, ids, X_all, keys, min_rows: int, max_rows: int | None) -> EntityBlock:
        """The block of the rows with entity ``ids`` and features ``X_all`` (ones first).

        Entities with fewer than ``min_rows`` rows get no model; each keeps at
        most ``max_rows`` rows (``None``: all), those with the smallest ``keys``.
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
        return cls(uniq[active], rows, ent, X_all, codes, new_index, active)

    def score_all(self, beta) -> np.ndarray:
        hit = np.flatnonzero(self.row_entity >= 0)
        out = np.zeros(len(self.row_entity))
        out[hit] = np.einsum("ij,ij->i", self.X_all[hit], beta[self.row_entity[hit]])
        return out


def fit_entities(X, y, w, offset, ent, n_entities, beta, prior, pen, *, max_iter=50, tol=1e-6):
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
    n, d = X.shape
    if n == 0:
        return beta
    starts = np.flatnonzero(np.r_[True, ent[1:] != ent[:-1]])
    wt = np.ones(n) if w is None else w
    # the block-sparse (E*d x n) matrix whose column i holds row i's features in its
    # entity's d slots: with row i scaled by s_i, its product with X stacks every
    # entity's Hessian X_e' diag(s_e) X_e in one sparse-dense product
    indices = (ent[:, None] * d + np.arange(d)).ravel()
    indptr = np.arange(0, n * d + 1, d)
    eye = np.diag(np.maximum(pen, 1e-10))  # keeps an unpenalized, rank-deficient entity solvable

    def entity_loss(b):
        z = offset + np.einsum("ij,ij->i", X, b[ent])
        rows = wt * (np.logaddexp(0.0, z) - y * z)
        diff = b - prior
        return np.add.reduceat(rows, starts) + 0.5 * (diff * diff) @ pen, z

    loss, z = entity_loss(beta)
    for _ in range(max_iter):
        mu = expit(z)
        grad = np.add.reduceat(X * (wt * (mu - y))[:, None], starts, axis=0)
        grad += (beta - prior) * pen
        s = wt * mu * (1.0 - mu)
        blocks = sp.csc_matrix(
            ((X * s[:, None]).ravel(), indices, indptr), shape=(n_entities * d, n)
        )
        H = (blocks @ X).reshape(n_entities, d, d) + eye
        step = -np.linalg.solve(H, grad[:, :, None])[:, :, 0]
        slope = np.einsum("ij,ij->i", grad, step)
        t = np.ones(n_entities)
        for _ in range(30):  # per-entity backtracking (Armijo) line search
            cand = beta + t[:, None] * step
            new_loss, new_z = entity_loss(cand)
            bad = new_loss > loss + 1e-4 * t * slope + 1e-12 * np.abs(loss)
            if not bad.any():
                break
            t[bad] *= 0.5
        t[bad] = 0.0
        beta = beta + t[:, None] * step
        loss, z = entity_loss(beta) if bad.any() else (new_loss, new_z)
        if np.max(np.abs(t[:, None] * step)) < tol:
            break
    return beta
