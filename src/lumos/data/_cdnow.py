"""CDNOW: the public purchase log of 23,570 music customers, 1997–1998.

The file ships in the ``lifetimes`` package (``lifetimes/datasets/CDNOW_master.txt``).
:func:`load_cdnow` finds it without importing ``lifetimes`` (whose import
warns on current pandas) and says how to get it when it is missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from lumos.errors import DataValidationError

CDNOW_FILE = "CDNOW_master.txt"


def cdnow_path() -> Path | None:
    """Where ``CDNOW_master.txt`` is installed, or ``None``."""
    spec = importlib.util.find_spec("lifetimes")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / CDNOW_FILE
        if path.is_file():
            return path
    return None


def load_cdnow(path=None) -> pd.DataFrame:
    """The CDNOW purchase log: one row per customer, day and purchase.

    Parameters
    ----------
    path : path-like, optional
        A copy of ``CDNOW_master.txt``; by default the one installed with
        ``lifetimes`` (``pip install lifetimes`` or ``pip install 'lumos[cdnow]'``).

    Returns
    -------
    DataFrame
        ``customer_id`` (str), ``date`` (datetime64), ``cds`` (int64),
        ``amount`` (float64, US dollars).
    """
    path = Path(path) if path is not None else cdnow_path()
    if path is None:
        raise DataValidationError(
            f"{CDNOW_FILE} was not found: it ships in the 'lifetimes' package. Install it with "
            "pip install lifetimes (or pip install 'lumos[cdnow]'), or pass path= to a copy.",
            code="missing_dataset",
            file=CDNOW_FILE,
        )
    if not path.is_file():
        raise DataValidationError(
            f"CDNOW file {str(path)!r} does not exist; check the path.",
            code="file_not_found",
            file=str(path),
        )
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        skiprows=1,
        dtype=str,
        names=["customer_id", "date", "cds", "amount"],
    )
    date = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    cds = pd.to_numeric(raw["cds"], errors="coerce")
    amount = pd.to_numeric(raw["amount"], errors="coerce")
    for column, parsed in (("date", date), ("cds", cds), ("amount", amount)):
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            raise DataValidationError(
                f"{path} line {bad[0] + 2}: column {column!r} holds {raw[column].iloc[bad[0]]!r}; "
                "expected 'customer_id YYYYMMDD cds dollars' on every line.",
                code="bad_value",
                file=str(path),
                row=int(bad[0] + 2),
                column=column,
            )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str),
            "date": date.astype("datetime64[s]"),
            "cds": cds.astype(np.int64),
            "amount": amount.astype(np.float64),
        }
    )


def cdnow_usage(log: pd.DataFrame) -> pd.DataFrame:
    """The purchase log as a monthly ``usage`` table: purchases, CDs and dollars per month.

    One row per customer, month with a purchase, and metric (``purchases``,
    ``cds``, ``amount``); months without purchases have no row. ``product`` is
    ``"music"``.
    """
    month = log["date"].dt.to_period("M").dt.to_timestamp()
    monthly = (
        log.assign(month=month, purchases=1.0)
        .groupby(["customer_id", "month"], sort=True)[["purchases", "cds", "amount"]]
        .sum()
        .astype(np.float64)
        .rename_axis(columns="metric")
        .stack()
        .rename("value")
        .reset_index()
        .rename(columns={"customer_id": "account_id"})
    )
    monthly.insert(1, "product", "music")
    return monthly[["account_id", "product", "month", "metric", "value"]]
