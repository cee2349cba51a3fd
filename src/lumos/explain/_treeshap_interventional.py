"""Exact interventional (background) TreeSHAP compiled with Numba, with the background's cost
shared by every row explained.

Interventional SHAP explains ``f(x)`` against a background of ``m`` rows: the
value of a coalition ``S`` is the mean over background rows ``b`` of ``f`` at
the row that takes ``S``'s features from ``x`` and the rest from ``b``
(``shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")``).
The attributions sum to ``f(x)`` minus the background's mean ``f``.

A tree is a sum of leaves, and a leaf ``l`` with value ``v`` and unique path
features ``U`` is reached by a hybrid row when each feature in ``U`` comes from
a row that satisfies all of its splits on the path. For one background row
``b``, let ``X`` be the set of ``U``'s features ``x`` satisfies and ``B`` those
``b`` satisfies. A feature in both never matters; if one is in neither, the
leaf is never reached. Otherwise, with ``A = X ∖ B`` (``a`` features, each must
come from ``x``) and ``C = B ∖ X`` (``c``, each must come from ``b``), the leaf
is a unanimity game, and its Shapley values are ``v (a−1)! c! / (a+c)!`` for
each feature of ``A`` and ``−v a! (c−1)! / (a+c)!`` for each of ``C``.

The leaf's share of a row's attributions thus depends only on the two masks
``X`` and ``B``, ``d`` bits each (the same masks the path-dependent tables
carry down a tree). So, as in WOODELF (Nadler et al. 2025), the background is
read once: each background row's mask at every leaf is counted, and a table of
each leaf's contribution to each of its ``d`` features is built for every mask
``X`` a row can have — summing, for ``X``, over the background masks that reach
the leaf, which are ``B = (U ∖ X) ∪ R`` for ``R ⊆ X``: ``3^d`` terms per leaf.
A row then walks each tree once and adds ``d`` table entries per leaf: its cost
does not grow with the background. Background rows and rows to explain cost
``O(leaves · d)`` each; the tables take ``Σ_leaves 2^d d`` doubles.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from lumos.explain._forest import Forest
from lumos.explain._tree_walk import BLOCK, _goes_left, _inputs, predict_margin
from lumos.explain._treeshap import _paths, _popcount


@nb.njit(cache=True, inline="always")
def _leaf_masks(x, root, end, right_of, stack_node, stack_mask, found_leaf, found_mask, left,
                right, feature, threshold, kind, missing, default_left, cat_start, cat_len,
                cat_left, cat_values, pos, leaf_of, depth_of):  # fmt: skip
    """The leaves of one tree with the row's mask at each (the path features whose every
    split the row satisfies): ``found_leaf[:k]``, ``found_mask[:k]``; returns ``k``."""
    for node in range(root, end):  # every split's decision first
        if left[node] >= 0:
            goes_left = _goes_left(node, x, feature, threshold, kind, missing, default_left,
                                   cat_start, cat_len, cat_left, cat_values)  # fmt: skip
            right_of[node - root] = 0 if goes_left else 1
    found, top = 0, 0
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
            found_leaf[found] = li
            found_mask[found] = mask & ((np.int64(1) << depth_of[li]) - 1)
            found += 1
    return found


@nb.njit(cache=True)
def _widest(roots, n_nodes):
    """The most nodes in one tree."""
    widest = 0
    for t in range(len(roots)):
        end = roots[t + 1] if t + 1 < len(roots) else n_nodes
        widest = max(widest, end - roots[t])
    return widest


@nb.njit(cache=True, parallel=True)
def _background_counts(B, roots, left, right, feature, threshold, kind, missing, default_left,
                       cat_start, cat_len, cat_left, cat_values, pos, leaf_of, depth_of, starts,
                       total, max_depth):  # fmt: skip
    """How many background rows have each mask at each leaf (``starts[leaf] + mask``)."""
    counts = np.zeros(total)
    widest = _widest(roots, len(left))
    for t in nb.prange(len(roots)):  # a tree's leaves are its own: no two threads add to one
        stack_node = np.empty(max_depth + 2, dtype=np.int32)
        stack_mask = np.empty(max_depth + 2, dtype=np.int64)
        right_of = np.empty(widest, dtype=np.int64)
        found_leaf = np.empty(widest, dtype=np.int64)
        found_mask = np.empty(widest, dtype=np.int64)
        root = roots[t]
        end = roots[t + 1] if t + 1 < len(roots) else len(left)
        for r in range(B.shape[0]):
            k = _leaf_masks(B[r], root, end, right_of, stack_node, stack_mask, found_leaf,
                            found_mask, left, right, feature, threshold, kind, missing,
                            default_left, cat_start, cat_len, cat_left, cat_values, pos,
                            leaf_of, depth_of)  # fmt: skip
            for j in range(k):
                counts[starts[found_leaf[j]] + found_mask[j]] += 1.0
    return counts


@nb.njit(cache=True, parallel=True)
def _mask_tables(leaves, depth_of, value, counts, starts, table_starts, total, m):
    """Each leaf's contribution to each of its features, for every mask a row can have there.

    ``tables[table_starts[leaf] + X·d + k]``: the mean over the background of the leaf's
    Shapley value for its ``k``-th path feature, for a row whose mask is ``X``.
    """
    tables = np.zeros(total)
    fact = np.ones(65)
    for k in range(1, 65):
        fact[k] = fact[k - 1] * k
    for li in nb.prange(len(leaves)):
        d = depth_of[li]
        full = (np.int64(1) << d) - 1
        v = value[leaves[li]] / m
        cbase = starts[li]
        for x in range(full + 1):
            outside = full & ~np.int64(x)
            c = d - _popcount(np.int64(x))
            n_x = d - c
            row = table_starts[li] + x * d
            r = np.int64(x)
            while True:  # every R ⊆ X, X itself first, the empty set last
                n = counts[cbase + (outside | r)]
                if n > 0:
                    a = n_x - _popcount(r)
                    if a + c > 0:
                        plus = n * v * fact[a - 1] * fact[c] / fact[a + c] if a > 0 else 0.0
                        minus = n * v * fact[a] * fact[c - 1] / fact[a + c] if c > 0 else 0.0
                        for k in range(d):
                            bit = np.int64(1) << k
                            if x & bit:
                                if not r & bit:
                                    tables[row + k] += plus
                            else:
                                tables[row + k] -= minus
                if r == 0:
                    break
                r = (r - 1) & x
    return tables


@nb.njit(cache=True, parallel=True)
def _explain_masks(X, roots, group, n_groups, left, right, feature, threshold, kind, missing,
                   default_left, cat_start, cat_len, cat_left, cat_values, pos, leaf_of, depth_of,
                   feats, table_starts, tables, max_depth):  # fmt: skip
    """Each row's values: a block of rows walks one tree at a time, its tables in cache."""
    n, p = X.shape
    out = np.zeros((n, n_groups, p + 1))
    widest = _widest(roots, len(left))
    for b in nb.prange((n + BLOCK - 1) // BLOCK):
        stack_node = np.empty(max_depth + 2, dtype=np.int32)
        stack_mask = np.empty(max_depth + 2, dtype=np.int64)
        right_of = np.empty(widest, dtype=np.int64)
        found_leaf = np.empty(widest, dtype=np.int64)
        found_mask = np.empty(widest, dtype=np.int64)
        for t in range(len(roots)):
            root = roots[t]
            end = roots[t + 1] if t + 1 < len(roots) else len(left)
            for r in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
                phi = out[r, group[t]]
                k = _leaf_masks(X[r], root, end, right_of, stack_node, stack_mask, found_leaf,
                                found_mask, left, right, feature, threshold, kind, missing,
                                default_left, cat_start, cat_len, cat_left, cat_values, pos,
                                leaf_of, depth_of)  # fmt: skip
                for j in range(k):
                    li = found_leaf[j]
                    d = depth_of[li]
                    row = table_starts[li] + found_mask[j] * d
                    for i in range(d):
                        phi[feats[li, i]] += tables[row + i]
    return out


def interventional_bytes(forest: Forest) -> int:
    """The bytes the interventional tables of ``forest`` take (the counts and the tables)."""
    _, depth_of, *_ = _paths(forest)
    d = depth_of.astype(np.int64)
    return int(8 * ((np.int64(1) << d) * (d + 1)).sum())


def interventional_tree_shap(forest: Forest, X, background) -> np.ndarray:
    """``(n, outputs, features + 1)`` exact interventional SHAP values against ``background``
    (rows, uniformly weighted), the base value — the background's mean margin — last."""
    f = forest
    X, B = _inputs(f, X), _inputs(f, background)
    leaves, depth_of, feats, _, pos, depth = _paths(f)
    leaf_of = np.full(len(f.left), -1, dtype=np.int32)
    leaf_of[leaves] = np.arange(len(leaves), dtype=np.int32)
    sizes = np.int64(1) << depth_of.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table_sizes = sizes * depth_of
    table_starts = np.concatenate([[0], np.cumsum(table_sizes)[:-1]]).astype(np.int64)
    split = (f.left, f.right, f.feature, f.threshold, f.kind, f.missing, f.default_left)
    cats = (f.cat_start, f.cat_len, f.cat_left, f.cat_values)
    counts = _background_counts(
        B, f.roots, *split, *cats, pos, leaf_of, depth_of, starts, int(sizes.sum()), depth
    )
    tables = _mask_tables(
        leaves, depth_of, f.value, counts, starts, table_starts, int(table_sizes.sum()), len(B)
    )
    out = _explain_masks(
        X,
        f.roots,
        f.group,
        f.n_groups,
        *split,
        *cats,
        pos,
        leaf_of,
        depth_of,
        feats,
        table_starts,
        tables,
        depth,
    )
    out[:, :, -1] = predict_margin(f, B).mean(axis=0)[None, :]
    return out
