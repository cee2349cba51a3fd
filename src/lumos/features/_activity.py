"""Labels from activity alone: will a customer do more, or nothing, in the coming months?

For businesses without contracts (a shop's purchase log, a learning platform's
watch time) the same questions as at renewal — upsell or churn — are asked of
activity: at each monthly cutoff, compare a metric's total over the next
``months`` with its total over the previous ``months``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos._checks import check_number
from lumos.data import validate_table
from lumos.errors import LumosUserError


def activity_labels(usage, *, metric: str, cutoffs, months: int = 3, as_of=None) -> pd.DataFrame:
    """Upsell and churn labels of every account active before each cutoff.

    Parameters
    ----------
    usage : DataFrame
        A ``usage`` table (see :func:`lumos.data.validate_table`); products are summed.
    metric : str
        The metric to compare, e.g. ``"purchases"``.
    cutoffs : list of date-like
        First days of months.
    months : int, default=3
        Length of the windows before and after each cutoff.
    as_of : date-like, optional
        End of the data; a row whose next window ends after it has
        ``closed=False``. Defaults to the month after the last usage month.

    Returns
    -------
    DataFrame
        ``account_id, cutoff, before, after, upsell, churn, closed`` for every
        account with usage before the cutoff: ``upsell`` is after > before,
        ``churn`` is after == 0. Accounts stay in the population however long
        they have been quiet (as in BG/NBD), so a dormant account is a churn.

    Examples
    --------
    >>> u = pd.DataFrame({"account_id": "a", "product": "shop", "metric": "purchases",
    ...                   "month": ["2025-01-01", "2025-02-01", "2025-05-01"],
    ...                   "value": [1.0, 2.0, 5.0]})
    >>> activity_labels(u, metric="purchases", cutoffs=["2025-04-01"], months=2)
      account_id     cutoff  before  after  upsell  churn  closed
    0          a 2025-04-01     2.0    5.0    True  False    True
    """
    check_number("activity_labels", "months", months, low=1, integer=True)
    cutoffs = [cutoffs] if isinstance(cutoffs, str | pd.Timestamp) else list(cutoffs)
    if not cutoffs:
        raise LumosUserError("cutoffs is empty; give at least one month.", code="bad_argument")
    table = validate_table("usage", usage)
    table = table[table["metric"] == metric]
    if table.empty:
        raise LumosUserError(f"The usage table has no metric {metric!r}.", code="bad_argument")
    month = table["month"].to_numpy("datetime64[M]").astype(np.int64)
    codes, accounts = pd.factorize(table["account_id"])
    cut = np.unique(
        np.asarray(pd.to_datetime(list(cutoffs)), dtype="datetime64[M]").astype(np.int64)
    )
    end = (
        month.max() + 1
        if as_of is None
        else np.datetime64(pd.Timestamp(as_of), "M").astype(np.int64)
    )
    lo, span = month.min(), month.max() - month.min() + 1
    # one dense account × month matrix of the metric, and its running sum over months
    grid = np.zeros((len(accounts), span + 1))
    np.add.at(grid, (codes, month - lo + 1), table["value"].fillna(0).to_numpy())
    running = np.cumsum(grid, axis=1)
    first = np.full(len(accounts), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, month)

    def total(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # months in [a, b)
        a = np.clip(a - lo, 0, span)
        b = np.clip(b - lo, 0, span)
        return running[:, b] - running[:, a]

    frames = []
    for c in cut:  # a loop over the few cutoffs; each step is vectorized over accounts
        active = first < c
        before = total(np.array(c - months), np.array(c))[active]
        after = total(np.array(c), np.array(c + months))[active]
        frames.append(
            pd.DataFrame(
                {
                    "account_id": accounts[active],
                    "cutoff": np.datetime64(int(c), "M").astype("datetime64[s]"),
                    "before": before,
                    "after": after,
                    "upsell": after > before,
                    "churn": after == 0,
                    "closed": c + months <= end,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
