"""``GLMix(l2="auto")``: per-coordinate penalties chosen on held-out rows.

The search GLMix runs before its final fit, on the arrays the fit prepared:

1. hold out a pseudo-random eighth of the rows (about an eighth of each
   entity's rows; the keys come from :func:`sample_keys`, so a seed repeats
   it), run one pass of coordinate descent on the rest with every random
   effect at :data:`START`;
2. for each random effect in turn, re-solve only its entities (the other
   coordinates' scores held fixed) at penalties of :data:`GRID`, slopes and
   intercept alike unless ``intercept_l2`` says otherwise, walking from
   :data:`START` up (or down) while the log-loss on the held-out rows falls,
   then once more at the vertex of the parabola through the best value and
   its two neighbours (in log penalty), kept if it does better;
3. GLMix then refits on all rows with the chosen penalties, starting from
   the search's model.

Re-solving one coordinate is one batched Newton solve
(:func:`~lumos.models._entities.fit_entities`) started from its
neighbour's answer and stopped after :data:`SEARCH_STEPS` steps or at
:data:`SEARCH_TOL` (Newton converges quadratically, and the held-out losses
of neighbouring penalties differ far above what is left), so the search
costs about one GLMix pass per random effect. The fixed effect keeps
``l2 = 1``: it is fitted on every row, where a summed-loss penalty of 1
barely acts.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from lumos.models._entities import EntityBlock, effect_features
from lumos.models._glmix_descent import descend
from lumos.models._keys import sample_keys

FIXED = "fixed_effect"
GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
START = 3.0
HOLD_OUT = 8  # one row in HOLD_OUT is held out
MIN_HELD = 20  # fewer held-out rows (or one class only) and the search keeps START
SEED_SHIFT = 104_729  # the hold-out's keys differ from the row cap's
SEARCH_TOL = 1e-4  # the search's solves stop here (or at GLMix's tol when coarser) ...
SEARCH_STEPS = 2  # ... or after this many Newton steps from the neighbouring penalty's answer


def held_out_rows(n: int, random_state: int) -> np.ndarray:
    """A boolean mask of the rows the search holds out: about one in :data:`HOLD_OUT`.

    >>> round(held_out_rows(80_000, 0).mean(), 2)
    np.float64(0.13)
    """
    keys = sample_keys(np.arange(n, dtype=np.uint64), random_state + SEED_SHIFT)
    return keys % HOLD_OUT == 0


def _log_loss(z, y, w) -> float:
    rows = np.logaddexp(0.0, z) - y * z
    return float(np.average(rows, weights=w))


def choose_l2(model, Xf, y, w, ids, M, cols):
    """The per-coordinate ``l2`` GLMix ``model`` fits with when its ``l2`` is ``"auto"``.

    ``Xf`` (the fixed effect's features), ``y`` (0/1) and ``w`` are the
    checked training rows; ``ids`` each random effect's id by id column, and
    ``M``'s columns ``cols`` its features. Returns ``({"fixed_effect": 1.0, id
    column: l2, ...}, start)``: ``start`` is the search's model, fitted on the
    rows not held out with the chosen penalties, as ``(fixed effect's
    coefficients then intercept, {id column: (entity ids, beta)})``, a starting
    point for the final fit (``None`` when there was no search).
    """
    chosen = {FIXED: 1.0, **dict.fromkeys(ids, START)}
    hold = held_out_rows(len(y), model.random_state)
    if not ids or hold.sum() < MIN_HELD or len(np.unique(y[hold])) < 2:
        return chosen, None
    fit, held_rows = np.flatnonzero(~hold), np.flatnonzero(hold)
    y_fit, y_held = y[fit], y[hold]
    w_fit, w_held = (None, None) if w is None else (w[fit], w[hold])
    keys = sample_keys(np.arange(len(fit), dtype=np.uint64), model.random_state)
    blocks = {}
    for col in ids:
        b = EntityBlock.build(
            ids[col][fit], M, cols[col], keys, model.min_rows, model.max_rows_per_entity, at=fit
        )
        b.beta = np.zeros((len(b.ids), len(cols[col]) + 1))
        b.prior = np.zeros_like(b.beta)
        blocks[col] = b
    tol, steps = max(model.tol, SEARCH_TOL), min(model.max_iter, SEARCH_STEPS)
    fparams, z_fit, _ = descend(
        Xf[fit],
        y_fit,
        w_fit,
        np.zeros(Xf.shape[1] + 1),
        blocks,
        chosen,
        model._intercept_penalties(chosen),
        passes=1,
        solver=model.solver,
        max_iter=model.max_iter,
        tol=tol,
        entity_max_iter=steps,
    )
    # the held-out rows' scores; entities absent from the other rows add nothing
    held = {}
    for col, b in blocks.items():
        X_held = effect_features(M, cols[col], held_rows)
        known = pd.Index(b.ids).get_indexer(ids[col][hold])
        held[col] = (X_held, known, _score(X_held, known, b.beta))
    z_held = Xf[hold] @ fparams[:-1] + fparams[-1] + sum(part for _, _, part in held.values())
    for col, b in blocks.items():
        X_held, known, part = held[col]
        off_fit = z_fit - b.score_all(b.beta)
        off_held = z_held - part
        fit_part = (b, y_fit, w_fit, off_fit)
        held_part = (X_held, known, off_held, y_held, w_held)
        solve = partial(_solve, model, col, {"max_iter": steps, "tol": tol}, fit_part, held_part)
        _, chosen[col], b.beta = search(solve, b.beta)
        z_fit = off_fit + b.score_all(b.beta)
        z_held = off_held + _score(X_held, known, b.beta)
    return chosen, (fparams, {col: (b.ids, b.beta) for col, b in blocks.items()})


def _solve(model, col, stop, fit_part, held_part, value, beta0) -> tuple:
    """``(held-out loss, value, beta)``: one random effect re-solved at penalty ``value``."""
    block, y, w, offset = fit_part
    X_held, known, off_held, y_held, w_held = held_part
    pen = np.full(beta0.shape[1], value)
    pen[0] = model._intercept_penalty(col, value)
    zeros = np.zeros_like(beta0)
    beta = block.fit(y, w, offset, beta0, zeros, pen, **stop)
    return _log_loss(off_held + _score(X_held, known, beta), y_held, w_held), value, beta


def search(solve, beta) -> tuple:
    """:func:`walk`, then :func:`refine` around its best value: the best ``(loss, value, beta)``."""
    tried = {}

    def recorded(value, start):
        tried[value] = found = solve(value, start)
        return found

    return refine(solve, walk(recorded, beta), {v: found[0] for v, found in tried.items()})


def walk(solve, beta) -> tuple:
    """The best ``solve(value, start) -> (loss, value, beta)`` along :data:`GRID`.

    From :data:`START`, step up while the held-out loss falls; if the first
    step up does not help, step down instead (the loss of a penalty is
    unimodal in practice). Each solve starts from its neighbour's answer.
    """
    at = GRID.index(START)
    best = start = solve(START, beta)
    for step in (1, -1):
        k = at + step
        while 0 <= k < len(GRID):
            found = solve(GRID[k], best[2])
            if found[0] >= best[0]:
                break
            best, k = found, k + step
        if best is not start:
            break
    return best


def refine(solve, best, losses) -> tuple:
    """``best`` or, when better, the solve at the vertex of the parabola in log(penalty).

    The parabola passes through the held-out losses of the best grid value
    and its two neighbours (``losses``: ``{value: loss}``), when both were
    tried: the walk brackets the minimum, and the loss is smooth in the
    logarithm of the penalty, so one interpolation step lands near it. The
    vertex is rounded to two significant digits.

    >>> refine(lambda v, b: (abs(v - 2.5), v, b), (1.0, 3.0, None), {1.0: 3, 3.0: 1, 10.0: 6})
    (0.0, 2.5, None)
    """
    k = GRID.index(best[1])
    if not 0 < k < len(GRID) - 1 or not {GRID[k - 1], GRID[k + 1]} <= losses.keys():
        return best
    x0, x1, x2 = np.log(GRID[k - 1 : k + 2])
    f0, f1, f2 = losses[GRID[k - 1]], best[0], losses[GRID[k + 1]]
    den = (x1 - x0) * (f1 - f2) - (x1 - x2) * (f1 - f0)
    if den >= 0:  # flat or not convex: no interior minimum to interpolate
        return best
    vertex = x1 - 0.5 * ((x1 - x0) ** 2 * (f1 - f2) - (x1 - x2) ** 2 * (f1 - f0)) / den
    value = float(f"{np.exp(vertex):.2g}")
    if value in losses:
        return best
    found = solve(value, best[2])
    return found if found[0] < best[0] else best


def _score(X, known, beta) -> np.ndarray:
    out = np.zeros(len(X))
    hit = np.flatnonzero(known >= 0)
    out[hit] = np.einsum("ij,ij->i", X[hit], beta[known[hit]])
    return out
