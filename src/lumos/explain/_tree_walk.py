"""Rows walked down the trees of a :class:`~._forest.Forest`, compiled with Numba: which way
a row goes at a split (thresholds, missing values, category sets) and the forest's margin."""

from __future__ import annotations

import numba as nb
import numpy as np

from lumos.explain._forest import (
    CATEGORY,
    LESS,
    MISSING_AS_ZERO,
    ZERO_OR_MISSING_DEFAULT,
    Forest,
)

_TINY = 1e-15
BLOCK = 128  # rows walked together through one tree


@nb.njit(cache=True, inline="always")
def _goes_left(
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
    value = x[feature[node]]
    rule = missing[node]
    if np.isnan(value):
        if rule == MISSING_AS_ZERO:
            value = 0.0
        elif kind[node] == CATEGORY and cat_left[node] == 1:
            return False  # LightGBM: a missing category goes right
        else:
            return default_left[node] == 1
    if rule == ZERO_OR_MISSING_DEFAULT and abs(value) <= 1e-35:
        return default_left[node] == 1
    k = kind[node]
    if k == LESS:
        return value < threshold[node]
    if k != CATEGORY:
        return value <= threshold[node]
    # a category set: LightGBM sends its members left, XGBoost right
    start, size = cat_start[node], cat_len[node]
    member = False
    if value >= 0 and value == np.floor(value):
        lo, hi = start, start + size
        while lo < hi:
            mid = (lo + hi) // 2
            if cat_values[mid] < value:
                lo = mid + 1
            else:
                hi = mid
        member = lo < start + size and cat_values[lo] == value
        return member if cat_left[node] == 1 else not member
    # not a valid category: LightGBM sends it right, XGBoost left
    return cat_left[node] == 0


@nb.njit(cache=True, parallel=True)
def _predict(
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
):
    n = X.shape[0]
    out = np.zeros((n, n_groups))
    for r in nb.prange(n):
        x = X[r]
        for t in range(len(roots)):
            node = roots[t]
            while left[node] >= 0:
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
                    node = left[node]
                else:
                    node = right[node]
            out[r, group[t]] += value[node]
    return out


def _inputs(forest: Forest, X) -> np.ndarray:
    """Rows as contiguous float64, rounded through float32 first for models that split on it."""
    X = np.asarray(X, dtype=np.float32 if forest.float32_inputs else np.float64)
    return np.ascontiguousarray(X, dtype=np.float64)


def predict_margin(forest: Forest, X: np.ndarray) -> np.ndarray:
    """``(n, outputs)``: the sum of the trees' leaf values plus each output's offset."""
    f = forest
    raw = _predict(
        _inputs(f, X),
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
        f.value,
    )
    return raw + f.offset[None, :]


# -- leaf tables ----------------------------------------------------------------------------------
