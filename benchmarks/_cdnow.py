"""CDNOW: Lumos's window features + propensity models against BG/NBD on the same rows.

At monthly cutoffs, using only purchases before the cutoff, predict whether a
customer buys more in the next 3 months than in the last 3 (upsell) and
whether they buy nothing (churn). Lumos trains on cutoffs whose 3-month label
window has closed before the first test cutoff and is judged on the later
cutoffs; BG/NBD (``lifetimes.BetaGeoFitter``) is fitted at each test cutoff on
the purchases before it, and ranks both by its expected purchases in the next
3 months (fewer → churn, more → upsell; expected minus the last 3 months'
purchases, a weaker upsell score here, is reported beside).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from _common import log
from sklearn.metrics import average_precision_score, roc_auc_score

from lumos.data import cdnow_usage, load_cdnow
from lumos.features import WindowFeatures, activity_labels, window_features
from lumos.models import PropensityModel

TRAIN_CUTOFFS = pd.date_range("1997-04-01", "1997-10-01", freq="MS")
TEST_CUTOFFS = pd.date_range("1998-01-01", "1998-04-01", freq="MS")
HORIZON = 3


def _daily(purchases: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Days since the last and the first purchase, and purchase days, before each cutoff."""
    out = pd.DataFrame(
        index=labels.index, columns=["recency_days", "age_days", "purchase_days"], dtype=np.float64
    )
    days = purchases.drop_duplicates(["customer_id", "date"])
    for cutoff in labels["cutoff"].unique():  # a loop over the few cutoffs
        rows = labels["cutoff"] == cutoff
        before = days[days["date"] < cutoff].groupby("customer_id")["date"]
        ids = labels.loc[rows, "account_id"]
        out.loc[rows, "recency_days"] = (cutoff - ids.map(before.max())).dt.days.to_numpy()
        out.loc[rows, "age_days"] = (cutoff - ids.map(before.min())).dt.days.to_numpy()
        out.loc[rows, "purchase_days"] = ids.map(before.size()).to_numpy(np.float64)
    return out


def _features(usage: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    spec = WindowFeatures(windows=(1, 3, 6, 12), prev=())
    feats = window_features(usage, labels[["account_id", "cutoff"]], spec)
    # recency and tenure, in months, from the first and last purchase month before the cutoff
    months = usage[usage["metric"] == "purchases"][["account_id", "month"]]
    month_index = months["month"].dt.year * 12 + months["month"].dt.month
    first = month_index.groupby(months["account_id"]).min()
    cut_index = labels["cutoff"].dt.year * 12 + labels["cutoff"].dt.month
    feats["tenure_months"] = (cut_index - labels["account_id"].map(first)).to_numpy(np.float64)
    last = pd.Series(np.nan, index=labels.index)
    for cutoff in labels["cutoff"].unique():  # a loop over the few cutoffs
        rows = labels["cutoff"] == cutoff
        before = months[months["month"] < cutoff]
        latest = (
            (before["month"].dt.year * 12 + before["month"].dt.month)
            .groupby(before["account_id"])
            .max()
        )
        last[rows] = cut_index[rows] - labels.loc[rows, "account_id"].map(latest)
    feats["recency_months"] = last.to_numpy(np.float64)
    return feats.drop(columns=["account_id", "cutoff"])


def _bgnbd(log_frame: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter
        from lifetimes.utils import summary_data_from_transaction_data

    scores = []
    for cutoff in TEST_CUTOFFS:
        rows = labels[labels["cutoff"] == cutoff]
        before = log_frame[log_frame["date"] < cutoff]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summary = summary_data_from_transaction_data(
                before,
                "customer_id",
                "date",
                observation_period_end=cutoff - pd.Timedelta(days=1),
                freq="D",
            )
            model = BetaGeoFitter(penalizer_coef=0.0).fit(
                summary["frequency"], summary["recency"], summary["T"]
            )
            days = (cutoff + pd.DateOffset(months=HORIZON) - cutoff).days
            expected = model.conditional_expected_number_of_purchases_up_to_time(
                days, summary["frequency"], summary["recency"], summary["T"]
            )
        expected = expected.reindex(rows["account_id"]).to_numpy()
        scores.append(pd.DataFrame({"expected": expected}, index=rows.index))
    return pd.concat(scores)


def _figures(truth: np.ndarray, score: np.ndarray) -> dict:
    return {
        "roc_auc": round(float(roc_auc_score(truth, score)), 4),
        "pr_auc": round(float(average_precision_score(truth, score)), 4),
    }


def run() -> list[dict]:
    """Train, score and compare; returns BENCHMARKS.md result objects."""
    purchases = load_cdnow()
    usage = cdnow_usage(purchases)
    cutoffs = [*TRAIN_CUTOFFS, *TEST_CUTOFFS]
    labels = activity_labels(usage, metric="purchases", cutoffs=cutoffs, months=HORIZON)
    labels = labels[labels["closed"]].reset_index(drop=True)
    log(f"cdnow: {len(labels):,} labelled rows at {len(cutoffs)} cutoffs")
    X = pd.concat([_features(usage, labels), _daily(purchases, labels)], axis=1)
    train = labels["cutoff"].isin(TRAIN_CUTOFFS).to_numpy()
    test = labels["cutoff"].isin(TEST_CUTOFFS).to_numpy()
    assert TRAIN_CUTOFFS.max() + pd.DateOffset(months=HORIZON) <= TEST_CUTOFFS.min()
    lumos, anchor = {}, {}
    bg = _bgnbd(purchases, labels).reindex(labels.index[test])["expected"].to_numpy()
    last3 = labels.loc[test, "before"].to_numpy()
    for name in ("upsell", "churn"):
        y = labels[name].to_numpy()
        model = PropensityModel(
            objective="binary:logistic",
            n_estimators=400,
            max_depth=4,
            validation_cutoffs=2,
            random_state=0,
        )
        model.fit(X[train], y[train].astype(float), cutoff=labels.loc[train, "cutoff"])
        lumos[name] = _figures(y[test], model.predict(X[test]))
        anchor[name] = _figures(y[test], bg if name == "upsell" else -bg)
        if name == "upsell":  # the other natural BG/NBD score, reported beside
            anchor["upsell_minus_last3"] = _figures(y[test], bg - last3)
        log(f"cdnow {name}: Lumos {lumos[name]}, BG/NBD {anchor[name]}")
    rates = {name: round(float(labels.loc[test, name].mean()), 4) for name in ("upsell", "churn")}
    details = {
        "rows": int(test.sum()),
        "train_rows": int(train.sum()),
        "train_cutoffs": [str(c.date()) for c in TRAIN_CUTOFFS],
        "test_cutoffs": [str(c.date()) for c in TEST_CUTOFFS],
        "class_rates": rates,
        "features": f"{X.shape[1]}: window features of purchases, CDs and dollars over 1, 3, 6 "
        "and 12 months, recency and tenure in months and days, purchase days",
        "anchor_scores": "BG/NBD's expected purchases in the next 3 months (fewer: churn; "
        "more: upsell)",
        "anchor_upsell_expected_minus_last3": anchor["upsell_minus_last3"],
    }
    results = []
    for name, margin in (("churn", 0.01), ("upsell", 0.10)):
        results.append(
            {
                "name": f"cdnow_{name}_roc_auc",
                "unit": "ROC-AUC",
                "lumos": lumos[name]["roc_auc"],
                "anchor": anchor[name]["roc_auc"],
                "anchor_name": "lifetimes BetaGeoFitter (BG/NBD), refitted at each test cutoff",
                "goal": {"lumos": f">= anchor + {margin}"},
                "details": {
                    **details,
                    "lumos_pr_auc": lumos[name]["pr_auc"],
                    "anchor_pr_auc": anchor[name]["pr_auc"],
                },
            }
        )
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
