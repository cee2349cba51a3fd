"""The NumPy engine of :func:`~._windows.window_features`: running sums per entity and metric,
each window read as the difference of two of them, O(1) per cutoff, blocks of cutoffs on all
cores."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lumos.features._window_inputs import _codes, _fail

_BLOCK = 1 << 16  # cutoff rows per step of the NumPy engine


def _dense(u, spec, metrics, products, entities, lo, hi):
    """Monthly sums ``x`` and observed flags ``o``, metric × entity × month ``lo … hi``."""
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
    x = np.take(v, owner, mode="clip") if len(v) else np.zeros(size)  # the winner's value
    o = owner >= 0
    del owner
    o &= ~np.isnan(x)  # NaN is unknown
    np.copyto(x, 0.0, where=~o)
    more = summed[~np.isnan(v[summed])]
    np.add.at(x, cell[more], v[more])  # the other products' values
    o[cell[more]] = True
    return x.reshape(m, e, t), o.reshape(m, e, t)


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


def _numpy(x, o, ent, ep, cols, out):
    """Fill ``out`` (cutoff rows × features) from running sums, one metric per core at a time."""
    m, e, t = x.shape
    tt, workers = np.arange(t, dtype=np.float64), max(1, min(m, os.cpu_count() or 1))

    def worker(first):  # metrics first, first + workers, …, reusing buffers
        buffers = {}
        with np.errstate(divide="ignore", invalid="ignore"):  # masked or 0 / 0 = NaN below
            for i in range(first, m, workers):
                metric(i, [(j, col) for j, col in enumerate(cols) if col[0] == i], buffers)

    def buffer(buffers, name, shape):
        if name not in buffers:
            buffers[name] = np.zeros(shape)
        return buffers[name]

    def metric(i, mine, buffers):
        xi, oi, done = x[i], o[i], set()
        neg, tmp = bool((xi < 0).any()), buffer(buffers, "tmp", (e, t))
        parts = {
            "s": lambda: xi,
            "n": lambda: np.multiply(oi, 1.0, out=tmp),
            "a": lambda: np.multiply(oi, tt, out=tmp),
            "b": lambda: np.multiply(oi, tt * tt, out=tmp),
            "c": lambda: np.multiply(xi, tt, out=tmp),
            "z": lambda: np.abs(xi, out=tmp),
        }

        def run(q):  # running sums with a leading 0, flat: run[i * (t + 1) + k] = sum over < k
            if q not in done:
                np.cumsum(parts[q](), axis=1, out=buffer(buffers, q, (e, t + 1))[:, 1:])
                done.add(q)
            return buffers[q].ravel()

        if any(col[1] == "last" for _, col in mine):  # month + 1 of the latest observed, its value
            last = buffer(buffers, "last", (e, t))
            np.maximum.accumulate(np.multiply(oi, tt + 1, out=last), axis=1, out=last)
            at = np.add(last, np.arange(-1, e * t - 1, t)[:, None], out=tmp).astype(np.intp)
            value = np.take(xi, at, out=buffer(buffers, "value", (e, t)), mode="clip")
        for start in range(0, len(ent), _BLOCK):
            b = slice(start, start + _BLOCK)
            here, cell = ep[b], ent[b] * t + ep[b]
            base, at, got, wins = cell + ent[b] + 1, {}, {}, {}

            def win(q, k, w, base=base, at=at, got=got, wins=wins):  # sum of q, w months to e - k
                if (q, k, w) not in wins:
                    for kk in (k, k + w):
                        if kk not in at:
                            at[kk] = base - kk
                        if (q, kk) not in got:
                            got[q, kk] = np.take(run(q), at[kk])
                    wins[q, k, w] = got[q, k] - got[q, k + w]
                return wins[q, k, w]

            for j, (_, agg, w, prev, _) in mine:
                k, dst = (w if prev else 0), out[b, j]
                if agg == "sum":
                    np.copyto(dst, win("s", k, w))
                elif agg == "mean":  # no observed month: a sum of exact zeros, 0 / 0
                    np.divide(win("s", k, w), win("n", k, w), out=dst)
                elif agg == "ratio":
                    prior = win("s", w, w)  # 0 up to rounding when values cancel: NaN
                    bad = np.abs(prior) <= 1e-9 * win("z", w, w) if neg else prior == 0
                    np.divide(win("s", 0, w), prior, out=dst)
                    np.copyto(dst, np.nan, where=bad)
                elif agg == "slope":
                    n, s, a, bb, c = (win(q, k, w) for q in "nsabc")
                    num, den = n * c, n * bb
                    num -= a * s
                    den -= a * a
                    np.divide(num, den, out=dst)
                    np.copyto(dst, np.nan, where=n < 2)
                else:
                    np.take(value, cell - k, out=dst, mode="clip")
                    np.copyto(dst, np.nan, where=np.take(last, cell - k) <= here - (k + w - 1))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(worker, range(workers)))
