"""The NumPy engine of :func:`~._windows.window_features`: usage rows into a dense month grid,
then a compiled kernel that builds each entity's running sums once and reads every window of its
cutoffs as the difference of two of them, O(1) per cutoff, entities spread over all cores."""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lumos.features._window_inputs import _codes, _fail


def _dense(u, spec, metrics, products, entities, lo, hi):
    """Monthly sums ``x``, metric × entity × month ``lo … hi``; NaN where none is observed."""
    (values, codes, _), m, t = entities, len(metrics), hi - lo + 1
    e, shared = len(codes), spec.level == "account" and len(products) > 1
    size = m * e * t
    starts = np.arange(lo - 1970 * 12, hi + 2 - 1970 * 12).astype("datetime64[M]")
    starts, parts = starts.astype("datetime64[D]"), [(np.zeros(0, dtype=np.int64), [], [])]
    for start in range(0, len(u), 1 << 22):  # a bounded working set
        part = u.slice(start, 1 << 22)
        found, code = np.ones(len(part), dtype=bool), np.zeros(len(part), dtype=np.int64)
        for k, v in zip(spec.keys, values, strict=True):  # the entity of each row, as _entities
            ck = _codes(part[k], v)
            found &= ck >= 0
            code = code * len(v) + ck
        if codes[-1] != e - 1:  # not every code is an entity (two keys)
            at = np.searchsorted(codes, code).clip(max=e - 1)
            found &= codes[at] == code
            code = at
        cell = _codes(part["metric"], pa.array(metrics, pa.string()))
        found &= cell >= 0
        days = part["month"].to_numpy().astype("datetime64[D]")  # the 1st of a month (checked)
        month = np.searchsorted(starts, days, side="right") - 1
        found &= (month >= 0) & (month < t)
        cell = ((cell * e + code) * t + month)[found]
        product = _codes(part["product"], pa.array(products))[found] if shared else []
        parts.append((cell, part["value"].to_numpy(zero_copy_only=False)[found], product))
    cell, v, product = (np.concatenate(p) for p in zip(*parts, strict=True))
    cell = cell.astype(np.int32 if size < 2**31 else np.int64)
    key = product + cell * np.int64(len(products)) if shared else None  # (cell, product)
    del parts
    rows = np.arange(len(cell), dtype=cell.dtype)
    owner = np.full(size, -1, dtype=cell.dtype)
    owner[cell] = rows  # one row of each cell wins; the others share a cell with it
    lost = np.flatnonzero(owner[cell] != rows)
    del rows
    summed = lost[:0]
    if len(lost) and shared:  # several products of an account: a repeat is (cell, product)
        keys, n = np.unique(np.concatenate([key[lost], key[owner[cell[lost]]]]), return_counts=True)
        twice = np.isin(key[lost], keys[n > 1])
        lost, summed = lost[twice], lost[~twice]
    if len(lost):
        c = int(cell[lost[0]])
        _repeat(u, metrics[c // (e * t)], c % t + lo)
    x = np.take(v, owner, mode="clip") if len(v) else np.full(size, np.nan)  # the winner's value
    np.copyto(x, np.nan, where=owner < 0)  # NaN: unobserved
    del owner
    more = summed[~np.isnan(v[summed])]
    at = cell[more]
    x[at[np.isnan(x[at])]] = 0.0  # a product's value where the winner's was NaN
    np.add.at(x, at, v[more])  # the other products' values
    return x.reshape(m, e, t)


def _repeat(u, metric, month):
    """Raise for the first usage row of ``metric`` and ``month`` (an index) that repeats one."""
    index = pc.add(pc.multiply(pc.year(u["month"]), 12), pc.subtract(pc.month(u["month"]), 1))
    mask = pc.and_(pc.equal(u["metric"], metric), pc.equal(index, month))
    at = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    seen = u.take(pa.array(at)).select(["account_id", "product"]).to_pandas().duplicated()
    row = int(at[seen.to_numpy().argmax()])
    _fail(
        "usage",
        row,
        "metric",
        f"repeats account {u['account_id'][row]}, product "
        f"{u['product'][row]}, month {u['month'][row]} and metric {metric!r} of an earlier "
        "row; keep one.",
        code="duplicate",
    )


_AGGREGATES = ("sum", "mean", "last", "slope", "ratio")  # codes of the kernel below


def _numpy(x, ent, ep, cols, out):
    """Fill ``out`` (cutoff rows × features) from ``x`` (metric × entity × month, NaN unobserved).

    Rows go by entity: each entity's running sums are built once, in cache, and
    every cutoff of it reads its windows as differences of two of them.
    """
    m, per = x.shape[0], len(cols) // x.shape[0]  # every metric has the same features, in order
    agg = np.array([_AGGREGATES.index(col[1]) for col in cols[:per]], dtype=np.int64)
    width = np.array([col[2] for col in cols[:per]], dtype=np.int64)
    back = np.array([col[2] if col[3] else 0 for col in cols[:per]], dtype=np.int64)
    neg = np.array([bool((x[i] < 0).any()) for i in range(m)])  # ratios then guard cancellation
    rows = np.argsort(ent, kind="stable")
    starts = np.zeros(x.shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(ent, minlength=x.shape[1]), out=starts[1:])
    with nb.parallel_chunksize(64):  # small chunks: a core slowed by other work gets fewer
        _fill(x, rows, starts, ep.astype(np.int64), agg, width, back, neg, out.T)


@nb.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _fill(x, rows, starts, ep, agg, width, back, neg, out):  # pragma: no cover - compiled
    m, e, t = x.shape
    per = agg.size
    for en in nb.prange(e):
        if starts[en] == starts[en + 1]:
            continue
        run = np.zeros((6, t + 1))  # s, n, a, b, c, z over the months before each index
        latest = np.zeros(t, dtype=np.int64)  # 1 + the latest observed month up to each
        for i in range(m):
            seen = 0
            for j in range(t):
                v = x[i, en, j]
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
                        value = x[i, en, seen - 1] if seen > lo else np.nan
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
