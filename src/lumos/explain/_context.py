"""How a level compares with its peers: the share of the rows scored (or of the row's segment)
below and above it, and the phrase that says so ("higher than 88% of accounts in Software").

The reference is sorted once per narrated quantity; every row is then two
binary searches, so 100,000 rows cost milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.explain._format import format_codes


class Reference:
    """The sorted reference values of one quantity, per segment when segments are given.

    Parameters
    ----------
    values : ndarray of float
        The quantity over the reference rows (NaN rows are left out).
    segments : ndarray, optional
        Each reference row's segment.
    """

    def __init__(self, values: np.ndarray, segments: np.ndarray | None = None):
        values = np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(values)
        if segments is None:
            self.names = None
            self.sorted = np.sort(values[keep])
            return
        codes, self.names = pd.factorize(pd.Series(segments)[keep], sort=True)
        values = values[keep]
        order = np.lexsort((values, codes))
        self.codes, self.sorted = codes[order], values[order]
        bounds = np.searchsorted(self.codes, np.arange(len(self.names) + 1))
        self.starts, self.ends = bounds[:-1], bounds[1:]

    def shares(self, values: np.ndarray, segments: np.ndarray | None = None):
        """``(below, above, size, segment)``: per row, the share of its peers below and above
        its value, how many peers there are (0: none; NaN values have none), and its segment
        code (-1 when compared with every row)."""
        values = np.asarray(values, dtype=np.float64)
        n = len(values)
        if self.names is None or segments is None:
            lo = np.searchsorted(self.sorted, values, "left")
            hi = np.searchsorted(self.sorted, values, "right")
            size = np.full(n, len(self.sorted))
            below, above, code = lo, size - hi, np.full(n, -1)
        else:
            code = self.names.get_indexer(pd.Series(segments))
            known = code >= 0
            safe = np.where(known, code, 0)
            start, end = self.starts[safe], self.ends[safe]
            below, above, size = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
            if known.any():
                lo = _search(self.codes, self.sorted, code[known], values[known], "left")
                hi = _search(self.codes, self.sorted, code[known], values[known], "right")
                below[known] = lo - start[known]
                above[known] = end[known] - hi
                size[known] = (end - start)[known]
            code = np.where(known, code, -1)
            if (~known).any():  # a segment the reference lacks: compare with every row
                overall = Reference(self.sorted)
                b, a, s, _ = overall.shares(values[~known])
                below[~known], above[~known], size[~known] = b * s, a * s, s
        size = np.where(np.isnan(values), 0, size)
        with np.errstate(divide="ignore", invalid="ignore"):
            below = np.where(size > 0, below / size, np.nan)
            above = np.where(size > 0, above / size, np.nan)
        return below, above, size, code


def _search(codes, sorted_values, code, values, side):
    """Positions of ``(code, value)`` pairs in arrays sorted by code, then value: one
    composite integer key (segment, rank of the value among all values) searched at once."""
    grid = np.unique(np.concatenate([sorted_values, values]))
    width = np.int64(len(grid))
    keys = codes.astype(np.int64) * width + np.searchsorted(grid, sorted_values)
    wanted = code.astype(np.int64) * width + np.searchsorted(grid, values)
    return np.searchsorted(keys, wanted, side)


def phrases(below, above, size, segments, peers: str) -> np.ndarray:
    """ "higher than 88% of accounts in Software" (or "lower than …", or "the same as …") per
    row; None where a row has no peers. ``segments`` holds each row's segment name or None."""
    n = len(below)
    higher = below >= above
    share = np.where(higher, below, above)
    same = (below == 0) & (above == 0)
    word = np.where(same, 2, np.where(higher, 0, 1))
    texts, codes = format_codes(np.nan_to_num(share), "pct")
    seg_codes, seg_names = pd.factorize(pd.Series(segments, dtype=object), use_na_sentinel=True)
    key = (word * len(texts) + codes) * (len(seg_names) + 1) + (seg_codes + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    made = []
    for i in first:
        seg = seg_names[seg_codes[i]] if seg_codes[i] >= 0 else None
        where = f" in {seg}" if seg is not None else ""
        if word[i] == 2:
            made.append(f"the same as the other {peers}{where}")
        else:
            side = "higher" if word[i] == 0 else "lower"
            made.append(f"{side} than {texts[codes[i]]} of {peers}{where}")
    out = np.array(made, dtype=object)[inverse.reshape(-1)] if n else np.empty(0, dtype=object)
    return np.where(np.asarray(size) > 0, out, None)
