"""Labels over overlapping windows inside each renewal cycle.

A renewal cycle runs from the start of a ``new`` or ``renewal`` contract to its
end, the renewal date. At every monthly cutoff strictly inside a cycle the
label is the change in contracted quantity from the cutoff to the horizon (by
default the renewal date; or a fixed number of months): positive is an upsell,
negative a churn. Cutoffs overlap, so one cycle gives several rows, and a
mid-cycle add-on can make the same account an upsell early in the cycle and a
churn late in it — the waterfall of bookings through a cycle.

The contracted quantity at a date is the sum of the quantities of the contracts
covering it (``start <= date < end``); at the renewal date that is what was
renewed (0 if the account left).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos._checks import check_number
from lumos.data import validate_table
from lumos.errors import LumosUserError

LABELS = ("churn", "flat", "upsell")


def _months(values: np.ndarray) -> np.ndarray:
    """Dates → months since 1970-01 (int)."""
    return values.astype("datetime64[M]").astype(np.int64)


def renewal_labels(
    contracts,
    *,
    level: str = "account",
    horizon: str | int = "renewal",
    as_of=None,
    tolerance: float = 0.0,
) -> pd.DataFrame:
    """One labelled row per key and monthly cutoff inside each renewal cycle.

    Parameters
    ----------
    contracts : DataFrame or pyarrow.Table
        The ``contracts`` table (see :func:`lumos.data.validate_table`).
    level : {"account", "product"}, default="account"
        Label accounts (quantities summed over products) or each product an
        account holds.
    horizon : "renewal" or int, default="renewal"
        Measure the change up to the cycle's renewal date, or over a fixed
        number of months after the cutoff.
    as_of : date-like, optional
        The day the data was taken. A row whose horizon is after it is kept
        with ``closed=False`` (its label is not known yet); train only on
        closed rows. Defaults to the latest contract start.
    tolerance : float, default=0.0
        Changes within ±tolerance are ``flat``.

    Returns
    -------
    DataFrame
        ``account_id`` (and ``product``), ``cycle_start``, ``renewal``,
        ``cutoff``, ``horizon``, ``quantity``, ``quantity_at_horizon``,
        ``change``, ``label`` (churn | flat | upsell) and ``closed``, sorted by
        key and cutoff.

    Examples
    --------
    >>> c = pd.DataFrame({
    ...     "account_id": ["a", "a", "a"], "product": ["p"] * 3,
    ...     "start": ["2025-01-01", "2025-05-01", "2026-01-01"],
    ...     "end": ["2026-01-01", "2026-01-01", "2027-01-01"],
    ...     "quantity": [10, 5, 12], "amount": [0.0] * 3, "kind": ["new", "add_on", "renewal"]})
    >>> rows = renewal_labels(c, as_of="2026-06-01")
    >>> first = rows[rows.cycle_start == "2025-01-01"]
    >>> first[["cutoff", "quantity", "change", "label"]].iloc[[0, 5]]
          cutoff  quantity  change   label
    0 2025-02-01      10.0     2.0  upsell
    5 2025-07-01      15.0    -3.0   churn
    """
    if level not in ("account", "product"):
        raise LumosUserError(
            f"level must be 'account' or 'product'. Got {level!r}.", code="bad_argument"
        )
    if horizon != "renewal" and not (isinstance(horizon, int) and horizon >= 1):
        raise LumosUserError(
            f"horizon must be 'renewal' or an int number of months >= 1. Got {horizon!r}.",
            code="bad_argument",
        )
    check_number("renewal_labels", "tolerance", tolerance)
    table = validate_table("contracts", contracts)
    keys = ["account_id"] if level == "account" else ["account_id", "product"]
    key_codes, key_values = pd.MultiIndex.from_frame(table[keys]).factorize()
    start = table["start"].to_numpy("datetime64[D]")
    end = table["end"].to_numpy("datetime64[D]")
    as_of = start.max() if as_of is None else np.datetime64(pd.Timestamp(as_of), "D")

    # Renewal cycles: each base (new or renewal) contract's span, once per key.
    base = table["kind"].isin(["new", "renewal"]).to_numpy()
    cycles = pd.DataFrame({"key": key_codes[base], "start": start[base], "end": end[base]})
    cycles = cycles.drop_duplicates().sort_values(["key", "start"], kind="stable")
    c_key, c_start, c_end = (cycles[c].to_numpy() for c in ("key", "start", "end"))

    # Monthly cutoffs strictly inside each cycle (the first of each later month).
    first = _months(c_start) + 1
    count = np.maximum(_months(c_end - np.timedelta64(1, "D")) - first + 1, 0)
    owner = np.repeat(np.arange(len(cycles)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    cutoff = (first[owner] + offset).astype("datetime64[M]").astype("datetime64[D]")
    key = c_key[owner]
    if len(key) == 0:  # no cycle spans a month: no cutoffs
        columns = [
            *keys,
            "cycle_start",
            "renewal",
            "cutoff",
            "horizon",
            "quantity",
            "quantity_at_horizon",
            "change",
            "label",
            "closed",
        ]
        return pd.DataFrame(columns=columns)
    if horizon == "renewal":
        until = c_end[owner]
    else:
        until = (_months(cutoff) + horizon).astype("datetime64[M]").astype("datetime64[D]")

    quantity = _quantity_at(key_codes, start, end, table["quantity"].to_numpy(), key, cutoff)
    later = _quantity_at(key_codes, start, end, table["quantity"].to_numpy(), key, until)
    change = later - quantity
    label = np.where(change > tolerance, 2, np.where(change < -tolerance, 0, 1))
    out = key_values[key].to_frame(index=False)
    out.columns = keys
    out["cycle_start"] = c_start[owner].astype("datetime64[s]")
    out["renewal"] = c_end[owner].astype("datetime64[s]")
    out["cutoff"] = cutoff.astype("datetime64[s]")
    out["horizon"] = until.astype("datetime64[s]")
    out["quantity"] = quantity
    out["quantity_at_horizon"] = later
    out["change"] = change
    out["label"] = pd.Categorical.from_codes(label, LABELS)
    out["closed"] = until <= as_of
    return out.drop_duplicates([*keys, "cutoff", "horizon"]).reset_index(drop=True)


def _quantity_at(key_codes, start, end, quantity, key, when) -> np.ndarray:
    """Contracted quantity of each ``key`` at date ``when``: contracts with start <= when < end.

    The quantity of a key is a step function: +q at each start, −q at each end.
    Events are sorted by (key, date) once; each query is one binary search.
    """
    days = lambda d: d.astype("datetime64[D]").astype(np.int64)  # noqa: E731
    span = max(days(end).max(), days(when).max()) - min(days(start).min(), days(when).min()) + 2
    lo = min(days(start).min(), days(when).min())
    ev_key = np.r_[key_codes, key_codes]
    ev_pos = ev_key * span + np.r_[days(start), days(end)] - lo
    ev_delta = np.r_[quantity, -quantity]
    order = np.argsort(ev_pos, kind="stable")
    ev_pos, ev_delta, ev_key = ev_pos[order], ev_delta[order], ev_key[order]
    level = np.cumsum(ev_delta)
    query = key * span + days(when) - lo
    i = np.searchsorted(ev_pos, query, side="right") - 1
    valid = (i >= 0) & (ev_key[np.maximum(i, 0)] == key)
    # the running total also holds earlier keys' levels: subtract it as it was
    # just before this key's first event
    starts = np.r_[True, ev_key[1:] != ev_key[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(level)), 0))
    base = np.r_[0.0, level][first]
    result = np.where(valid, level[np.maximum(i, 0)] - base[np.maximum(i, 0)], 0.0)
    return np.round(result, 9)


def quantity_at(contracts, rows, *, level: str = "product") -> np.ndarray:
    """The contracted quantity of each row's account (or product) on the row's ``date``.

    Parameters
    ----------
    contracts : DataFrame or pyarrow.Table
        The ``contracts`` table.
    rows : DataFrame
        ``account_id`` (and ``product`` at product level) and ``date``.
    level : {"account", "product"}, default="product"

    Returns
    -------
    ndarray of float
        The sum of the quantities of the contracts covering the date
        (``start <= date < end``); 0 for keys without contracts.

    Examples
    --------
    >>> c = pd.DataFrame({"account_id": ["a"], "product": ["p"], "start": ["2025-01-01"],
    ...     "end": ["2026-01-01"], "quantity": [10], "amount": [0.0], "kind": ["new"]})
    >>> q = pd.DataFrame({"account_id": ["a", "a", "b"], "product": ["p", "p", "p"],
    ...                   "date": pd.to_datetime(["2025-06-01", "2026-01-01", "2025-06-01"])})
    >>> quantity_at(c, q).tolist()
    [10.0, 0.0, 0.0]
    """
    if level not in ("account", "product"):
        raise LumosUserError(
            f"level must be 'account' or 'product'. Got {level!r}.", code="bad_argument"
        )
    table = validate_table("contracts", contracts)
    keys = ["account_id"] if level == "account" else ["account_id", "product"]
    known = pd.MultiIndex.from_frame(table[keys])
    key_codes, key_values = known.factorize()
    key = key_values.get_indexer(pd.MultiIndex.from_frame(rows[keys]))
    when = np.asarray(pd.to_datetime(rows["date"]), dtype="datetime64[D]")
    if len(table) == 0 or len(rows) == 0:
        return np.zeros(len(rows))
    start = table["start"].to_numpy("datetime64[D]")
    end = table["end"].to_numpy("datetime64[D]")
    return _quantity_at(key_codes, start, end, table["quantity"].to_numpy(), key, when)
