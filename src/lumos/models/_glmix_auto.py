"""``GLMix(l2="auto")``: per-coordinate penalties chosen on held-out rows.

The search GLMix runs before its final fit:

1. hold out a pseudo-random eighth of the rows (about an eighth of each
   entity's rows; the keys come from :func:`sample_keys`, so a seed repeats
   it), fit GLMix on the rest with every random effect at :data:`START`;
2. for each random effect in turn, re-solve only its entities (the other
   coordinates' scores held fixed) at penalties of :data:`GRID`, slopes and
   intercept alike unless ``intercept_l2`` says otherwise, walking from
   :data:`START` up (or down) while the log-loss on the held-out rows falls;
3. GLMix then refits on all rows with the chosen penalties.

Re-solving one coordinate is one batched Newton solve
(:func:`fit_entities`) started from its neighbour's answer, so the search
costs about one extra GLMix fit, and the final fit starts from its model.
The fixed effect keeps ``l2 = 1``: it is fitted on every row, where a
summed-loss penalty of 1 barely acts.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from lumos.models._entities import EntityBlock, fit_entities
from lumos.models._glmix_inputs import entity_ids, feature_matrix
from lumos.models._keys import sample_keys

FIXED = "fixed_effect"
GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
START = 3.0
HOLD_OUT = 8  # one row in HOLD_OUT is held out
MIN_HELD = 20  # fewer held-out rows (or one class only) and the search keeps START
SEED_SHIFT = 104_729  # the hold-out's keys differ from the row cap's


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


def choose_l2(model, df, y, w, effects: dict[str, list[str]]):
    """The per-coordinate ``l2`` GLMix ``model`` fits with when its ``l2`` is ``"auto"``.

    ``df``, ``y`` (0/1) and ``w`` are the checked training rows; ``effects``
    the random effects. Returns ``({"fixed_effect": 1.0, id column: l2, ...},
    the search's model)``: fitted on the rows not held out with the chosen
    penalties' entity models, a starting point for the final fit (``None``
    when there was no search).
    """
    chosen = {FIXED: 1.0, **dict.fromkeys(effects, START)}
    hold = held_out_rows(len(df), model.random_state)
    if not effects or hold.sum() < MIN_HELD or len(np.unique(y[hold])) < 2:
        return chosen, None
    fit_rows, held = df[~hold], df[hold]
    w_fit = None if w is None else w[~hold]
    w_held = None if w is None else w[hold]
    sub = model._with_penalties(chosen).fit(fit_rows, y[~hold], sample_weight=w_fit)
    scale = sub.scale_mean_, sub.scale_std_
    cols = sub.feature_columns_
    M_fit = (feature_matrix(fit_rows, cols) - scale[0]) / scale[1]
    M_held = (feature_matrix(held, cols) - scale[0]) / scale[1]
    pos = {c: i for i, c in enumerate(cols)}
    z_fit, z_held = sub.decision_function(fit_rows), sub.decision_function(held)
    n_fit = len(fit_rows)
    keys = sample_keys(np.arange(n_fit, dtype=np.uint64), model.random_state)
    y_fit, y_held = y[~hold].astype(np.float64), y[hold].astype(np.float64)
    for col, feats in effects.items():
        idx = [pos[c] for c in feats]
        X_fit = np.column_stack([np.ones(n_fit), M_fit[:, idx]])
        X_held = np.column_stack([np.ones(len(held)), M_held[:, idx]])
        block = EntityBlock.build(
            entity_ids(fit_rows, col, fitting=True),
            X_fit,
            keys,
            model.min_rows,
            model.max_rows_per_entity,
        )
        known = pd.Index(block.ids).get_indexer(entity_ids(held, col, fitting=False))
        beta = np.column_stack([sub.entity_intercept_[col], sub.entity_coef_[col]])
        off_fit = z_fit - block.score_all(beta)
        off_held = z_held - _score(X_held, known, beta)
        rows = block.rows
        fit_part = (block, y_fit[rows], None if w_fit is None else w_fit[rows], off_fit[rows])
        held_part = (X_held, known, off_held, y_held, w_held)
        solve = partial(_solve, model, col, fit_part, held_part)
        best = walk(solve, beta)
        _, chosen[col], beta = best
        sub.entity_intercept_[col], sub.entity_coef_[col] = beta[:, 0], beta[:, 1:]
        z_fit = off_fit + block.score_all(beta)
        z_held = off_held + _score(X_held, known, beta)
    return chosen, sub


def _solve(model, col, fit_part, held_part, value, beta0) -> tuple:
    """``(held-out loss, value, beta)``: one random effect re-solved at penalty ``value``."""
    block, y, w, offset = fit_part
    X_held, known, off_held, y_held, w_held = held_part
    pen = np.full(beta0.shape[1], value)
    pen[0] = model._intercept_penalty(col, value)
    beta = fit_entities(
        block.X_all[block.rows],
        y,
        w,
        offset,
        block.ent,
        len(block.ids),
        beta0,
        np.zeros_like(beta0),
        pen,
        max_iter=model.max_iter,
        tol=model.tol,
    )
    return _log_loss(off_held + _score(X_held, known, beta), y_held, w_held), value, beta


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


def _score(X, known, beta) -> np.ndarray:
    out = np.zeros(len(X))
    hit = np.flatnonzero(known >= 0)
    out[hit] = np.einsum("ij,ij->i", X[hit], beta[known[hit]])
    return out
