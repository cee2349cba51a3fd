"""The original exact TreeSHAP (Lundberg et al. 2018): ``EXTEND`` and ``UNWIND`` along each
path, the recursion as a loop over a stack, rows in parallel. :func:`~._treeshap.tree_shap`
runs it when the leaf tables would not fit in memory."""

from __future__ import annotations

import numba as nb
import numpy as np

from lumos.explain._tree_walk import _goes_left


@nb.njit(cache=True)
def _extend(pf, pz, po, pw, start, depth, zero, one, feat):
    pf[start + depth] = feat
    pz[start + depth] = zero
    po[start + depth] = one
    pw[start + depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        pw[start + i + 1] += one * pw[start + i] * (i + 1) / (depth + 1)
        pw[start + i] = zero * pw[start + i] * (depth - i) / (depth + 1)


@nb.njit(cache=True)
def _unwind(pf, pz, po, pw, start, depth, index):
    one, zero = po[start + index], pz[start + index]
    nxt = pw[start + depth]
    for i in range(depth - 1, -1, -1):
        if one != 0:
            tmp = pw[start + i]
            pw[start + i] = nxt * (depth + 1) / ((i + 1) * one)
            nxt = tmp - pw[start + i] * zero * (depth - i) / (depth + 1)
        else:
            pw[start + i] = pw[start + i] * (depth + 1) / (zero * (depth - i))
    for i in range(index, depth):
        pf[start + i] = pf[start + i + 1]
        pz[start + i] = pz[start + i + 1]
        po[start + i] = po[start + i + 1]


@nb.njit(cache=True)
def _unwound_sum(pz, po, pw, start, depth, index):
    one, zero = po[start + index], pz[start + index]
    nxt = pw[start + depth]
    total = 0.0
    for i in range(depth - 1, -1, -1):
        if one != 0:
            tmp = nxt * (depth + 1) / ((i + 1) * one)
            total += tmp
            nxt = pw[start + i] - tmp * zero * ((depth - i) / (depth + 1))
        elif zero != 0:
            total += (pw[start + i] / zero) / ((depth - i) / (depth + 1))
    return total


@nb.njit(cache=True)
def _shap_row(
    x,
    phi,
    root,
    pf,
    pz,
    po,
    pw,
    s_node,
    s_depth,
    s_parent,
    s_zero,
    s_one,
    s_feat,
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
    value,
    cover,
):
    """The recursion of Lundberg et al. as a loop over an explicit stack of frames.

    A frame's path is a copy of its parent's, past it in ``pf``/``pz``/``po``/
    ``pw``; children only write beyond it, so a sibling finds it intact.
    """
    top = 0
    s_node[0], s_depth[0], s_parent[0] = root, 0, 0
    s_zero[0], s_one[0], s_feat[0] = 1.0, 1.0, -1
    while top >= 0:
        node, depth, parent_start = s_node[top], s_depth[top], s_parent[top]
        zero, one, feat = s_zero[top], s_one[top], s_feat[top]
        top -= 1
        start = parent_start + depth + 1
        for i in range(depth):
            pf[start + i] = pf[parent_start + i]
            pz[start + i] = pz[parent_start + i]
            po[start + i] = po[parent_start + i]
            pw[start + i] = pw[parent_start + i]
        _extend(pf, pz, po, pw, start, depth, zero, one, feat)
        if left[node] < 0:
            for i in range(1, depth + 1):
                w = _unwound_sum(pz, po, pw, start, depth, i)
                phi[pf[start + i]] += w * (po[start + i] - pz[start + i]) * value[node]
            continue
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
        ):
            hot, cold = left[node], right[node]
        else:
            hot, cold = right[node], left[node]
        w = cover[node]
        hot_zero = cover[hot] / w if w > 0 else 0.0
        cold_zero = cover[cold] / w if w > 0 else 0.0
        in_zero, in_one = 1.0, 1.0
        split = feature[node]
        k = 0
        while k <= depth and pf[start + k] != split:
            k += 1
        if k <= depth:
            in_zero, in_one = pz[start + k], po[start + k]
            _unwind(pf, pz, po, pw, start, depth, k)
            depth -= 1
        top += 1  # the cold child runs after the hot child's whole subtree
        s_node[top], s_depth[top], s_parent[top] = cold, depth + 1, start
        s_zero[top], s_one[top], s_feat[top] = cold_zero * in_zero, 0.0, split
        top += 1
        s_node[top], s_depth[top], s_parent[top] = hot, depth + 1, start
        s_zero[top], s_one[top], s_feat[top] = hot_zero * in_zero, in_one, split


@nb.njit(cache=True, parallel=True)
def _explain_recursive(
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
    value,
    cover,
    max_depth,
):
    n, p = X.shape
    out = np.zeros((n, n_groups, p + 1))
    size = (max_depth + 2) * (max_depth + 3) // 2 + 2 * max_depth + 4
    frames = 2 * max_depth + 4
    for r in nb.prange(n):
        pf = np.zeros(size, dtype=np.int32)
        pz = np.zeros(size)
        po = np.zeros(size)
        pw = np.zeros(size)
        s_node = np.zeros(frames, dtype=np.int32)
        s_depth = np.zeros(frames, dtype=np.int32)
        s_parent = np.zeros(frames, dtype=np.int32)
        s_zero = np.zeros(frames)
        s_one = np.zeros(frames)
        s_feat = np.zeros(frames, dtype=np.int32)
        for t in range(len(roots)):
            _shap_row(
                X[r],
                out[r, group[t]],
                roots[t],
                pf,
                pz,
                po,
                pw,
                s_node,
                s_depth,
                s_parent,
                s_zero,
                s_one,
                s_feat,
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
                value,
                cover,
            )
    return out
