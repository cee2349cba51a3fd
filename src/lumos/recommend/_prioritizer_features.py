"""The Account Prioritizer's features: its input tables and the feature rows it builds.

At each cutoff, strictly from data before ``cutoff − lead_months``:

* window features of usage (per product for product rows; for account rows,
  rates averaged over products and counts added up) and of firmographics;
* the contract as it stands at the cutoff: units, months into the cycle and
  to renewal, and (for accounts) products held;
* with a purchases log, the account's buy-till-you-die features
  (:func:`~lumos.features.btyd_features`: BG/NBD fitted at each cutoff on the
  purchases before it — expected purchases and the chances of none and of
  more than before in the next 3 months, the chance it is still active — and
  recency and frequency over its age), which keep their meaning at cutoffs
  later than any trained on; product rows get their account's.

Each feature falls in a narrative category (:data:`CATEGORIES`) by where it
comes from.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from lumos.data import validate_table
from lumos.features import (
    BTYD_FEATURES,
    WindowFeatures,
    btyd_features,
    quantity_at,
    window_features,
)

#: Narrative categories, by where a feature comes from.
CATEGORIES = {
    "usage": "Usage",
    "firmographics": "Company",
    "contract": "Contract",
    "purchases": "Purchases",
}
#: The horizon of the purchase features, in days: "in the next 3 months".
PURCHASE_HORIZON_DAYS = 91
CONTRACT_FEATURES = (
    "units_under_contract",
    "months_into_cycle",
    "months_to_renewal",
    "products_held",
)


def default_usage() -> WindowFeatures:
    return WindowFeatures(windows=(3, 6, 12), aggregates=("sum", "mean", "slope", "ratio"))


def default_firmographics() -> WindowFeatures:
    return WindowFeatures(windows=(3, 12), aggregates=("mean", "ratio"), prev=("mean",))


class Tables:
    """The validated input tables; firmographics in the long shape of usage.

    ``purchases`` (``account_id``, ``date``: one row per purchase) is checked
    where its features are computed, by :func:`~lumos.features.btyd_features`.
    """

    def __init__(self, contracts, usage, firmographics, until=None, purchases=None):
        self.contracts = validate_table("contracts", contracts)
        self.usage = validate_table("usage", usage)
        self.purchases = purchases
        self.firmographics = None
        if until is not None:  # what was known on the as-of date
            self.contracts = self.contracts[self.contracts["start"] <= until]
        self._account_usage = None
        if firmographics is not None:
            firmo = validate_table("firmographics", firmographics)
            values = [c for c in firmo.columns if c not in ("account_id", "month")]
            long = firmo.melt(["account_id", "month"], values, "metric", "value")
            self.firmographics = long.assign(product="").dropna(subset=["value"])

    def account_usage(self, rates) -> pd.DataFrame:
        """Usage per account and month: rates averaged over products, other metrics added."""
        if self._account_usage is None:
            u, keys = self.usage, ["account_id", "month", "metric"]
            rate = u["metric"].isin(rates).to_numpy()
            added = u[~rate].groupby(keys, sort=False)["value"].sum(min_count=1)
            mean = u[rate].groupby(keys, sort=False)["value"].mean()
            self._account_usage = pd.concat([added, mean]).reset_index().assign(product="")
        return self._account_usage


def window_specs(
    usage_features, firmographic_features, level: str, tables: Tables
) -> tuple[WindowFeatures, WindowFeatures | None]:
    """The usage declaration at ``level`` and the firmographic one (None without that table)."""
    usage = dataclasses.replace(usage_features or default_usage(), level=level)
    firmo = None
    if tables.firmographics is not None:
        firmo = dataclasses.replace(
            firmographic_features or default_firmographics(), level="account"
        )
    return usage, firmo


def assemble_features(
    tables: Tables,
    rows: pd.DataFrame,
    level: str,
    specs: tuple[WindowFeatures, WindowFeatures | None],
    *,
    lead_months: int,
    rate_metrics,
    products,
) -> tuple[pd.DataFrame, set[str]]:
    """The features of label-like ``rows`` (keys, cutoff, cycle_start, renewal, quantity).

    ``specs`` are the usage and firmographic declarations (:func:`window_specs`);
    returns the features and the names of the firmographic ones.
    """
    usage_spec, firmo_spec = specs
    keys = usage_spec.keys
    usage = tables.usage if level == "product" else tables.account_usage(rate_metrics)
    parts = [
        window_features(usage, rows[[*keys, "cutoff"]], usage_spec, lead_months=lead_months).iloc[
            :, len(keys) + 1 :
        ]
    ]
    firmo_names = set()
    if firmo_spec is not None:
        firmo = window_features(
            tables.firmographics,
            rows[["account_id", "cutoff"]],
            firmo_spec,
            lead_months=lead_months,
        ).iloc[:, 2:]
        firmo_names = set(firmo.columns)
        parts.append(firmo)
    months = lambda d: d.dt.year * 12 + d.dt.month  # noqa: E731
    now = months(rows["cutoff"])
    contract = pd.DataFrame(
        {
            "units_under_contract": rows["quantity"],
            "months_into_cycle": now - months(rows["cycle_start"]),
            "months_to_renewal": months(rows["renewal"]) - now,
        },
        index=rows.index,
        dtype=np.float64,
    )
    if level == "account":
        contract["products_held"] = holdings(tables, products, rows)[0].astype(np.float64)
    if tables.purchases is not None:  # strictly before cutoff - lead_months, as the windows
        known = rows["cutoff"] - pd.DateOffset(months=lead_months)
        at = pd.DataFrame({"account_id": rows["account_id"], "cutoff": known})
        parts.append(btyd_features(tables.purchases, at, horizon_days=PURCHASE_HORIZON_DAYS))
    for part in parts:
        part.index = rows.index
    return pd.concat([*parts, contract], axis=1), firmo_names


def holdings(tables: Tables, products, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Products each account row holds at its cutoff and at its horizon."""
    P = len(products)
    ask = pd.DataFrame(
        {
            "account_id": np.repeat(rows["account_id"].to_numpy(), P),
            "product": np.tile(products, len(rows)),
        }
    )
    counts = []
    for column in ("cutoff", "horizon"):
        if column not in rows:
            counts.append(None)
            continue
        q = quantity_at(tables.contracts, ask.assign(date=np.repeat(rows[column].to_numpy(), P)))
        counts.append((q.reshape(-1, P) > 0).sum(1))
    return counts[0], counts[1]


def feature_category(feature: str, firmographic_names) -> str:
    """The narrative category of a feature: contract, purchases, firmographics (Company), usage."""
    if feature in CONTRACT_FEATURES:
        return CATEGORIES["contract"]
    if feature in BTYD_FEATURES:
        return CATEGORIES["purchases"]
    return CATEGORIES["firmographics" if feature in firmographic_names else "usage"]
