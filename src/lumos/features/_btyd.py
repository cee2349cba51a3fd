"""Point-in-time buy-till-you-die features: BG/NBD fitted at each cutoff on that cutoff's history.

A tree cannot extrapolate: a customer whose only purchase was 14 months ago at
a late cutoff looks like no one it saw in training, where histories were at
most 9 months long. BG/NBD (Fader, Hardie and Lee, 2005) turns recency,
frequency and age into quantities that keep their meaning at any cutoff — the
expected purchases over the horizon, the probability of being alive, and the
probabilities of buying nothing in the horizon and of buying more in it than in
the same span before the cutoff (Fader and Hardie's conditional distribution
of future purchases) — and recency and frequency over the customer's age are
ratios that do too.

At each distinct cutoff, the purchases strictly before it are summarized per
customer as lifetimes does (``frequency``: purchase days after the first;
``recency``: days from the first purchase day to the last; ``T``: days from
the first to the day before the cutoff), BG/NBD is fitted on every customer of
that history by maximum likelihood (L-BFGS-B on the log parameters, the
likelihood vectorized over the distinct summaries), and each row reads its own
customer's figures. Nothing at or after a cutoff touches its features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1
from scipy.stats import nbinom

from lumos._checks import require_columns
from lumos.errors import DataValidationError, LumosUserError

BTYD_FEATURES = (
    "bgnbd_expected",
    "bgnbd_p_alive",
    "bgnbd_p_none",
    "bgnbd_p_more",
    "recency_over_age",
    "frequency_over_age",
)


def _loglik(params: np.ndarray, x, tx, T, w) -> float:
    """Minus the BG/NBD log-likelihood of the summaries (x, tx, T) with weights w."""
    r, alpha, a, b = np.exp(params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(
        x > 0,
        np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx),
        -np.inf,
    )
    return -float(w @ (a1 + a2 + np.logaddexp(a3, a4)))


def fit_bgnbd(frequency, recency, age) -> tuple[float, float, float, float]:
    """BG/NBD's ``(r, alpha, a, b)`` by maximum likelihood, ``alpha`` in the unit of the times.

    Examples
    --------
    >>> r, alpha, a, b = fit_bgnbd([0, 2, 5, 0, 1], [0.0, 30.0, 80.0, 0.0, 10.0],
    ...                            [90.0, 60.0, 100.0, 20.0, 50.0])
    >>> bool(r > 0 and alpha > 0 and a > 0 and b > 0)
    True
    """
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, age))
    scale = max(float(T.max()), 1.0)  # fit in units of the longest age, then scale alpha back
    keys, w = np.unique(np.c_[x, tx / scale, T / scale], axis=0, return_counts=True)
    args = (keys[:, 0], keys[:, 1], keys[:, 2], w.astype(np.float64))
    with np.errstate(all="ignore"):
        found = minimize(
            _loglik,
            np.log([0.5, 0.1, 1.0, 1.0]),
            args=args,
            method="L-BFGS-B",
            bounds=[(-10.0, 10.0)] * 4,
        )
    r, alpha, a, b = np.exp(found.x)
    return float(r), float(alpha * scale), float(a), float(b)


def bgnbd_predict(params, frequency, recency, age, horizon) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases in the next ``horizon`` and P(alive), per customer."""
    r, alpha, a, b = params
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, age))
    with np.errstate(all="ignore"):
        odds = np.where(
            x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0
        )
        alive = 1.0 / (1.0 + odds)
        z = horizon / (alpha + T + horizon)
        f = hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = 1.0 - ((alpha + T) / (alpha + T + horizon)) ** (r + x) * f
        expected = (a + b + x - 1) / (a - 1) * head * alive
    return expected, alive


def bgnbd_chances(params, frequency, recency, age, horizon, count) -> tuple[np.ndarray, np.ndarray]:
    """P(no purchase in the next ``horizon``) and P(more than ``count`` in it), per customer.

    The conditional distribution of BG/NBD purchases in ``(T, T + horizon]``
    given a customer's history (Fader and Hardie, "Deriving the conditional PMF
    of the BG/NBD model"): alive at ``T`` with probability ``P(alive)``, a
    customer buys ``n`` with probability
    ``B(a, b+x+n)/B(a, b+x) NB(n; r+x, q)
    + [n > 0] B(a+1, b+x+n-1)/B(a, b+x) NB(>= n; r+x, q)``
    with ``q = (alpha + T) / (alpha + T + horizon)`` — the first term survives the
    ``n`` purchases, the second dies after the ``n``-th; dead, the customer buys
    nothing. For ``x = T = 0`` it is the model's ``P(X(t) = n)``.

    Examples
    --------
    A one-time buyer of 50 days ago, beating no purchase in 30 days, and a
    customer with 3 repeat purchases (the last 10 days ago), beating one:

    >>> none, more = bgnbd_chances((0.5, 10.0, 2.0, 3.0), [0, 3], [0, 40], [50, 50], 30, [0, 1])
    >>> none.round(3).tolist(), more.round(3).tolist()
    ([0.816, 0.569], [0.184, 0.203])
    """
    r, alpha, a, b = params
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, age))
    k = np.broadcast_to(np.asarray(count, dtype=np.int64), x.shape)
    _, alive = bgnbd_predict(params, x, tx, T, horizon)
    shape, q = r + x, (alpha + T) / (alpha + T + horizon)
    base = betaln(a, b + x)
    none = alive * nbinom.pmf(0, shape, q) + (1.0 - alive)
    at_most = none.copy()
    for n in range(1, int(k.max(initial=0)) + 1):  # a loop over counts, not customers
        on = k >= n
        s, p, xn = shape[on], q[on], x[on]
        survive = np.exp(betaln(a, b + xn + n) - base[on]) * nbinom.pmf(n, s, p)
        die = np.exp(betaln(a + 1, b + xn + n - 1) - base[on]) * nbinom.sf(n - 1, s, p)
        at_most[on] += alive[on] * (survive + die)
    return none, np.clip(1.0 - at_most, 0.0, 1.0)


def btyd_features(purchases, cutoffs, *, horizon_days: int = 91) -> pd.DataFrame:
    """BG/NBD and relative recency/frequency at each cutoff, from purchases strictly before it.

    Parameters
    ----------
    purchases : DataFrame
        ``account_id`` and ``date`` (datetime64): one row per purchase; several
        on one day count as one purchase day.
    cutoffs : DataFrame
        ``account_id`` and ``cutoff`` (datetime64); other columns are ignored.
    horizon_days : int, default=91
        The horizon of ``bgnbd_expected``, ``bgnbd_p_none`` and
        ``bgnbd_p_more``, in days.

    Returns
    -------
    DataFrame
        One row per cutoffs row, in order and with its index: ``bgnbd_expected``
        (purchase days expected in the horizon), ``bgnbd_p_alive``,
        ``bgnbd_p_none`` (the chance of no purchase in the horizon),
        ``bgnbd_p_more`` (the chance of more purchase days in the horizon than
        in the ``horizon_days`` before the cutoff), ``recency_over_age`` (days
        since the last purchase over days since the first) and
        ``frequency_over_age`` (purchase days after the first per day of age).
        NaN for an account with no purchase before the cutoff.

    Examples
    --------
    >>> days = pd.to_datetime(["2025-01-03", "2025-02-10", "2025-01-20", "2025-03-01"])
    >>> log = pd.DataFrame({"account_id": ["a", "a", "b", "c"], "date": days})
    >>> cut = pd.DataFrame({"account_id": ["a", "b"], "cutoff": pd.Timestamp("2025-04-01")})
    >>> f = btyd_features(log, cut)
    >>> list(f.columns)[:4], bool(f.loc[0, "bgnbd_p_alive"] <= 1)
    (['bgnbd_expected', 'bgnbd_p_alive', 'bgnbd_p_none', 'bgnbd_p_more'], True)
    """
    if not isinstance(horizon_days, int | np.integer) or horizon_days < 1:
        raise LumosUserError(
            f"horizon_days must be a whole number of days >= 1. Got {horizon_days!r}.",
            code="bad_argument",
        )
    for name, data, cols in (
        ("purchases", purchases, ["account_id", "date"]),
        ("cutoffs", cutoffs, ["account_id", "cutoff"]),
    ):
        if not isinstance(data, pd.DataFrame):
            raise LumosUserError(
                f"{name} must be a pandas DataFrame. Got {type(data).__name__}.",
                code="bad_argument",
            )
        require_columns(data, cols, source=f"{name} table", hint="add it.", file=name)
    day = _days(purchases["date"], "purchases", "date")
    cut = _days(cutoffs["cutoff"], "cutoffs", "cutoff")
    ids, codes = np.unique(purchases["account_id"].astype(str).to_numpy(), return_inverse=True)
    order = np.lexsort((day, codes))
    codes, day = codes[order], day[order]
    fresh = np.r_[True, (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])]  # purchase days
    codes, day = codes[fresh], day[fresh]
    n, out = len(ids), np.full((len(cutoffs), len(BTYD_FEATURES)), np.nan)
    rows_ids = cutoffs["account_id"].astype(str).to_numpy()
    at = np.searchsorted(ids, rows_ids).clip(max=max(n - 1, 0))
    known = (ids[at] == rows_ids) if n else np.zeros(len(rows_ids), dtype=bool)
    for c in np.unique(cut):  # a loop over the few distinct cutoffs
        keep = day < c
        k, d = codes[keep], day[keep]
        count = np.bincount(k, minlength=n)
        seen = count > 0
        if not seen.any():
            continue
        first, last = np.zeros(n), np.zeros(n)
        first[k[::-1]], last[k] = d[::-1], d  # the last write per customer wins
        x, tx, T = count - 1.0, last - first, (c - 1) - first
        params = fit_bgnbd(x[seen], tx[seen], T[seen])
        expected, alive = bgnbd_predict(params, x, tx, T, horizon_days)
        recent = np.bincount(k[d >= c - horizon_days], minlength=n)
        none, more = np.full(n, np.nan), np.full(n, np.nan)
        none[seen], more[seen] = bgnbd_chances(
            params, x[seen], tx[seen], T[seen], horizon_days, recent[seen]
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            age = T + 1.0  # the day of the first purchase counts, so a first-day buyer has age 1
            f = np.c_[expected, alive, none, more, (c - last) / age, x / age]
        f[~seen] = np.nan
        rows = np.flatnonzero((cut == c) & known)
        out[rows] = f[at[rows]]
    return pd.DataFrame(out, columns=list(BTYD_FEATURES), index=cutoffs.index)


def _days(column: pd.Series, name: str, col: str) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(column) or column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0]) if column.isna().any() else 0
        raise DataValidationError(
            f"{name} column {col!r} must hold dates (datetime64) in every row; got "
            f"{column.dtype} with {int(column.isna().sum())} empty.",
            code="bad_value",
            file=name,
            row=row,
            column=col,
        )
    return column.to_numpy("datetime64[D]").astype(np.int64)
