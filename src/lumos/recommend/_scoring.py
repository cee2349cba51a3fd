"""Batch scoring: every member's candidates scored as dot products, the top K kept.

A GLMix or affinity score of a (member, course) pair is one dot product
``U[m] · V[c]`` once each side is written as a vector (global terms, the
member's coefficients against the course's features, the course's against the
member's, intercepts). Members are scored in batches against the whole catalog
with one matrix product (BLAS, all cores), the candidates of each member are
read out of that block, and the best K are kept with ``argpartition``: no
Python loop over members or pairs.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from lumos.errors import LumosUserError


def top_k(
    U, V, k: int, *, candidates: sparse.csr_matrix | None = None, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best courses per member by ``U @ V.T``, among each member's candidates.

    Parameters
    ----------
    U : ndarray of shape (n_members, d)
    V : ndarray of shape (n_courses, d)
    k : int
    candidates : sparse matrix of shape (n_members, n_courses), optional
        A member's candidates are the nonzero columns of its row (all courses
        when omitted).
    batch_size : int, default=256
        Members per matrix product.

    Returns
    -------
    index : ndarray of shape (n_members, k), int64
        Course positions, best first; -1 where a member has fewer candidates.
    score : ndarray of shape (n_members, k)
        Their scores (float32 when ``U`` and ``V`` both are, else float64);
        -inf where ``index`` is -1.

    Examples
    --------
    >>> U = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> V = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    >>> idx, s = top_k(U, V, 2, candidates=sparse.csr_matrix([[0, 1, 1], [1, 1, 1]]))
    >>> idx.tolist(), s.round(2).tolist()
    ([[2, 1], [1, 2]], [[0.5, 0.2], [0.8, 0.5]])
    """
    U, V = np.asarray(U), np.asarray(V)
    kind = np.float32 if U.dtype == V.dtype == np.float32 else np.float64
    U, V = U.astype(kind, copy=False), V.astype(kind, copy=False)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise LumosUserError(
            f"U {U.shape} and V {V.shape} must be matrices with as many columns.",
            code="bad_argument",
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise LumosUserError(f"k must be an int >= 1. Got {k!r}.", code="bad_argument")
    n, C = len(U), len(V)
    if candidates is not None:
        candidates = sparse.csr_matrix(candidates)
        if candidates.shape != (n, C):
            raise LumosUserError(
                f"candidates is {candidates.shape}; it must be (members, courses) = {(n, C)}.",
                code="bad_argument",
            )
    k = int(k)
    index = np.full((n, k), -1, dtype=np.int64)
    score = np.full((n, k), -np.inf, dtype=kind)
    Vt = np.ascontiguousarray(V.T)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        block = U[start:stop] @ Vt  # batch × courses
        if candidates is None:
            cols, values = None, block
        else:
            cols = _padded(candidates, start, stop)  # batch × width, -1 padding
            padded = cols.size and cols.min() < 0
            values = np.take_along_axis(block, np.maximum(cols, 0) if padded else cols, axis=1)
            if padded:
                values[cols < 0] = -np.inf
        kk = min(k, values.shape[1])
        part = np.argpartition(values, values.shape[1] - kk, axis=1)[:, -kk:]
        best = np.take_along_axis(values, part, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        part, best = np.take_along_axis(part, order, 1), np.take_along_axis(best, order, 1)
        chosen = part if cols is None else np.take_along_axis(cols, part, axis=1)
        chosen[~np.isfinite(best)] = -1
        index[start:stop, :kk], score[start:stop, :kk] = chosen, best
    return index, score


def _padded(m: sparse.csr_matrix, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop``'s column indices, left-aligned and padded with -1."""
    lo, hi = m.indptr[start], m.indptr[stop]
    counts = np.diff(m.indptr[start : stop + 1])
    width = max(int(counts.max(initial=0)), 1)
    if (counts == width).all():  # every row has as many candidates: a reshape
        return m.indices[lo:hi].reshape(stop - start, width).astype(np.int64, copy=False)
    row = np.repeat(np.arange(stop - start), counts)
    slot = np.arange(hi - lo) - np.repeat(m.indptr[start:stop] - lo, counts)
    cols = np.full((stop - start, width), -1, dtype=np.int64)
    cols[row, slot] = m.indices[lo:hi]
    return cols
