"""The slice finder's ``metric="auc"``: slices whose AUC is lowest against the rest's, from
Mann–Whitney counts with Hanley and McNeil's standard errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from lumos.errors import DataValidationError
from lumos.evaluate._slices import COLUMNS, Slices, encode


def _auc_slices(data, y, p, features, bins, min_size, max_order, top_k, alpha) -> Slices:
    """Slices whose AUC is lowest against the rest's, from Mann–Whitney counts.

    Rows are sorted by score once. For a feature set, a stable sort of the
    cell codes in score order groups each cell's rows in score order, so one
    pass gives every cell's within-cell count of (positive, lower negative)
    pairs; the rest's comes from the global counts by inclusion–exclusion.
    Tied scores are ordered by row (exact for continuous scores). Standard
    errors are Hanley and McNeil's.
    """
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise DataValidationError("metric='auc' needs 0/1 labels.", code="bad_value")
    if not np.isfinite(p).all():
        row = int(np.flatnonzero(~np.isfinite(p))[0])
        raise DataValidationError(
            f"row {row}: score {float(p[row])} is not a number; drop or fill missing scores.",
            code="bad_value",
            row=row,
        )
    codes, labels = encode(data, features, bins)
    cards = [len(t) for t in labels]
    n = len(y)
    order = np.argsort(p, kind="stable")
    ys = y[order]
    n_pos = ys.sum()
    n_neg = n - n_pos
    neg_below = np.cumsum(1 - ys) - (1 - ys)  # negatives ranked below each row
    pos_above = n_pos - np.cumsum(ys)  # positives ranked above each row
    u_total = float((ys * neg_below).sum())
    columns = [np.ascontiguousarray(codes[order, f]) for f in range(codes.shape[1])]
    lattice = sum(
        math.prod(cards[f] for f in fs)
        for k in range(1, max_order + 1)
        for fs in itertools.combinations(range(len(cards)), k)
    )
    found, evaluated, alive = [], 0, {}
    for level in range(1, max_order + 1):
        next_alive = {}
        for fs in itertools.combinations(range(len(cards)), level):
            shape = tuple(cards[f] for f in fs)
            allowed = np.ones(shape, dtype=bool)
            if level > 1:
                parents = [alive.get(fs[:d] + fs[d + 1 :]) for d in range(level)]
                if any(m is None for m in parents):
                    continue
                for d, m in enumerate(parents):
                    allowed &= np.expand_dims(m, d)
            size = math.prod(shape)
            key = columns[fs[0]].astype(np.int64)
            for f in fs[1:]:
                key = key * cards[f] + columns[f]
            count = np.bincount(key, minlength=size)
            supported = allowed.ravel() & (count >= min_size) & (count < n)
            if level < max_order:
                next_alive[fs] = supported.reshape(shape)
            if not supported.any():
                continue
            grouped = np.argsort(key, kind="stable")  # each cell's rows, in score order
            cell = key[grouped]
            yg = ys[grouped]
            start = np.concatenate([[0], np.cumsum(count)[:-1]])
            k = np.arange(n) - start[cell]  # index within the cell
            pos_before = np.cumsum(yg) - yg - np.concatenate([[0], np.cumsum(yg)])[start[cell]]
            u_in = np.bincount(cell, weights=yg * (k - pos_before), minlength=size)
            p_in = np.bincount(key, weights=ys, minlength=size)
            u_pos_in = np.bincount(key, weights=ys * neg_below, minlength=size)
            u_neg_in = np.bincount(key, weights=(1 - ys) * pos_above, minlength=size)
            n_in = count - p_in
            u_out = u_total - u_pos_in - u_neg_in + u_in
            p_out, n_out = n_pos - p_in, n_neg - n_in
            ok = supported & (p_in > 0) & (n_in > 0) & (p_out > 0) & (n_out > 0)
            evaluated += int(supported.sum())
            for flat in np.flatnonzero(ok):
                a_in = u_in[flat] / (p_in[flat] * n_in[flat])
                a_out = u_out[flat] / (p_out[flat] * n_out[flat])
                cell_index = np.unravel_index(flat, shape)
                found.append(
                    (
                        a_out - a_in,
                        fs,
                        cell_index,
                        count[flat],
                        a_in,
                        a_out,
                        p_in[flat],
                        n_in[flat],
                        p_out[flat],
                        n_out[flat],
                    )
                )
        alive = next_alive
    found.sort(key=lambda r: (-r[0], r[1], tuple(int(c) for c in r[2])))
    rows = []
    for effect, fs, cell, size, a_in, a_out, pi, ni, po, no in found[:top_k]:
        se = math.sqrt(_hanley_mcneil(a_in, pi, ni) + _hanley_mcneil(a_out, po, no)) or 1e-300
        p_value = float(stats.norm.sf(effect / se))
        p_adjusted = min(1.0, p_value * lattice)
        crit = stats.norm.ppf(1 - alpha / 2)
        text = " and ".join(labels[f][int(c)] for f, c in zip(fs, cell, strict=True))
        rows.append(
            (
                text,
                len(fs),
                int(size),
                size / n,
                a_in,
                a_out,
                effect,
                effect - crit * se,
                effect + crit * se,
                p_value,
                p_adjusted,
                p_adjusted < alpha,
            )
        )
    table = pd.DataFrame(
        rows,
        columns=COLUMNS,
    )
    u_all = u_total / (n_pos * n_neg) if n_pos and n_neg else float("nan")
    return Slices(table, "auc", float(u_all), n, lattice, evaluated)


def _hanley_mcneil(auc: float, n_pos: float, n_neg: float) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
