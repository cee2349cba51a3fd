"""Exact path-dependent TreeSHAP compiled with Numba, over a :class:`~._forest.Forest`.

Two algorithms, both exact:

* **Precomputed leaf tables** (the idea of FastTreeSHAP v2, Yang 2021). For a
  leaf ``l`` with value ``v`` whose path splits on the unique features ``U``
  (``d`` of them), with ``z_j`` the share of the training cover that follows
  the path at ``j``'s splits and ``o_j`` whether the row does, the leaf gives
  feature ``i`` ``v (o_i − z_i) Σ_{S ⊆ U∖i} w_{|S|} Π_{j∈S} o_j Π_{j∈U∖S∖i} z_j``
  with ``w_k = k! (d−k−1)! / d!``. Every ``o_j`` is 0 or 1, so only the set
  ``T`` of satisfied features matters, and with
  ``P(T) = v Σ_{S ⊆ T} w_{|S|} Π_{j ∈ U∖S} z_j`` tabulated once per leaf for
  every ``T ⊆ U`` (``2^d`` numbers), a row's contribution is
  ``−P(T)`` for ``i ∉ T`` and ``(1 − z_i)/z_i · P(T ∖ i)`` for ``i ∈ T``:
  ``d`` table reads per leaf instead of TreeSHAP's ``O(d²)`` path
  arithmetic. A row walks each tree once, carrying the bit mask ``T`` down;
  rows go in blocks, and a block walks one tree at a time, so that tree's
  tables stay in cache. (A ``z_i`` of exactly 0 — a branch no training row
  took — is taken as ``1e-15``; the error that makes is below ``1e-15 |v|``.)
* **The original algorithm** (Lundberg et al. 2018, ``EXTEND``/``UNWIND``,
  its recursion as a loop over a stack) when the tables would not fit: their
  size is ``Σ_leaves 2^d`` doubles, and FastTreeSHAP's rule — tables only
  while they take under a quarter of the memory budget — decides.

Both run in parallel over rows on every core; the kernels are cached on disk
(Numba's ``cache=True``), so only the first call on a machine compiles.
"""

from __future__ import annotations

import os

import numba as nb
import numpy as np

from lumos.explain._forest import Forest
from lumos.explain._tree_walk import _TINY, BLOCK, _goes_left, _inputs, predict_margin
from lumos.explain._treeshap_recursive import _explain_recursive

__all__ = ["expected_values", "predict_margin", "table_bytes", "tree_shap"]


@nb.njit(cache=True)
def _parents(left, right):
    parent = np.full(len(left), -1, dtype=np.int32)
    for node in range(len(left)):
        if left[node] >= 0:
            parent[left[node]] = node
            parent[right[node]] = node
    return parent


@nb.njit(cache=True, parallel=True)
def _leaf_paths(leaves, parent, left, feature, cover, max_depth):
    """Each leaf's unique path features, their cover shares ``z``, and each split's position."""
    n_leaves = len(leaves)
    depth_of = np.zeros(n_leaves, dtype=np.int32)
    feats = np.full((n_leaves, max_depth), -1, dtype=np.int32)
    zs = np.ones((n_leaves, max_depth))
    pos = np.full(len(left), -1, dtype=np.int32)
    for li in nb.prange(n_leaves):
        steps = np.empty(max_depth, dtype=np.int32)
        children = np.empty(max_depth, dtype=np.int32)
        n_steps = 0
        node = leaves[li]
        while parent[node] >= 0:
            steps[n_steps] = parent[node]
            children[n_steps] = node
            n_steps += 1
            node = parent[node]
        d = 0
        for s in range(n_steps - 1, -1, -1):  # from the root down
            p, child = steps[s], children[s]
            f = feature[p]
            k = 0
            while k < d and feats[li, k] != f:
                k += 1
            if k == d:
                feats[li, d] = f
                d += 1
            share = cover[child] / cover[p] if cover[p] > 0 else 0.0
            zs[li, k] *= share
            pos[p] = k
        depth_of[li] = d
    return depth_of, feats, zs, pos


@nb.njit(cache=True, parallel=True)
def _leaf_tables(leaves, depth_of, zs, value, starts, total):
    """``P(T)`` of every leaf for every subset ``T`` of its path features, and ``(1 − z)/z``."""
    n_leaves = len(leaves)
    tables = np.zeros(total)
    ratio = np.zeros(zs.shape)
    for li in nb.prange(n_leaves):
        d = depth_of[li]
        z = np.empty(d)
        for k in range(d):
            z[k] = max(zs[li, k], _TINY)
            ratio[li, k] = (1.0 - z[k]) / z[k]
        w = np.empty(d)  # w_k = k! (d-k-1)! / d!
        for k in range(d):
            acc = 1.0 / d
            for j in range(1, k + 1):
                acc *= j / (d - j)
            w[k] = acc
        size = 1 << d
        e = np.zeros((size, d + 1))  # elementary symmetric polynomials of z over T
        inside = np.ones(size)  # Π_{j ∈ T} z_j
        e[0, 0] = 1.0
        for t in range(1, size):
            h = _high_bit(t)
            prev = t ^ (1 << h)
            inside[t] = inside[prev] * z[h]
            e[t, 0] = 1.0
            for k in range(1, d + 1):
                e[t, k] = e[prev, k] + z[h] * e[prev, k - 1]
        v = value[leaves[li]]
        base = starts[li]
        full = size - 1
        for t in range(full):  # T = U never occurs: i ∉ T or T ∖ i
            n_in = _popcount(t)
            acc = 0.0
            for k in range(n_in + 1):  # |S| = k, the other |T| − k members of T not in S
                acc += w[k] * e[t, n_in - k]
            tables[base + t] = v * acc * inside[full ^ t]
    return tables, ratio


@nb.njit(cache=True, inline="always")
def _popcount(t):
    c = 0
    while t:
        t &= t - 1
        c += 1
    return c


@nb.njit(cache=True, inline="always")
def _high_bit(t):
    h = 0
    while t >> (h + 1):
        h += 1
    return h


@nb.njit(cache=True, parallel=True)
def _explain_tables(
    X,
    roots,
    group,
    n_groups,
    left,
    right,
    feature,
    threshold,
    kind,
    missing,
    default_left,
    cat_start,
    cat_len,
    cat_left,
    cat_values,
    pos,
    leaf_of,
    depth_of,
    feats,
    ratio,
    starts,
    tables,
    max_depth,
):
    n, p = X.shape
    out = np.zeros((n, n_groups, p + 1))
    n_blocks = (n + BLOCK - 1) // BLOCK
    widest = 0
    for t in range(len(roots)):
        end = roots[t + 1] if t + 1 < len(roots) else len(left)
        widest = max(widest, end - roots[t])
    for b in nb.prange(n_blocks):
        stack_node = np.empty(max_depth + 2, dtype=np.int32)
        stack_mask = np.empty(max_depth + 2, dtype=np.int64)
        right_of = np.empty(widest, dtype=np.int64)  # per node: 1 if the row goes right
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        for t in range(len(roots)):
            g = group[t]
            root = roots[t]
            end = roots[t + 1] if t + 1 < len(roots) else len(left)
            for r in range(lo, hi):
                x = X[r]
                phi = out[r, g]
                # every split's decision first, then a walk without unpredictable branches
                for node in range(root, end):
                    if left[node] >= 0:
                        right_of[node - root] = (
                            0
                            if _goes_left(
                                node,
                                x,
                                feature,
                                threshold,
                                kind,
                                missing,
                                default_left,
                                cat_start,
                                cat_len,
                                cat_left,
                                cat_values,
                            )
                            else 1
                        )
                top = 0
                stack_node[0] = root
                stack_mask[0] = -1  # every bit set: a feature is satisfied until a split is not
                while top >= 0:
                    node = stack_node[top]
                    mask = stack_mask[top]
                    top -= 1
                    if left[node] >= 0:
                        bit = np.int64(1) << pos[node]
                        went_right = right_of[node - root]
                        top += 1
                        stack_node[top] = right[node]
                        stack_mask[top] = mask & ~(bit * (1 - went_right))
                        top += 1
                        stack_node[top] = left[node]
                        stack_mask[top] = mask & ~(bit * went_right)
                    else:
                        li = leaf_of[node]
                        d = depth_of[li]
                        sat = mask & ((np.int64(1) << d) - 1)
                        base = starts[li]
                        here = tables[base + sat]  # 0 when every feature is satisfied
                        for k in range(d):  # branch-free: a satisfied bit is a coin flip
                            bit = (sat >> k) & 1
                            got = ratio[li, k] * tables[base + (sat ^ (np.int64(1) << k))]
                            phi[feats[li, k]] += bit * got - (1 - bit) * here
    return out


# -- the original recursion -----------------------------------------------------------------------


# -- the engine -----------------------------------------------------------------------------------


def table_bytes(forest: Forest) -> int:
    """The bytes the leaf tables of ``forest`` would take."""
    _, depth_of, *_ = _paths(forest)
    return int(8 * (np.int64(1) << depth_of.astype(np.int64)).sum())


def _paths(forest: Forest):
    cached = getattr(forest, "_paths", None)
    if cached is None:
        f = forest
        leaves = np.flatnonzero(f.left < 0).astype(np.int32)
        parent = _parents(f.left, f.right)
        depth = max(1, f.max_depth)
        depth_of, feats, zs, pos = _leaf_paths(leaves, parent, f.left, f.feature, f.cover, depth)
        cached = (leaves, depth_of, feats, zs, pos, depth)
        forest._paths = cached
    return cached


def expected_values(forest: Forest) -> np.ndarray:
    """Each output's expected margin over the training cover: the SHAP base value."""
    f = forest
    out = f.offset.copy()
    ends = np.append(f.roots[1:], len(f.left))
    for t, (root, end) in enumerate(zip(f.roots, ends, strict=True)):
        nodes = np.arange(root, end)
        leaf = nodes[f.left[nodes] < 0]
        total = f.cover[root]
        if total > 0:
            out[f.group[t]] += (f.value[leaf] * f.cover[leaf]).sum() / total
        else:
            out[f.group[t]] += f.value[leaf].mean()
    return out


def available_memory() -> int:
    """Bytes of physical memory free now (the OS's count), or 4 GiB where it cannot tell."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 4 << 30


def tree_shap(forest: Forest, X, *, algorithm: str = "auto", memory_budget: int | None = None):
    """``(n, outputs, features + 1)`` exact SHAP values, the base value last.

    ``algorithm``: ``"tables"`` (precomputed leaf tables), ``"recursive"``
    (the original algorithm), or ``"auto"`` — tables when they take at most a
    quarter of ``memory_budget`` bytes (default: the memory free now;
    FastTreeSHAP's rule), else recursive. Returns the values and the
    algorithm used.
    """
    f = forest
    X = _inputs(f, X)
    leaves, depth_of, feats, zs, pos, depth = _paths(f)
    if algorithm == "auto":
        memory_budget = available_memory() if memory_budget is None else memory_budget
        fits = 8 * (np.int64(1) << depth_of.astype(np.int64)).sum() <= memory_budget // 4
        algorithm = "tables" if fits and depth <= 30 else "recursive"
    common = (
        f.roots,
        f.group,
        f.n_groups,
        f.left,
        f.right,
        f.feature,
        f.threshold,
        f.kind,
        f.missing,
        f.default_left,
        f.cat_start,
        f.cat_len,
        f.cat_left,
        f.cat_values,
    )
    if algorithm == "tables":
        tables = getattr(f, "_tables", None)
        if tables is None:
            sizes = np.int64(1) << depth_of.astype(np.int64)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            table, ratio = _leaf_tables(leaves, depth_of, zs, f.value, starts, int(sizes.sum()))
            leaf_of = np.full(len(f.left), -1, dtype=np.int32)
            leaf_of[leaves] = np.arange(len(leaves), dtype=np.int32)
            tables = (leaf_of, starts, table, ratio)
            f._tables = tables
        leaf_of, starts, table, ratio = tables
        out = _explain_tables(
            X, *common, pos, leaf_of, depth_of, feats, ratio, starts, table, depth
        )
    else:
        out = _explain_recursive(X, *common, f.value, f.cover, depth)
    out[:, :, -1] = expected_values(f)[None, :]
    return out, algorithm
