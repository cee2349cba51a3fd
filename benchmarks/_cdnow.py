"""CDNOW: Lumos's window features + propensity models against BG/NBD on the same rows.

At monthly cutoffs, using only purchases before the cutoff, predict whether a
customer buys more in the next 3 months than in the last 3 (upsell) and
whether they buy nothing (churn). Lumos trains on cutoffs whose 3-month label
window has closed before the first test cutoff and is judged on the later
cutoffs (features: Lumos's monthly window features plus day-level recency,
frequency, gaps, spend and a hand-made Poisson expectation, and
:func:`lumos.features.btyd_features` — BG/NBD fitted at each cutoff on that
cutoff's history: expected purchases, P(alive), and the chances of no purchase
and of more purchases than before in the next 91 days — with recency and
frequency over the customer's age — all from purchases strictly before the
cutoff, which :func:`leak_check` asserts). BG/NBD (``lifetimes.BetaGeoFitter``)
is fitted at each test cutoff on the purchases before it, and ranks both by its
expected purchases in the next 3 months (fewer → churn, more → upsell; expected
minus the last 3 months' purchases, a weaker upsell score here, is reported
beside). Two stronger anchor rows rank by the labels' own meaning under the
same fit: the model's chance of no purchase in the next 3 months (churn) and of
more purchases in them than in the last 3 (upsell), from its conditional
distribution of future purchases (:func:`lumos.features.bgnbd_chances`).

Which features train is chosen on the training cutoffs alone: fitted on the
cutoffs whose labels close by September 1997 and judged on September and
October 1997, every feature against the set without the raw features whose
meaning is bound to the customer's age (days since the first and the last
purchase, purchases 7 to 12 months ago), and against that set without lifetime
totals and 12-month windows too; per label, the best of the three on that
validation trains on every training cutoff and is judged on the test cutoffs.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd
from _common import emit, log
from scipy.stats import poisson
from sklearn.metrics import average_precision_score, roc_auc_score

from lumos.data import cdnow_usage, load_cdnow
from lumos.features import (
    WindowFeatures,
    activity_labels,
    bgnbd_chances,
    btyd_features,
    window_features,
)
from lumos.models import PropensityModel

# every monthly cutoff whose 3-month label window closes by the first test cutoff (the
# cohort's first purchases are in January 1997, so February is the first with customers)
TRAIN_CUTOFFS = pd.date_range("1997-02-01", "1997-10-01", freq="MS")
TEST_CUTOFFS = pd.date_range("1998-01-01", "1998-04-01", freq="MS")
HORIZON = 3
SEEDS = 3
VALIDATION_CUTOFFS = TRAIN_CUTOFFS[-2:]  # the feature sets are chosen on these
AGE_BOUND = ["recency_days", "age_days", *(f"purchases_{m}m_ago" for m in range(7, 13))]
LIFETIME_TOTALS = [
    *(f"purchases_{m}m_ago" for m in range(4, 7)),
    *(
        f"{metric}_{agg}_12m"
        for metric in ("amount", "cds", "purchases")
        for agg in ("sum", "slope")
    ),
    *("purchase_days_365d", "purchase_days_180d", "purchase_days", "transactions", "cds", "amount"),
]
FEATURE_SETS = {
    "all": [],
    "without_age_bound": AGE_BOUND,
    "without_age_bound_or_totals": AGE_BOUND + LIFETIME_TOTALS,
}


def _day_features(purchases: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Recency, frequency, gaps, spend and a Poisson expectation from purchases before cutoffs."""
    log_ = purchases.sort_values(["customer_id", "date"], kind="stable")
    ids, codes = np.unique(log_["customer_id"].to_numpy(), return_inverse=True)
    day = log_["date"].to_numpy("datetime64[D]").astype(np.int64)
    month = log_["date"].to_numpy("datetime64[M]").astype(np.int64)
    amount, cds = log_["amount"].to_numpy(np.float64), log_["cds"].to_numpy(np.float64)
    # a purchase day is a customer's first log row of a date; its gap is to the row before
    same = np.r_[False, codes[1:] == codes[:-1]]
    new_day = ~same | np.r_[True, day[1:] != day[:-1]]
    gap_all = np.r_[0, np.diff(day)].astype(np.float64)
    n, parts = len(ids), []
    for cutoff, rows in labels.groupby("cutoff").groups.items():  # a loop over the few cutoffs
        keep = day < np.datetime64(cutoff, "D").astype(np.int64)  # strictly before the cutoff
        k, d, nd, ago = codes[keep], day[keep], new_day[keep], (month - _month(cutoff))[keep]
        c, every = np.datetime64(cutoff, "D").astype(np.int64), np.ones(len(k), bool)
        count = partial(_count, k, n)
        amt, cd = amount[keep], cds[keep]

        first, last = np.full(n, np.nan), np.full(n, np.nan)
        first[k[::-1]], last[k] = d[::-1], d  # the last write per customer wins
        f = {"recency_days": c - last, "age_days": c - first, "purchase_days": count(nd)}
        f |= {"transactions": count(every), "cds": count(every, cd)}
        f |= {"amount": count(every, amt), "amount_3m": count(ago >= -3, amt)}
        for w in (30, 60, 90, 180, 365):
            f[f"purchase_days_{w}d"] = count(nd & (d >= c - w))
        for m in range(1, 13):  # purchases per calendar month, 1 to 12 months before
            f[f"purchases_{m}m_ago"] = count(ago == -m)
        f["purchases_prev_3m"] = count((ago >= -6) & (ago < -3))
        gaps = nd & same[keep]  # gaps between purchase days, per customer in date order
        gk, gap = k[gaps], gap_all[keep][gaps]
        by = pd.Series(gap).groupby(gk)
        n_gaps = f["purchase_days"] - 1
        f["median_gap"] = by.median().reindex(range(n)).to_numpy()
        f["gap_std"] = by.std().reindex(range(n)).to_numpy()
        f["min_gap"] = by.min().reindex(range(n)).to_numpy()
        f["last_gap"] = np.full(n, np.nan)
        f["last_gap"][gk] = gap
        with np.errstate(divide="ignore", invalid="ignore"):
            f["mean_gap"] = np.where(n_gaps > 0, (last - first) / n_gaps, np.nan)
            f["recency_over_mean_gap"] = f["recency_days"] / f["mean_gap"]
            f["recency_over_median_gap"] = f["recency_days"] / f["median_gap"]
            f["rate_lifetime"] = f["purchase_days"] / (f["age_days"] + 1)
            f["rate_90d_over_lifetime"] = f["purchase_days_90d"] / 90 / f["rate_lifetime"]
            f["amount_per_purchase"] = f["amount"] / f["transactions"]
            f["cds_per_purchase"] = f["cds"] / f["transactions"]
        # by hand: the customer's own purchase rate, times the Poisson chance of a silence
        # as long as the current one if still buying at it; and P(more than the last 3 months)
        rate = np.where(n_gaps > 0, n_gaps / (last - first + 1), 1 / (f["age_days"] + 30))
        f["poisson_alive"] = np.exp(-rate * f["recency_days"])
        f["poisson_expected_3m"] = f["poisson_alive"] * rate * 91
        before = f["purchases_1m_ago"] + f["purchases_2m_ago"] + f["purchases_3m_ago"]
        f["poisson_p_upsell"] = f["poisson_alive"] * poisson.sf(before, rate * 91)
        for name, at in (("first_day_amount", first), ("last_day_amount", last)):
            f[name] = np.bincount(k, np.where(d == at[k], amt, 0.0), minlength=n)
        where = np.searchsorted(ids, labels.loc[rows, "account_id"].to_numpy())
        parts.append(pd.DataFrame({name: v[where] for name, v in f.items()}, index=rows))
    return pd.concat(parts).reindex(labels.index)


def _count(codes: np.ndarray, n: int, mask: np.ndarray, weights=None) -> np.ndarray:
    """Per customer: the number (or the sum of ``weights``) of the log rows in ``mask``."""
    w = None if weights is None else weights[mask]
    return np.bincount(codes[mask], weights=w, minlength=n).astype(np.float64)


def _month(cutoff) -> int:
    return int(np.datetime64(cutoff, "M").astype(np.int64))


def _features(usage: pd.DataFrame, purchases: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    spec = WindowFeatures(windows=(1, 3, 6, 12), aggregates=("sum", "slope"), prev=())
    windows = window_features(usage, labels[["account_id", "cutoff"]], spec)
    log_ = purchases.rename(columns={"customer_id": "account_id"})
    btyd = btyd_features(log_, labels[["account_id", "cutoff"]], horizon_days=91)
    return pd.concat(
        [windows.drop(columns=["account_id", "cutoff"]), _day_features(purchases, labels), btyd],
        axis=1,
    )


def leak_check(purchases: pd.DataFrame, labels: pd.DataFrame, cutoff: pd.Timestamp) -> None:
    """Assert that adding, dropping or rescaling purchases from ``cutoff`` on moves no feature."""
    rows = labels[labels["cutoff"] == cutoff]
    late = purchases["date"] >= cutoff
    fake = purchases.sample(5000, random_state=0)
    fake = fake.assign(
        date=cutoff + pd.to_timedelta(np.arange(5000) % 200, unit="D"), amount=fake["amount"] * 3
    )
    moved = pd.concat([purchases[~late], fake, purchases[late].sample(frac=0.5, random_state=1)])
    usage = cdnow_usage(purchases)
    pd.testing.assert_frame_equal(
        _features(usage, purchases, rows), _features(cdnow_usage(moved), moved, rows)
    )


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
        # the same fit's chances of the labels' events: no purchase, more than the last 3 months
        s = summary.reindex(rows["account_id"])
        params = tuple(model.params_[["r", "alpha", "a", "b"]])
        none, more = bgnbd_chances(
            params, s["frequency"], s["recency"], s["T"], days, rows["before"].astype(np.int64)
        )
        expected = expected.reindex(rows["account_id"]).to_numpy()
        frame = {"expected": expected, "p_none": none, "p_more": more}
        scores.append(pd.DataFrame(frame, index=rows.index))
    return pd.concat(scores)


def _figures(truth: np.ndarray, score: np.ndarray) -> dict:
    """ROC-AUC, and PR-AUC with the class as positive and with the other class as positive."""
    return {
        "roc_auc": round(float(roc_auc_score(truth, score)), 4),
        "pr_auc": round(float(average_precision_score(truth, score)), 4),
        "pr_auc_other_class": round(float(average_precision_score(~truth, -score)), 4),
    }


def _model(seed: int) -> PropensityModel:
    return PropensityModel(
        objective="binary:logistic",
        n_estimators=600,
        max_depth=4,
        subsample=0.5,
        colsample_bytree=0.5,
        validation_cutoffs=2,
        random_state=seed,
        n_jobs=2,
    )


def _choose_features(X: pd.DataFrame, labels: pd.DataFrame, y: np.ndarray) -> dict:
    """The feature set with the best ROC-AUC on VALIDATION_CUTOFFS, trained on earlier cutoffs.

    Only cutoffs whose 3-month labels close by the first validation cutoff
    train, as the test cutoffs are judged after every training label closes.
    """
    first = VALIDATION_CUTOFFS.min()
    fit_on = (labels["cutoff"] + pd.DateOffset(months=HORIZON) <= first).to_numpy()
    judged = labels["cutoff"].isin(VALIDATION_CUTOFFS).to_numpy()
    figures, columns = {}, {}
    for set_name, drop in FEATURE_SETS.items():
        cols = [c for c in X.columns if c not in drop]
        model = _model(0).fit(
            X.loc[fit_on, cols], y[fit_on].astype(float), cutoff=labels.loc[fit_on, "cutoff"]
        )
        auc = roc_auc_score(y[judged], model.predict(X.loc[judged, cols]))
        figures[set_name], columns[set_name] = round(float(auc), 4), cols
    best = max(figures, key=figures.get)  # the first of equals: fewer features dropped
    log(f"cdnow feature sets, validation ROC-AUC: {figures}; chosen: {best}")
    return {"name": best, "columns": columns[best], "validation_roc_auc": figures}


def run() -> list[dict]:
    """Train, score and compare; returns BENCHMARKS.md result objects."""
    purchases = load_cdnow()
    usage = cdnow_usage(purchases)
    cutoffs = [*TRAIN_CUTOFFS, *TEST_CUTOFFS]
    labels = activity_labels(usage, metric="purchases", cutoffs=cutoffs, months=HORIZON)
    labels = labels[labels["closed"]].reset_index(drop=True)
    log(f"cdnow: {len(labels):,} labelled rows at {len(cutoffs)} cutoffs")
    X = _features(usage, purchases, labels)
    leak_check(purchases, labels, TEST_CUTOFFS.min())
    train = labels["cutoff"].isin(TRAIN_CUTOFFS).to_numpy()
    test = labels["cutoff"].isin(TEST_CUTOFFS).to_numpy()
    assert TRAIN_CUTOFFS.max() + pd.DateOffset(months=HORIZON) <= TEST_CUTOFFS.min()
    lumos, anchor, chosen = {}, {}, {}
    bgnbd = _bgnbd(purchases, labels).reindex(labels.index[test])
    bg = bgnbd["expected"].to_numpy()
    last3 = labels.loc[test, "before"].to_numpy()
    for name in ("upsell", "churn"):
        y = labels[name].to_numpy()
        chosen[name] = _choose_features(X, labels, y)
        cols = chosen[name]["columns"]
        score = np.zeros(test.sum())
        for seed in range(SEEDS):  # the seeds move ROC-AUC by ~0.003; average them
            model = _model(seed)  # early stopping on 1997-09 and 1997-10
            model.fit(
                X.loc[train, cols], y[train].astype(float), cutoff=labels.loc[train, "cutoff"]
            )
            score += model.predict(X.loc[test, cols]) / SEEDS
        lumos[name] = _figures(y[test], score)
        anchor[name] = _figures(y[test], bg if name == "upsell" else -bg)
        if name == "upsell":  # the other natural BG/NBD score, reported beside
            anchor["upsell_minus_last3"] = _figures(y[test], bg - last3)
        own = bgnbd["p_more"] if name == "upsell" else bgnbd["p_none"]
        anchor[f"{name}_own"] = _figures(y[test], own.to_numpy())
        log(f"cdnow {name}: Lumos {lumos[name]}, BG/NBD {anchor[name]} / {anchor[f'{name}_own']}")
    rates = {name: round(float(labels.loc[test, name].mean()), 4) for name in ("upsell", "churn")}
    details = {
        "rows": int(test.sum()),
        "train_rows": int(train.sum()),
        "train_cutoffs": [str(c.date()) for c in TRAIN_CUTOFFS],
        "test_cutoffs": [str(c.date()) for c in TEST_CUTOFFS],
        "class_rates": rates,
        "features": f"{X.shape[1]}, from purchases strictly before the cutoff: sums and slopes "
        "of purchases, CDs and dollars over 1, 3, 6 and 12 months; purchases in each of the 12 "
        "months before and in months 4-6; days since the last and the first purchase; purchase "
        "days in all and in the last 30/60/90/180/365 days; transactions, CDs and dollars, "
        "per purchase and on the first and last days; mean, median, min, last and spread of "
        "the gaps between purchase days, recency over the mean and median gap; lifetime rate "
        "and last 90 days over it; a hand-made Poisson expectation (own rate times the chance "
        "of the current silence) of purchases in 3 months and of beating the last 3 months; "
        "BG/NBD fitted on each cutoff's own history (expected purchase days in 91 days, "
        "P(alive), the chances of none and of more than in the 91 days before) and recency and "
        "frequency over the customer's age",
        "anchor_scores": "BG/NBD's expected purchases in the next 3 months (fewer: churn; "
        "more: upsell)",
        "anchor_upsell_expected_minus_last3": anchor["upsell_minus_last3"],
    }
    results = []
    for name in ("churn", "upsell"):
        results.append(
            {
                "name": f"cdnow_{name}_roc_auc",
                "unit": "ROC-AUC",
                "lumos": lumos[name]["roc_auc"],
                "anchor": anchor[name]["roc_auc"],
                "anchor_name": "lifetimes BetaGeoFitter (BG/NBD), refitted at each test cutoff",
                "margin": lumos[name]["roc_auc"] - anchor[name]["roc_auc"],
                "goal": {"margin": ">= 0.01"} if name == "churn" else {"margin": ">= 0.1"},
                "details": {
                    **details,
                    "feature_set": chosen[name]["name"],
                    "features_trained": len(chosen[name]["columns"]),
                    "feature_sets_validation_roc_auc": chosen[name]["validation_roc_auc"],
                    "lumos_pr_auc": lumos[name]["pr_auc"],
                    "anchor_pr_auc": anchor[name]["pr_auc"],
                    "lumos_pr_auc_other_class": lumos[name]["pr_auc_other_class"],
                    "anchor_pr_auc_other_class": anchor[name]["pr_auc_other_class"],
                },
            }
        )
    for name, event in (("churn", "no purchase"), ("upsell", "more purchases than the last 3")):
        own = anchor[f"{name}_own"]
        results.append(
            {
                "name": f"cdnow_{name}_roc_auc_vs_bgnbd_own_chance",
                "unit": "ROC-AUC",
                "lumos": lumos[name]["roc_auc"],
                "anchor": own["roc_auc"],
                "anchor_name": "lifetimes BetaGeoFitter (BG/NBD), refitted at each test cutoff, "
                f"ranked by its chance of {event} in the next 3 months (its conditional "
                "distribution of future purchases, lumos.features.bgnbd_chances, on its fit)",
                "margin": lumos[name]["roc_auc"] - own["roc_auc"],
                "details": {
                    "lumos_pr_auc": lumos[name]["pr_auc"],
                    "anchor_pr_auc": own["pr_auc"],
                    "lumos_pr_auc_other_class": lumos[name]["pr_auc_other_class"],
                    "anchor_pr_auc_other_class": own["pr_auc_other_class"],
                },
            }
        )
    return results


if __name__ == "__main__":
    emit("cdnow", False, run(), packages=("numpy", "pandas", "xgboost", "lifetimes"))
