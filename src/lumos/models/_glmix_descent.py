"""GLMix's block coordinate descent over prepared arrays.

:func:`descend` refits each coordinate in turn with the other coordinates'
scores as a fixed offset: the fixed effect by
:func:`~lumos.models._logistic.minimize_logistic`, each random effect by one
batched Newton solve of its :class:`~lumos.models._entities.EntityBlock`.
``GLMix.fit`` runs it on all rows; ``l2="auto"``'s search on the rows it
does not hold out.
"""

from __future__ import annotations

import numpy as np

from lumos.models._logistic import minimize_logistic

FIXED = "fixed_effect"


def descend(Xf, y, w, fparams, blocks, l2, il2, *, passes, fprior=None, **solve):
    """``passes`` rounds of coordinate descent; returns ``(fparams, scores, losses)``.

    ``Xf`` holds the fixed effect's features (its intercept is ``fparams[-1]``),
    ``blocks`` the random effects' :class:`EntityBlock` by id column, each with
    its starting ``beta`` (updated in place) and ``prior``; ``l2`` and ``il2``
    the penalties of coefficients and intercepts per coordinate; ``solve`` the
    ``solver`` of the fixed effect, ``max_iter``, ``tol`` and optionally
    ``entity_max_iter``, the Newton steps of a random effect's solve (by default
    ``max_iter``). ``scores`` is the total score of every row, ``losses`` the
    penalized loss after each pass.
    """
    solver, max_iter, tol = solve["solver"], solve["max_iter"], solve["tol"]
    steps = solve.get("entity_max_iter", max_iter)
    score = {FIXED: Xf @ fparams[:-1] + fparams[-1]}
    for col, b in blocks.items():
        score[col] = b.score_all(b.beta)
    total = sum(score.values())
    losses = []
    for _ in range(passes):
        offset = total - score[FIXED]
        fparams, _ = minimize_logistic(
            Xf,
            y,
            offset=offset,
            sample_weight=w,
            l2=l2[FIXED],
            intercept_l2=il2[FIXED],
            prior=fprior,
            x0=fparams,
            solver=solver,
            max_iter=max_iter * 4,
            tol=tol,
        )
        score[FIXED] = Xf @ fparams[:-1] + fparams[-1]
        total = offset + score[FIXED]
        for col, b in blocks.items():
            offset = total - score[col]
            pen = np.r_[il2[col], np.full(b.beta.shape[1] - 1, l2[col])]
            b.beta = b.fit(y, w, offset, b.beta, b.prior, pen, max_iter=steps, tol=tol)
            score[col] = b.score_all(b.beta)
            total = offset + score[col]
        losses.append(penalized_loss(total, y, w, fparams, fprior, blocks, l2, il2))
    return fparams, total, losses


def penalized_loss(z, y, w, fparams, fprior, blocks, l2, il2) -> float:
    """The summed log-loss of scores ``z`` plus every coordinate's penalty."""
    rows = np.logaddexp(0.0, z) - y * z
    loss = float(np.sum(rows if w is None else w * rows))
    d = fparams - (0.0 if fprior is None else fprior)
    loss += 0.5 * (l2[FIXED] * float(d[:-1] @ d[:-1]) + il2[FIXED] * float(d[-1] ** 2))
    for col, b in blocks.items():
        d = b.beta - b.prior
        loss += 0.5 * il2[col] * float(d[:, 0] @ d[:, 0])
        loss += 0.5 * l2[col] * float(np.sum(d[:, 1:] ** 2))
    return loss
