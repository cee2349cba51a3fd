"""The NumPy engine of :func:`~._windows.window_features`: usage rows into a dense month grid,
then a compiled kernel that builds each entity's running sums once and reads every window of its
cutoffs as the difference of two of them, O(1) per cutoff, entities spread over all cores."""

from __future__ import annotations

import mmap

import numba as nb
import numpy as np
import pyarrow as pa

from lumos.features._window_inputs import _codes, _fail


def _plain(count: int, dtype) -> np.ndarray:
    """``count`` zeros of ``dtype`` in ordinary pages, for an array written once.

    NumPy asks Linux for transparent huge pages for large arrays; on the virtual
    machines Lumos is built and benchmarked on, their first touch costs about 4×
    the system time of ordinary pages (2 GB: 6 s against 1.5 s), and a feature
    table is touched once. Where huge pages are the default anyway, this changes
    nothing.
    """
    dtype = np.dtype(dtype)
    return np.frombuffer(mmap.mmap(-1, max(count, 1) * dtype.itemsize), dtype)[:count]


_PART = 1 << 18  # usage rows per step: its temporaries stay small and are reused


def _dense(u, spec, metrics, products, entities, lo, hi):
    """Monthly sums ``x``, entity × metric × month ``lo … hi`` (NaN where none is observed), and
    which metrics have a value below 0 (their ratios guard against cancellation)."""
    (values, codes, _), m, t = entities, len(metrics), hi - lo + 1
    e, shared = len(codes), spec.level == "account" and len(products) > 1
    starts = np.arange(lo - 1970 * 12, hi + 2 - 1970 * 12).astype("datetime64[M]")
    starts = starts.astype("datetime64[D]").view(np.int64)
    month = np.full(starts[-1] - starts[0], -1)  # the month of each day since the first
    month[starts[:-1] - starts[0]] = np.arange(t)  # usage months are 1sts (checked)
    names, memo = pa.array(metrics, pa.string()), {k: {} for k in (*spec.keys, "metric")}
    x, neg = _plain(e * m * t, np.float64), np.zeros(m, dtype=bool)  # neg: a metric below 0
    x.fill(np.nan)
    for first in range(0, len(products) if shared else 1, 64):  # a bit per product and cell
        width = min(len(products) - first, 64) if shared else 1
        seen = np.zeros(len(x), dtype=f"uint{max(8, 1 << (width - 1).bit_length())}")
        for start in range(0, len(u), _PART):
            part, code = u.slice(start, _PART), None
            for k, v in zip(spec.keys, values, strict=True):  # the entity of each row, as _entities
                ck = _codes(part[k], v, memo[k])
                code = ck if code is None else np.where(ck >= 0, code * len(v) + ck, -1)
            if codes[-1] != e - 1:  # not every code is an entity (two keys)
                at = np.searchsorted(codes, code).clip(max=e - 1)
                code = np.where((code >= 0) & (codes[at] == code), at, -1)
            days = part["month"].to_numpy().astype("datetime64[D]", copy=False).view(np.int64)
            bit = _codes(part["product"], pa.array(products)) - first if shared else days[:0]
            metric = _codes(part["metric"], names, memo["metric"])
            value = part["value"].to_numpy(zero_copy_only=False)
            row = _scatter(x, seen, (code, metric, days - starts[0], value, bit), month, width, neg)
            if row >= 0:
                _repeat(u, start + row)
        del seen
    return x.reshape(e, m, t), neg


@nb.njit(cache=True, nogil=True)
def _scatter(x, seen, rows, month, width, neg):  # pragma: no cover - compiled
    """Add each row's value into its cell of ``x`` (NaN: none yet), marking its bit (product) in
    ``seen`` and its metric in ``neg`` when below 0; the first row whose cell already has its bit,
    or -1. Rows off the grid are skipped."""
    code, metric, day, value, bit = rows
    m, t = neg.size, month.max() + 1
    for r in range(code.size):
        b = bit[r] if bit.size else 0
        at = month[day[r]] if 0 <= day[r] < month.size else -1
        if code[r] < 0 or metric[r] < 0 or at < 0 or b < 0 or b >= width:
            continue
        c, flag = (code[r] * m + metric[r]) * t + at, np.uint64(1) << np.uint64(b)
        if seen[c] & flag:
            return r
        seen[c] |= flag
        v = value[r]
        if v == v:
            x[c] = v if x[c] != x[c] else x[c] + v
            neg[metric[r]] |= v < 0
    return -1


def _repeat(u, row):
    """Raise for usage row ``row``, which repeats an earlier one."""
    at = {k: u[k][row].as_py() for k in ("account_id", "product", "month", "metric")}
    _fail(
        "usage",
        row,
        "metric",
        f"repeats account {at['account_id']}, product {at['product']}, month {at['month']} and "
        f"metric {at['metric']!r} of an earlier row; keep one.",
        code="duplicate",
    )


_AGGREGATES = ("sum", "mean", "last", "slope", "ratio")  # codes of the kernel below


def _numpy(x, neg, ent, ep, cols, out):
    """Fill ``out`` (cutoff rows × features) from ``x`` (entity × metric × month, NaN unobserved).

    Rows go by entity: each entity's running sums are built once, in cache, and
    every cutoff of it reads its windows as differences of two of them.
    """
    per = len(cols) // x.shape[1]  # every metric has the same features, in order
    agg = np.array([_AGGREGATES.index(col[1]) for col in cols[:per]], dtype=np.int64)
    width = np.array([col[2] for col in cols[:per]], dtype=np.int64)
    back = np.array([col[2] if col[3] else 0 for col in cols[:per]], dtype=np.int64)
    rows = np.argsort(ent, kind="stable")
    starts = np.zeros(x.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(ent, minlength=x.shape[0]), out=starts[1:])
    with nb.parallel_chunksize(64):  # small chunks: a core slowed by other work gets fewer
        _fill(x, rows, starts, ep.astype(np.int64), agg, width, back, neg, out.T)


@nb.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _fill(x, rows, starts, ep, agg, width, back, neg, out):  # pragma: no cover - compiled
    e, m, t = x.shape
    per = agg.size
    for en in nb.prange(e):
        if starts[en] == starts[en + 1]:
            continue
        run = np.zeros((6, t + 1))  # s, n, a, b, c, z over the months before each index
        latest = np.zeros(t, dtype=np.int64)  # 1 + the latest observed month up to each
        for i in range(m):
            seen = 0
            for j in range(t):
                v = x[en, i, j]
                o = 1.0 if v == v else 0.0
                v = v if v == v else 0.0
                seen = j + 1 if o else seen
                latest[j] = seen
                run[0, j + 1] = run[0, j] + v
                run[1, j + 1] = run[1, j] + o
                run[2, j + 1] = run[2, j] + o * j
                run[3, j + 1] = run[3, j] + o * (j * j)
                run[4, j + 1] = run[4, j] + v * j
                run[5, j + 1] = run[5, j] + abs(v)
            for r in rows[starts[en] : starts[en + 1]]:
                for f in range(per):
                    w, g = width[f], agg[f]
                    hi = ep[r] + 1 - back[f]
                    lo = hi - w
                    s = run[0, hi] - run[0, lo]
                    if g == 0:
                        value = s
                    elif g == 1:
                        value = s / (run[1, hi] - run[1, lo])
                    elif g == 2:
                        seen = latest[hi - 1]
                        value = x[en, i, seen - 1] if seen > lo else np.nan
                    elif g == 3:
                        n = run[1, hi] - run[1, lo]
                        a = run[2, hi] - run[2, lo]
                        num = n * (run[4, hi] - run[4, lo]) - a * s
                        den = n * (run[3, hi] - run[3, lo]) - a * a
                        value = num / den if n >= 2 else np.nan
                    else:
                        prior = run[0, lo] - run[0, lo - w]
                        if neg[i]:
                            bad = abs(prior) <= 1e-9 * (run[5, lo] - run[5, lo - w])
                        else:
                            bad = prior == 0
                        value = np.nan if bad else s / prior
                    out[i * per + f, r] = value
