"""How a level compares with its peers: the share of the rows scored (or of the row's segment)
below and above it, and the phrase that says so ("higher than 88% of accounts in Software").

The reference is sorted once per narrated quantity; every row is then two
binary searches, so 100,000 rows cost milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
    """Per row, where its value stands among its peers, as a true statement; None where a row
    has no peers. ``segments`` holds each row's segment name or None.

    Shares are floored to a whole percent, so a claim never rounds up past the truth:

    * most peers share the value: "the same as 62% of accounts" (or "the same as the other
      accounts" when all do);
    * nothing above or below it: "the highest of all accounts in Software", "the lowest of all
      …", or "tied with 23% of accounts for the lowest" when 1% or more share it;
    * otherwise the larger side, "higher than 88% of accounts" or "lower than …", or "near
      the middle of all accounts" when neither side holds half.
    """
    n = len(below)
    below, above = np.nan_to_num(below), np.nan_to_num(above)
    tie = np.clip(1.0 - below - above, 0.0, 1.0)
    higher = below >= above
    tie_pct = np.floor(tie * 100 + 1e-9).astype(np.int64)
    others = tie - 1.0 / np.maximum(np.asarray(size, dtype=np.float64), 1.0)
    tied = (others > 1e-9) & (tie_pct >= 1)  # others, 1% or more, share an extreme value
    share = np.where(tie >= 0.5, tie, np.where(higher, below, above))
    pct = np.where(tied & ((above == 0) | (below == 0)), tie_pct, np.floor(share * 100 + 1e-9))
    pct = pct.astype(np.int64)
    word = np.select(
        [
            (below == 0) & (above == 0),
            tie >= 0.5,
            (above == 0) & tied,
            (below == 0) & tied,
            above == 0,
            below == 0,
            np.maximum(below, above) < 0.5,
            higher,
        ],
        np.arange(8),
        8,
    )
    seg_codes, seg_names = pd.factorize(pd.Series(segments, dtype=object), use_na_sentinel=True)
    counted = np.isin(word, (1, 2, 3, 7, 8))
    key = (word * 101 + np.where(counted, pct, 0)) * (len(seg_names) + 1) + (seg_codes + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    made = []
    for i in first:
        seg = seg_names[seg_codes[i]] if seg_codes[i] >= 0 else None
        of = f"{peers} in {seg}" if seg is not None else peers
        made.append(
            (
                f"the same as the other {of}",
                f"the same as {pct[i]}% of {of}",
                f"tied with {pct[i]}% of {of} for the highest",
                f"tied with {pct[i]}% of {of} for the lowest",
                f"the highest of all {of}",
                f"the lowest of all {of}",
                f"near the middle of all {of}",
                f"higher than {pct[i]}% of {of}",
                f"lower than {pct[i]}% of {of}",
            )[word[i]]
        )
    out = np.array(made, dtype=object)[inverse.reshape(-1)] if n else np.empty(0, dtype=object)
    return np.where(np.asarray(size) > 0, out, None)
