"""Candidate pools: the few hundred courses per member worth scoring.

As LinkedIn Learning did: a high-precision pool from skill affinity on the
taxonomy's tags, a down-sampled high-recall pool from affinity on the skill
tagger's wider tags, courses similar to those the member engaged with, and
what is trending or popular — merged, without the courses the member already
engaged with. Each pool is the top of a score computed for a batch of members
against the whole catalog, so nothing loops over members.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from lumos._checks import renamed
from lumos.errors import LumosUserError
from lumos.models.solvers import sample_keys


def candidate_pools(
    n_members: int,
    *,
    precise=None,
    wide=None,
    engaged: sparse.csr_matrix | None = None,
    similar: np.ndarray | None = None,
    popular: np.ndarray | None = None,
    sizes: dict | None = None,
    random_state: int = 0,
    member_index: np.ndarray | None = None,
    batch_size: int = 1024,
    seed: int | None = None,
) -> tuple[sparse.csr_matrix, dict]:
    """Members × courses 0/1 candidates, the union of the pools, and each pool's share.

    Parameters
    ----------
    n_members : int
    precise, wide : tuple of (U, V), optional
        Member and course skill vectors (e.g. a
        :class:`~lumos.models.SkillAffinity`'s ``member_vectors_`` and
        ``course_vectors_``), taxonomy-only and widened by the tagger.
    engaged : sparse matrix (members × courses), optional
        What each member engaged with: excluded from candidates, and the seed
        of the ``similar`` pool.
    similar : ndarray (courses × courses), optional
        Course-course similarity (e.g. co-engagement cosine).
    popular : ndarray (courses,), optional
        A score for everyone (trend or popularity).
    sizes : dict, optional
        Courses per member from each pool: ``precise`` (300), ``wide`` (600,
        down-sampled to ``wide_sample``, 300), ``similar`` (200), ``popular``
        (100).
    random_state : int, default=0
        The down-sampling's seed (``seed`` is its older name).
    member_index : ndarray of shape (n_members,), optional
        Each row's member position in the whole members table (default
        ``0..n_members-1``). The down-sample of a member is drawn from keys of
        (random_state, member, course) alone, so a member gets the same candidates in
        any batch, on any engine.

    Returns
    -------
    candidates : csr_matrix of shape (n_members, n_courses)
    report : dict
        ``mean_candidates`` per member and, per pool, the mean number of
        candidates it contributed.

    Examples
    --------
    >>> U = np.array([[1.0, 0.0], [0.0, 0.0]]); V = np.eye(2)[[0, 0, 1, 1]]
    >>> cand, report = candidate_pools(2, precise=(U, V), popular=np.array([0, 0, 1, 2.0]),
    ...                                sizes={"precise": 2, "popular": 1})
    >>> cand.toarray().astype(int).tolist()
    [[1, 1, 0, 1], [0, 0, 0, 1]]
    """
    random_state = renamed(
        random_state, seed, old="seed", new="random_state", owner="candidate_pools"
    )
    size = {"precise": 300, "wide": 600, "wide_sample": 300, "similar": 200, "popular": 100}
    unknown = set(sizes or {}) - set(size)
    if unknown:
        raise LumosUserError(
            f"sizes has unknown pool(s) {sorted(unknown)}; use {', '.join(size)}.",
            code="bad_argument",
        )
    size.update(sizes or {})
    n_courses = next((len(x[1]) for x in (precise, wide) if x is not None), None)
    if n_courses is None:
        n_courses = len(similar) if similar is not None else len(popular)
    members = np.arange(n_members) if member_index is None else np.asarray(member_index)
    if members.shape != (n_members,):
        raise LumosUserError(
            f"member_index must hold one position per member ({n_members}); got shape "
            f"{members.shape}.",
            code="bad_argument",
        )
    parts, counts = [], {name: 0 for name in ("precise", "wide", "similar", "popular")}
    for start in range(0, n_members, batch_size):
        rows = slice(start, min(start + batch_size, n_members))
        b = rows.stop - rows.start
        take = np.zeros((b, n_courses), dtype=bool)
        seen = engaged[rows].toarray() > 0 if engaged is not None else None
        pools = []
        if precise is not None:
            pools.append(("precise", precise[0][rows] @ precise[1].T, size["precise"]))
        if wide is not None:
            pools.append(("wide", wide[0][rows] @ wide[1].T, size["wide"]))
        if similar is not None and engaged is not None:
            pools.append(("similar", np.asarray(engaged[rows] @ similar), size["similar"]))
        if popular is not None:
            pools.append(("popular", np.broadcast_to(popular, (b, n_courses)), size["popular"]))
        for name, score, n in pools:
            score = np.where(seen, -np.inf, score) if seen is not None else score
            chosen = _top(score, n)
            if name == "wide" and size["wide_sample"] < n:  # down-sample the high-recall pool
                course = np.maximum(chosen, 0).astype(np.uint64)
                pair = members[rows, None].astype(np.uint64) * np.uint64(n_courses) + course
                keep = np.argsort(sample_keys(pair, random_state), axis=1, kind="stable")
                keep = keep[:, : size["wide_sample"]]
                chosen = np.take_along_axis(chosen, keep, axis=1)
            new = np.zeros_like(take)
            np.put_along_axis(new, np.maximum(chosen, 0), chosen >= 0, axis=1)
            counts[name] += int((new & ~take).sum())
            take |= new
        parts.append(sparse.csr_matrix(take, dtype=np.float32))
    candidates = sparse.vstack(parts, format="csr") if parts else sparse.csr_matrix((0, 0))
    report = {"mean_candidates": candidates.nnz / max(n_members, 1)}
    report |= {f"mean_from_{k}": v / max(n_members, 1) for k, v in counts.items()}
    return candidates, report


def _top(score: np.ndarray, n: int) -> np.ndarray:
    """Per row, the columns of the ``n`` highest positive finite scores (-1 pads)."""
    n = min(n, score.shape[1])
    part = np.argpartition(score, score.shape[1] - n, axis=1)[:, -n:]
    value = np.take_along_axis(score, part, axis=1)
    return np.where(np.isfinite(value) & (value > 0), part, -1)
