"""Off-policy evaluation: a target policy's expected reward from a behaviour policy's logs.

The estimators of the Open Bandit Pipeline (Saito et al., 2020) for a discrete
action set. A log holds, for each round ``i``, the ``action`` the behaviour
policy chose, its ``reward`` and its ``pscore`` (the probability the behaviour
policy gave that action); the target policy is given by ``action_dist``, its
probability of every action in every round, optionally per slot of a list
(``position``). With the importance weight ``w_i = action_dist[i, action_i] /
pscore_i`` and a reward model ``q(x_i, a)`` (``estimated_rewards``):

====================  =====================================================
``"ipw"``             mean of ``w_i r_i``
``"snipw"``           ``sum(w_i r_i) / sum(w_i)``
``"dm"``              mean of ``sum_a action_dist[i, a] q(x_i, a)``
``"dr"``              DM term ``+ w_i (r_i - q(x_i, a_i))``
``"switch-dr"``       DR where ``w_i <= tau``, DM alone beyond
====================  =====================================================

Every estimate carries a percentile bootstrap interval computed from one
matrix of resampling counts shared by all estimators (a matrix product, no
loop over resamples); SNIPW is re-normalised inside each resample.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lumos._checks import check_number
from lumos.errors import LumosUserError

ESTIMATORS = ("ipw", "snipw", "dm", "dr", "switch-dr")
MODEL_BASED = frozenset({"dm", "dr", "switch-dr"})
ROW_SUM_TOL = 1e-5  # |sum_a action_dist[i, a] - 1| allowed (float32 probabilities pass)
_CELLS_PER_BLOCK = 1 << 22  # resampling counts held at once: 32 MB of float64


@dataclass(frozen=True)
class Estimate:
    """One estimator's value of the target policy with its bootstrap interval.

    Attributes
    ----------
    name : str
        The estimator, one of :data:`ESTIMATORS`.
    value : float
        The estimate on the full log.
    low, high : float
        The ``alpha / 2`` and ``1 - alpha / 2`` percentiles of the bootstrap estimates.
    std_error : float
        The standard deviation of the bootstrap estimates.
    """

    name: str
    value: float
    low: float
    high: float
    std_error: float


def estimate(
    name: str,
    *,
    reward,
    action,
    pscore,
    action_dist,
    position=None,
    estimated_rewards=None,
    tau: float = math.inf,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    random_state=None,
) -> Estimate:
    """Estimate the target policy's expected reward with one estimator.

    Parameters
    ----------
    name : {"ipw", "snipw", "dm", "dr", "switch-dr"}
        The estimator (see the module docstring).
    reward : array-like of shape (n,)
        The reward observed in each logged round.
    action : array-like of int, shape (n,)
        The action the behaviour policy chose, in ``[0, n_actions)``.
    pscore : array-like of shape (n,)
        The behaviour policy's probability of the logged action (at the logged
        position), in ``(0, 1]``.
    action_dist : array-like of shape (n, n_actions) or (n, n_actions, len_list)
        The target policy's probability of each action in each round (and slot);
        it sums to 1 over actions.
    position : array-like of int, shape (n,), optional
        The slot of the logged action, in ``[0, len_list)``; needed when
        ``action_dist`` has a position axis longer than 1.
    estimated_rewards : array-like, same shape as ``action_dist``, optional
        A reward model's prediction for every action (and slot) in every round;
        required by ``"dm"``, ``"dr"`` and ``"switch-dr"``. See
        :func:`fit_reward_model`.
    tau : float, default=inf
        Switch-DR's threshold on the importance weight (``inf`` makes it DR,
        ``0`` makes it DM wherever the target policy can take the logged action).
    n_bootstrap : int, default=1000
        Bootstrap resamples for the interval.
    alpha : float, default=0.05
        The interval covers ``1 - alpha``.
    random_state : int, numpy Generator or None, default=None
        Seeds the resampling; an int makes the interval reproducible.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> import numpy as np
    >>> reward = np.array([1.0, 0.0, 1.0, 0.0])
    >>> action = np.array([0, 1, 0, 1])
    >>> pscore = np.full(4, 0.5)                   # a uniform behaviour policy
    >>> target = np.tile([[1.0, 0.0]], (4, 1))     # always action 0
    >>> estimate("ipw", reward=reward, action=action, pscore=pscore,
    ...          action_dist=target, random_state=0).value
    1.0
    """
    return _evaluate(
        [name],
        reward,
        action,
        pscore,
        action_dist,
        position,
        estimated_rewards,
        tau,
        n_bootstrap,
        alpha,
        random_state,
    )[0]


def evaluate_all(
    *,
    reward,
    action,
    pscore,
    action_dist,
    position=None,
    estimated_rewards=None,
    estimators=ESTIMATORS,
    tau: float = math.inf,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    random_state=None,
) -> pd.DataFrame:
    """Every estimator on one log, with intervals from the same bootstrap resamples.

    Parameters
    ----------
    reward, action, pscore, action_dist, position, estimated_rewards
        As in :func:`estimate`; ``estimated_rewards`` is required unless
        ``estimators`` leaves out the model-based ones.
    estimators : sequence of str, default=ESTIMATORS
        Which estimators to run, in this order.
    tau, n_bootstrap, alpha, random_state
        As in :func:`estimate`.

    Returns
    -------
    DataFrame
        One row per estimator (index ``estimator``), columns ``value``,
        ``low``, ``high`` and ``std_error``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> action = rng.integers(0, 2, 1000)
    >>> reward = (rng.random(1000) < np.where(action == 0, 0.7, 0.2)).astype(float)
    >>> table = evaluate_all(
    ...     reward=reward, action=action, pscore=np.full(1000, 0.5),
    ...     action_dist=np.tile([[1.0, 0.0]], (1000, 1)),
    ...     estimated_rewards=np.tile([[0.7, 0.2]], (1000, 1)), random_state=0)
    >>> # the target policy's true value is 0.7
    >>> print(table.round(3))  # doctest: +NORMALIZE_WHITESPACE
               value    low   high  std_error
    estimator
    ipw        0.632  0.576  0.690      0.029
    snipw      0.683  0.637  0.726      0.022
    dm         0.700  0.700  0.700      0.000
    dr         0.684  0.641  0.725      0.021
    switch-dr  0.684  0.641  0.725      0.021
    """
    found = _evaluate(
        [estimators] if isinstance(estimators, str) else list(estimators),
        reward,
        action,
        pscore,
        action_dist,
        position,
        estimated_rewards,
        tau,
        n_bootstrap,
        alpha,
        random_state,
    )
    frame = pd.DataFrame(
        [[e.value, e.low, e.high, e.std_error] for e in found],
        index=pd.Index([e.name for e in found], name="estimator"),
        columns=["value", "low", "high", "std_error"],
    )
    return frame


def _evaluate(
    names,
    reward,
    action,
    pscore,
    action_dist,
    position,
    estimated_rewards,
    tau,
    n_bootstrap,
    alpha,
    random_state,
) -> list[Estimate]:
    for name in names:
        if name not in ESTIMATORS:
            raise LumosUserError(
                f"Unknown off-policy estimator {name!r}; choose one of {', '.join(ESTIMATORS)}.",
                code="bad_argument",
            )
    if not names:
        raise LumosUserError(
            "estimators is empty; name at least one of " + ", ".join(ESTIMATORS) + ".",
            code="bad_argument",
        )
    tau = _check_tau(tau)
    n_bootstrap = int(check_number(None, "n_bootstrap", n_bootstrap, low=1, integer=True))
    if not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise LumosUserError(
            f"alpha must be a float in (0, 1), e.g. 0.05 for a 95% interval. Got {_show(alpha)}.",
            code="bad_argument",
        )
    needs_model = [n for n in names if n in MODEL_BASED]
    log = _validate(reward, action, pscore, action_dist, position, estimated_rewards, needs_model)
    rng = np.random.default_rng(random_state)

    # Per-round terms: every estimator is a ratio of two column sums (a plain mean
    # divides by the count column), so one counts matrix serves them all.
    r, w, n = log["reward"], log["weight"], len(log["reward"])
    columns = {"one": np.ones(n), "w": w, "wr": w * r}
    if needs_model:
        dm, q_logged = log["dm"], log["q_logged"]
        columns["dm"] = dm
        columns["dr"] = dm + w * (r - q_logged)
        columns["switch-dr"] = dm + np.where(w <= tau, w * (r - q_logged), 0.0)
    ratios = {
        "ipw": ("wr", "one"),
        "snipw": ("wr", "w"),
        "dm": ("dm", "one"),
        "dr": ("dr", "one"),
        "switch-dr": ("switch-dr", "one"),
    }
    keys = list(columns)
    values = np.column_stack([columns[k] for k in keys])
    full = values.sum(axis=0)
    if "snipw" in names and full[keys.index("w")] == 0:
        raise LumosUserError(
            "SNIPW is undefined: action_dist gives probability 0 to every logged action, so "
            "the importance weights sum to 0. Check that action_dist's columns are the "
            "logged action ids.",
            code="bad_value",
        )
    boot = _bootstrap_sums(values, n_bootstrap, rng)
    out = []
    for name in names:
        num, den = keys.index(ratios[name][0]), keys.index(ratios[name][1])
        with np.errstate(invalid="ignore", divide="ignore"):
            stats = boot[:, num] / boot[:, den]  # SNIPW: NaN where a resample has no weight
        stats = stats[np.isfinite(stats)]
        low, high = (
            np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
            if len(stats)
            else (math.nan, math.nan)
        )
        out.append(
            Estimate(
                name=name,
                value=float(full[num] / full[den]),
                low=float(low),
                high=float(high),
                std_error=float(stats.std(ddof=1)) if len(stats) > 1 else math.nan,
            )
        )
    return out


def _bootstrap_sums(values: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Column sums of ``values`` (n, k) over ``n_bootstrap`` resamples of its rows: (B, k).

    Each block of resamples is one (b, n) array of drawn row indices, turned into
    counts by a single ``bincount`` and summed by one matrix product. The blocks
    only bound memory (``b * n`` cells at most ``_CELLS_PER_BLOCK``); the draws
    are the same whatever the block size.
    """
    n = values.shape[0]
    per_block = max(1, min(n_bootstrap, _CELLS_PER_BLOCK // n))
    sums = np.empty((n_bootstrap, values.shape[1]))
    for start in range(0, n_bootstrap, per_block):
        b = min(per_block, n_bootstrap - start)
        index = rng.integers(0, n, size=(b, n))
        flat = (index + (np.arange(b) * n)[:, None]).ravel()
        counts = np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)
        sums[start : start + b] = counts @ values
    return sums


def _validate(reward, action, pscore, action_dist, position, estimated_rewards, needs_model):
    r = _vector("reward", reward)
    n = len(r)
    if n == 0:
        raise LumosUserError(
            "reward is empty; the log needs at least one round.", code="bad_argument"
        )
    _finite("reward", r)
    dist = _floats("action_dist", action_dist)
    if dist.ndim not in (2, 3) or dist.shape[0] != n or dist.shape[1] == 0:
        raise LumosUserError(
            f"action_dist must have shape (n, n_actions) or (n, n_actions, len_list) with "
            f"n = {n} rounds (the length of reward). Got shape {dist.shape}.",
            code="bad_argument",
        )
    n_actions = dist.shape[1]
    a = _vector("action", action, n)
    if not (np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise LumosUserError(
            f"action must hold integer action ids; got dtype {a.dtype}. Encode actions as "
            "0 .. n_actions - 1 (e.g. with pandas.factorize).",
            code="bad_argument",
        )
    _in_range("action", a, n_actions, "n_actions, action_dist.shape[1]")
    p = _vector("pscore", pscore, n)
    bad = np.flatnonzero(~((p > 0) & (p <= 1)))
    if len(bad):
        raise LumosUserError(
            f"pscore must be the behaviour policy's probability of the logged action, in "
            f"(0, 1]. Got {_show(p[bad[0]])} at row {bad[0]} ({len(bad)} rows out of range).",
            code="bad_argument",
        )
    if dist.ndim == 2:
        if position is not None:
            raise LumosUserError(
                "position was given but action_dist has no position axis (shape "
                f"{dist.shape}); pass action_dist of shape (n, n_actions, len_list) or drop "
                "position.",
                code="bad_argument",
            )
        pos = np.zeros(n, dtype=np.intp)
        dist = dist[:, :, None]
    elif position is None:
        if dist.shape[2] != 1:
            raise LumosUserError(
                f"action_dist has a position axis of length {dist.shape[2]}; pass position, "
                "the slot of each logged action.",
                code="bad_argument",
            )
        pos = np.zeros(n, dtype=np.intp)
    else:
        pos = _vector("position", position, n)
        if not np.issubdtype(pos.dtype, np.integer):
            raise LumosUserError(
                f"position must hold integer slots 0 .. len_list - 1; got dtype {pos.dtype}.",
                code="bad_argument",
            )
        _in_range("position", pos, dist.shape[2], "len_list, action_dist.shape[2]")
    _finite("action_dist", dist)
    negative = np.argwhere(dist < 0)
    if len(negative):
        i, j, k = negative[0]
        raise LumosUserError(
            f"action_dist must hold probabilities >= 0; got {_show(dist[i, j, k])} at "
            f"{_cell(i, j, k, dist)}.",
            code="bad_argument",
        )
    off = np.argwhere(np.abs(dist.sum(axis=1) - 1) > ROW_SUM_TOL)
    if len(off):
        i, k = off[0]
        where = f"row {i}" + (f", position {k}" if dist.shape[2] > 1 else "")
        raise LumosUserError(
            f"action_dist must sum to 1 over actions in every round; {where} sums to "
            f"{_show(dist[i, :, k].sum())} ({len(off)} such rows). Normalise each row.",
            code="bad_argument",
        )
    rows = np.arange(n)
    out = {"reward": r, "weight": dist[rows, a, pos] / p}
    if estimated_rewards is not None or needs_model:
        if estimated_rewards is None:
            raise LumosUserError(
                f"{', '.join(needs_model)} need estimated_rewards, a reward model's prediction "
                "of shape action_dist.shape; fit one with fit_reward_model or run only "
                "'ipw' and 'snipw'.",
                code="bad_argument",
            )
        q = _floats("estimated_rewards", estimated_rewards)
        if q.ndim == 2 and np.ndim(action_dist) == 2:
            q = q[:, :, None]
        if q.shape != dist.shape:
            raise LumosUserError(
                f"estimated_rewards must have the shape of action_dist, {np.shape(action_dist)}. "
                f"Got {np.shape(estimated_rewards)}.",
                code="bad_argument",
            )
        _finite("estimated_rewards", q)
        out["dm"] = np.einsum("ij,ij->i", dist[rows, :, pos], q[rows, :, pos])
        out["q_logged"] = q[rows, a, pos]
    return out


def _vector(label: str, values, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        want = f"({n},), one value per logged round" if n is not None else "(n,)"
        raise LumosUserError(
            f"{label} must have shape {want}. Got shape {arr.shape}.", code="bad_argument"
        )
    if arr.dtype.kind not in "biuf":
        raise LumosUserError(
            f"{label} must be numeric; got dtype {arr.dtype}.", code="bad_argument"
        )
    return arr.astype(np.float64) if arr.dtype.kind == "f" or label in {"reward", "pscore"} else arr


def _floats(label: str, values) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise LumosUserError(
            f"{label} must be a numeric array; got {type(values).__name__} of dtype "
            f"{np.asarray(values).dtype}.",
            code="bad_argument",
        ) from None


def _finite(label: str, arr: np.ndarray) -> None:
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        raise LumosUserError(
            f"{label} must be finite; got {_show(arr[tuple(bad[0])])} at index "
            f"{tuple(bad[0].tolist())} ({len(bad)} non-finite values).",
            code="bad_argument",
        )


def _in_range(label: str, values: np.ndarray, size: int, size_name: str) -> None:
    bad = np.flatnonzero((values < 0) | (values >= size))
    if len(bad):
        raise LumosUserError(
            f"{label} must lie in [0, {size}) ({size_name} = {size}); got "
            f"{_show(values[bad[0]])} at row {bad[0]} ({len(bad)} rows out of range).",
            code="bad_argument",
        )


def _show(value) -> str:
    """``repr`` of a value, NumPy scalars as the Python number they hold."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _cell(i, j, k, dist) -> str:
    return f"row {i}, action {j}" + (f", position {k}" if dist.shape[2] > 1 else "")


def _check_tau(tau) -> float:
    if not isinstance(tau, numbers.Real) or math.isnan(tau) or tau < 0:
        raise LumosUserError(
            f"tau, switch-DR's threshold on the importance weight, must be a number >= 0 "
            f"(inf for plain DR). Got {_show(tau)}.",
            code="bad_argument",
        )
    return float(tau)
