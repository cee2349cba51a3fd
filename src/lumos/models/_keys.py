"""Sampling keys: a pseudo-random 32-bit key per row position, the same on every engine.

The row cap of :class:`~lumos.models.GLMix` (``max_rows_per_entity``) keeps
each entity's rows with the smallest keys. ``lumos.spark`` computes the same
arithmetic in Spark SQL, so both engines keep the same rows.
"""

from __future__ import annotations

import numpy as np

SAMPLE_MASK = 0xFFFFFFFF
# two multipliers below 2**31: a 32-bit value times either fits a signed 64-bit integer,
# so Spark SQL's longs compute the same keys without overflow
MIX = (0x7FEB352D, 0x5BD1E995)


def seed_word(seed: int) -> int:
    """The 32-bit word a seed mixes into every key (never 0, the mixer's fixed point)."""
    return ((int(seed) + 1) * 0x9E3779B1) & SAMPLE_MASK


def sample_keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random 32-bit key of each row position, the same on every engine.

    Two rounds of a multiply–xorshift mixer (the row cap of :class:`GLMix`
    keeps each entity's rows with the smallest keys); ``lumos.spark`` computes
    the same arithmetic in Spark SQL.

    Examples
    --------
    >>> sample_keys(np.arange(3, dtype=np.uint64), 0).tolist()
    [1439940739, 2360472308, 3034075828]
    """
    x = np.asarray(rows, dtype=np.uint64)
    m = np.uint64(SAMPLE_MASK)
    x = (x ^ (x >> np.uint64(32)) ^ np.uint64(seed_word(seed))) & m
    for _ in range(2):
        for mult in MIX:
            x ^= x >> np.uint64(16)
            x = (x * np.uint64(mult)) & m
        x ^= x >> np.uint64(16)
    return x
