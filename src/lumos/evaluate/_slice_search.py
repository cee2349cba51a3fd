"""The slice finder's level-wise lattice search: support and upper-bound pruning, two scores.

:func:`~lumos.evaluate.find_slices` describes the search; this module holds
it, ranking by effect or by SliceLine's score.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


class _Search:
    """The level-wise lattice search with support and upper-bound pruning.

    ``weight`` None ranks by effect; a number is SliceLine's α, ranking by its score.
    """

    def __init__(self, codes, cards, losses, min_size, max_order, top_k, weight=None):
        self.weight = weight
        self.offsets = np.concatenate([[0], np.cumsum(cards)])  # one-hot column of each feature
        self.codes, self.cards, self.losses = codes, cards, losses
        # contiguous columns: a strided column costs twice as much to read
        self.columns = [np.ascontiguousarray(codes[:, f]) for f in range(codes.shape[1])]
        self.losses_sq = losses**2
        self.min_size, self.max_order, self.top_k = min_size, max_order, top_k
        self.n = len(losses)
        self.total = float(losses.sum())
        self.max_loss = float(losses.max()) if len(losses) else 0.0
        self.min_loss = float(losses.min()) if len(losses) else 0.0
        self.lattice_size = sum(
            math.prod(cards[f] for f in fs)
            for order in range(1, max_order + 1)
            for fs in itertools.combinations(range(len(cards)), order)
        )
        self.evaluated = 0

    def _stats(self, fs):
        size = math.prod(self.cards[f] for f in fs)
        key = self.columns[fs[0]].astype(np.int64 if size >= 2**31 else np.int32)
        for f in fs[1:]:  # contiguous columns: a strided column of codes costs twice as much
            key = key * self.cards[f] + self.columns[f]
        count = np.bincount(key, minlength=size)
        s1 = np.bincount(key, weights=self.losses, minlength=size)
        return count, s1

    def _score(self, count, s1):
        """Each cell's score (``-inf`` where empty): its effect or SliceLine's score."""
        size = np.maximum(count, 1)
        if self.weight is None:
            return s1 / size - (self.total - s1) / np.maximum(self.n - count, 1)
        return self._sliceline(size, s1)

    def _sliceline(self, size, s1):
        """SliceLine's ``α·((e/s)/ē − 1) − (1 − α)·(n/s − 1)``; ``-inf`` when every loss is 0."""
        a, mean = self.weight, self.total / self.n
        if mean <= 0:
            return np.full(np.shape(s1), -np.inf)
        return a * ((s1 / size) / mean - 1) - (1 - a) * (self.n / size - 1)

    def _sliceline_bound(self, count, s1):
        """Upper bound on SliceLine's score of any slice of ``min_size`` rows or more inside.

        A descendant of ``x`` rows has a loss sum at most ``min(x · max loss, e)``;
        the score is monotone in ``x`` on each side of ``e / max loss``, so its
        largest value is at ``min_size``, that point, or the slice's own size.
        """
        m, top = self.min_size, max(self.max_loss, 1e-300)
        size = np.maximum(count, m).astype(float)
        probes = (np.full_like(size, m), np.clip(s1 / top, m, size), size)
        return np.max([self._sliceline(x, np.minimum(x * top, s1)) for x in probes], axis=0)

    def _tie(self, fs, cell):
        """Order among equal scores: by feature set for effect; ``Slicefinder``'s for SliceLine.

        ``Slicefinder`` sorts ties by their one-hot rows, ascending: the slice
        without the first one-hot column where two differ comes first, which is
        the slice whose next column is later (or absent) in sorted column lists.
        """
        if self.weight is None:
            return (fs, cell)
        return (*(-int(self.offsets[f] + c) for f, c in zip(fs, cell, strict=True)), -math.inf)

    def _bound(self, count, s1):
        """Upper bound on the effect of any slice of ``min_size`` rows or more within a slice.

        In losses shifted to be non-negative (the effect does not change): a
        sub-slice's mean is at most ``min(max loss, loss sum / min size)`` and
        the rest's mean at least ``(total − loss sum) / (n − min size)``.
        """
        if self.weight is not None:
            return self._sliceline_bound(count, s1)
        shift = min(self.min_loss, 0.0)
        m = self.min_size
        s1 = s1 - shift * count
        total = self.total - shift * self.n
        mean_ub = np.minimum(self.max_loss - shift, s1 / m)
        return mean_ub - (total - s1) / max(self.n - m, 1)

    def run(self):
        best: list[tuple[float, tuple, tuple, tuple]] = []  # (score, tie, (fs, cell), stats)
        alive: dict[tuple, np.ndarray] = {}  # feature set → bool per cell: may have heirs
        floor = -np.inf if self.weight is None else 0.0  # SliceLine keeps scores > 0 only
        threshold = floor
        for order in range(1, self.max_order + 1):
            next_alive = {}
            for fs in itertools.combinations(range(len(self.cards)), order):
                shape = tuple(self.cards[f] for f in fs)
                allowed = np.ones(shape, dtype=bool)
                if order > 1:  # apriori: every parent (one condition dropped) must be alive
                    ok = True
                    for drop in range(order):
                        parent = fs[:drop] + fs[drop + 1 :]
                        mask = alive.get(parent)
                        if mask is None or not mask.any():
                            ok = False
                            break
                        allowed &= np.expand_dims(mask, drop)
                    if not ok or not allowed.any():
                        continue
                count, s1 = (a.reshape(shape) for a in self._stats(fs))
                # a slice of every row has no rest to be worse than
                supported = allowed & (count >= self.min_size) & (count < self.n)
                if not supported.any():
                    continue
                self.evaluated += int(supported.sum())
                score = np.where(supported, self._score(count, s1), -np.inf)
                keep = (score > floor) & (score >= threshold)  # ties at the k-th: by tie order
                for flat in np.flatnonzero(keep.ravel()):
                    cell = np.unravel_index(flat, shape)
                    cell = tuple(int(c) for c in cell)
                    best.append(
                        (
                            float(score[cell]),
                            self._tie(fs, cell),
                            (fs, cell),
                            (int(count[cell]), float(s1[cell])),
                        )
                    )
                if len(best) > self.top_k:
                    best.sort(key=lambda b: (-b[0], b[1]))
                    del best[self.top_k :]
                    threshold = best[-1][0]
                if order < self.max_order:
                    heirs = supported & (self._bound(count, s1) >= threshold)
                    if heirs.any():
                        next_alive[fs] = heirs
            alive = next_alive
        best.sort(key=lambda b: (-b[0], b[1]))
        out = []
        for value, _, (fs, cell), (size, s1) in best[: self.top_k]:  # sums of squares: winners
            inside = np.ones(self.n, dtype=bool)
            for f, c in zip(fs, cell, strict=True):
                inside &= self.columns[f] == c
            out.append(((fs, cell), (size, s1, float(self.losses_sq[inside].sum())), value))
        return out
