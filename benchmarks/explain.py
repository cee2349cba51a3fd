"""How fast and how faithful is lumos.explain beside the tools a user would pick instead?

One run, one machine, Lumos beside its anchor:

1. ``lime_seconds_per_row``: LIME with its defaults (lime's default mode:
   quartile bins, training-distribution samples) against the ``lime``
   package's default ``LimeTabularExplainer`` on the margin of an XGBoost
   model (200 trees, depth 6, 100,000 × 100 synthetic rows);
   ``lime_top5_agreement``: their top-5 features in common, beside two lime
   runs with different seeds; ``lime_gaussian_seconds_per_row`` and
   ``lime_gaussian_top10_jaccard_linear``: the same for
   ``sampling="gaussian"`` against lime in that mode.
2. ``klime_fit_explain_100k``: K-LIME's k search, fit and explanation of every
   training row, against a plain loop of scikit-learn KMeans and one Ridge per
   cluster per k.
3. ``narratives_100k_rows``: narrate + summarize of 100,000 rows (time and
   peak RSS in a fresh child process) against a row-by-row pandas reference
   of the same rules (coherent, material, ranked), written here from the
   docstring of ``lumos/explain/_narrate.py`` and checked to give the same
   output.
4. ``tree_shap_rows_per_second``: ``attribute(method="tree_shap")`` against
   ``shap.TreeExplainer``.

Run ``python benchmarks/explain.py`` (``--quick`` for a smoke run). Progress
goes to standard error; the last line of standard output is the JSON result.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import emit, log, report_child, run_child, self_peak_rss_mb

SEED = 0
N_FEATURES = 100
TREES, DEPTH = 200, 6
NUM_SAMPLES = 5000
TOP_K = 5
SIZES = {
    False: dict(
        train=100_000,
        lumos_lime=200,
        lime=20,
        jaccard=20,
        klime=100_000,
        narratives=100_000,
        reference=5_000,
        shap=5_000,
    ),
    True: dict(
        train=20_000,
        lumos_lime=50,
        lime=5,
        jaccard=10,
        klime=20_000,
        narratives=20_000,
        reference=1_000,
        shap=500,
    ),
}


# -- the model -----------------------------------------------------------------------------
def model_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic propensity data: features of varied scale, a nonlinear logit, 0/1 labels."""
    rng = np.random.default_rng(seed)
    scale = rng.lognormal(0.0, 1.0, N_FEATURES)
    offset = rng.normal(0.0, 3.0, N_FEATURES)
    Z = rng.standard_normal((n, N_FEATURES))
    w = rng.standard_normal(N_FEATURES) * np.exp(-np.arange(N_FEATURES) / 25)
    logit = 0.6 * Z @ w + np.sin(2 * Z[:, 0]) + Z[:, 1] * Z[:, 2] + np.where(Z[:, 3] > 1, 1.0, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    return Z * scale + offset, y


def feature_names(p: int, prefix: str = "x") -> list[str]:
    return [f"{prefix}{j:03d}" for j in range(p)]


def train_booster(X: np.ndarray, y: np.ndarray):
    import xgboost as xgb

    params = {
        "objective": "binary:logistic",
        "max_depth": DEPTH,
        "eta": 0.1,
        "tree_method": "hist",
        "nthread": os.cpu_count(),
        "seed": SEED,
    }
    dtrain = xgb.DMatrix(X, label=y, feature_names=feature_names(X.shape[1]))
    return xgb.train(params, dtrain, num_boost_round=TREES)


# -- 1. LIME -------------------------------------------------------------------------------
def bench_lime(booster, train: np.ndarray, rows: np.ndarray, size: dict) -> dict:
    """Lumos's default LIME against lime's default LimeTabularExplainer: time and top-5."""
    from lime.lime_tabular import LimeTabularExplainer

    from lumos.explain import attribute, import_model

    model = import_model(booster)
    batch = rows[: size["lumos_lime"]]
    # warm-up (imports, first model call), not timed
    attribute(model, rows[:2], method="lime", background=train, num_samples=NUM_SAMPLES)
    log(f"lime: Lumos default mode on {len(batch)} rows in one call")
    t = time.perf_counter()
    attr = attribute(model, batch, method="lime", background=train, num_samples=NUM_SAMPLES)
    lumos = (time.perf_counter() - t) / len(batch)
    assert attr.values.shape == batch.shape
    few = rows[: size["lime"]]
    t = time.perf_counter()
    few_attr = attribute(model, few, method="lime", background=train, num_samples=NUM_SAMPLES)
    lumos_few = (time.perf_counter() - t) / len(few)

    def margin(M):
        return booster.inplace_predict(M, predict_type="margin")

    explainers = []
    for seed in (SEED, SEED + 1):
        t = time.perf_counter()
        explainers.append(LimeTabularExplainer(train, mode="regression", random_state=seed))
        setup = time.perf_counter() - t
    explainers[0].explain_instance(rows[-1], margin, num_features=10, num_samples=NUM_SAMPLES)
    log(f"lime: lime package (defaults) on {len(few)} rows, one explain_instance each")
    t = time.perf_counter()
    first = [
        explainers[0].explain_instance(row, margin, num_features=10, num_samples=NUM_SAMPLES)
        for row in few
    ]
    anchor = (time.perf_counter() - t) / len(few)
    second = [
        explainers[1].explain_instance(row, margin, num_features=10, num_samples=NUM_SAMPLES)
        for row in few
    ]
    top_first = [_lime_top(e, TOP_K) for e in first]
    top_second = [_lime_top(e, TOP_K) for e in second]
    top_ours = [
        set(np.argsort(-np.abs(v), kind="stable")[:TOP_K].tolist()) for v in few_attr.values
    ]
    ours = [
        (len(o & a) + len(o & b)) / (2 * TOP_K)
        for o, a, b in zip(top_ours, top_first, top_second, strict=True)
    ]
    theirs = [len(a & b) / TOP_K for a, b in zip(top_first, top_second, strict=True)]
    log(f"lime: Lumos {lumos:.4f} s/row, lime {anchor:.4f} s/row")
    log(
        f"lime: top-{TOP_K} overlap Lumos-lime {np.mean(ours):.3f}, lime-lime {np.mean(theirs):.3f}"
    )
    return [
        {
            "name": "lime_seconds_per_row",
            "unit": "s/row",
            "lumos": lumos,
            "anchor": anchor,
            "anchor_name": "lime 0.2.0.1 LimeTabularExplainer with its defaults (quartile "
            "discretizer, training distribution), explain_instance one row per call",
            "speedup": anchor / lumos,
            "goal": {"speedup": ">= 20"},
            "details": {
                "lumos_rows": len(batch),
                "anchor_rows": len(few),
                "lumos_s_per_row_on_anchor_rows": lumos_few,
                "num_samples": NUM_SAMPLES,
                "num_features": 10,
                "feature_selection": attr.details["feature_selection"],
                "model": f"XGBoost binary:logistic, {TREES} trees, depth {DEPTH}, margin output",
                "train_rows": len(train),
                "features": train.shape[1],
                "timed": "Lumos: the whole attribute(method='lime') call with its defaults, "
                "background=train; lime: explain_instance calls only (explainer construction "
                f"{setup:.2f} s not counted)",
            },
        },
        {
            "name": f"lime_top{TOP_K}_agreement",
            "unit": f"mean share of top-{TOP_K} features in common",
            "lumos": float(np.mean(ours)),
            "anchor": float(np.mean(theirs)),
            "anchor_name": "lime 0.2.0.1 default explainer, seed 0 against seed 1",
            "margin": float(np.mean(ours) - np.mean(theirs)),
            "goal": {"margin": ">= 0"},
            "details": {
                "rows": len(few),
                "lumos": f"Lumos's top-{TOP_K} by |value| against each lime run's top-{TOP_K} "
                "by |weight| (of its 10), averaged over the two runs",
                "anchor": f"lime seed 0 against lime seed 1, top-{TOP_K} by |weight|",
                "lumos_min": float(np.min(ours)),
                "anchor_min": float(np.min(theirs)),
            },
        },
    ]


def _lime_top(explanation, k: int) -> set:
    weights = explanation.local_exp[1]  # regression: label 1 holds the weights
    return {j for j, _ in sorted(weights, key=lambda jw: -abs(jw[1]))[:k]}


def bench_lime_gaussian(booster, train: np.ndarray, rows: np.ndarray, size: dict) -> dict:
    """The Gaussian sampling (sampling="gaussian") against lime in the same mode."""
    from lime.lime_tabular import LimeTabularExplainer
    from threadpoolctl import threadpool_limits

    from lumos.explain import attribute, import_model

    model = import_model(booster)
    batch = rows[: size["lumos_lime"]]
    options = dict(background=train, num_samples=NUM_SAMPLES, sampling="gaussian")
    attribute(model, rows[:2], method="lime", **options)  # warm-up, not timed
    log(f"lime gaussian: Lumos on {len(batch)} rows in one call")
    t = time.perf_counter()
    attr = attribute(model, batch, method="lime", **options)
    lumos = (time.perf_counter() - t) / len(batch)
    assert attr.values.shape == batch.shape

    # The floor for any LIME: one model call on every perturbation of every row.
    perturbed = batch[:, None, :] + np.random.default_rng(SEED).standard_normal(
        (1, NUM_SAMPLES, batch.shape[1])
    ) * train.std(axis=0)
    perturbed = perturbed.reshape(-1, batch.shape[1])
    t = time.perf_counter()
    booster.inplace_predict(perturbed, predict_type="margin")
    predict_floor = (time.perf_counter() - t) / len(batch)
    del perturbed

    few = rows[: size["lime"]]
    t = time.perf_counter()
    attribute(model, few, method="lime", **options)
    lumos_few = (time.perf_counter() - t) / len(few)

    # Diagnostic: the same call with BLAS on one thread (it shares 2 cores with XGBoost's
    # OpenMP threads inside the batch loop); not the reported figure.
    with threadpool_limits(limits=1, user_api="blas"):
        t = time.perf_counter()
        attribute(model, batch, method="lime", **options)
        lumos_blas1 = (time.perf_counter() - t) / len(batch)

    def margin(M):
        return booster.inplace_predict(M, predict_type="margin")

    t = time.perf_counter()
    explainer = LimeTabularExplainer(
        train,
        mode="regression",
        discretize_continuous=False,
        sample_around_instance=True,
        random_state=SEED,
    )
    setup = time.perf_counter() - t
    explainer.explain_instance(rows[-1], margin, num_features=10, num_samples=NUM_SAMPLES)
    log(f"lime gaussian: lime package on {len(few)} rows, one explain_instance each")
    t = time.perf_counter()
    for row in few:
        explainer.explain_instance(row, margin, num_features=10, num_samples=NUM_SAMPLES)
    anchor = (time.perf_counter() - t) / len(few)
    log(f"lime gaussian: Lumos {lumos:.4f} s/row, lime {anchor:.4f} s/row")
    return {
        "name": "lime_gaussian_seconds_per_row",
        "unit": "s/row",
        "lumos": lumos,
        "anchor": anchor,
        "anchor_name": "lime 0.2.0.1 LimeTabularExplainer(discretize_continuous=False, "
        "sample_around_instance=True).explain_instance, one row per call",
        "speedup": anchor / lumos,
        "goal": {"speedup": ">= 10"},
        "details": {
            "lumos_rows": len(batch),
            "anchor_rows": len(few),
            "lumos_s_per_row_on_anchor_rows": lumos_few,
            "lumos_s_per_row_blas_1_thread": lumos_blas1,
            "model_predict_s_per_row": predict_floor,
            "model_predict": f"XGBoost inplace_predict of {NUM_SAMPLES} perturbations per row "
            f"({len(batch)} rows stacked): the time any per-row-sampling LIME must spend "
            "in the model",
            "num_samples": NUM_SAMPLES,
            "num_features": 10,
            "model": f"XGBoost binary:logistic, {TREES} trees, depth {DEPTH}, margin output",
            "train_rows": len(train),
            "features": train.shape[1],
            "timed": "Lumos: the whole attribute(method='lime', sampling='gaussian') call, "
            "background=train; lime: explain_instance calls only (explainer construction "
            f"{setup:.2f} s not counted)",
        },
    }


def bench_lime_linear(size: dict) -> dict:
    from lime.lime_tabular import LimeTabularExplainer
    from sklearn.linear_model import LinearRegression

    from lumos.explain import attribute

    p, n = 50, 20_000
    rng = np.random.default_rng(SEED + 1)
    scale = rng.lognormal(0.0, 1.0, p)
    X = rng.standard_normal((n + size["jaccard"], p)) * scale + rng.normal(0.0, 2.0, p)
    w = rng.standard_normal(p) * rng.lognormal(0.0, 1.0, p)
    train, rows = X[:n], X[n:]
    lr = LinearRegression().fit(train, train @ w + 3.0)
    truth = set(np.argsort(-np.abs(w * train.std(axis=0)))[:10].tolist())

    log(f"lime (linear): {len(rows)} rows, {p} features")
    attr = attribute(
        lr, rows, method="lime", background=train, num_samples=NUM_SAMPLES, sampling="gaussian"
    )
    explainer = LimeTabularExplainer(
        train,
        mode="regression",
        discretize_continuous=False,
        sample_around_instance=True,
        random_state=SEED,
    )
    ours, theirs, ours_truth, theirs_truth = [], [], [], []
    for i, row in enumerate(rows):
        exp = explainer.explain_instance(row, lr.predict, num_features=p, num_samples=NUM_SAMPLES)
        weights = exp.as_map()[1]  # regression: label 1 holds the weights
        top_lime = {j for j, _ in sorted(weights, key=lambda jw: -abs(jw[1]))[:10]}
        top_lumos = set(np.argsort(-np.abs(attr.details["coef_scaled"][i]))[:10].tolist())
        ours.append(_jaccard(top_lumos, top_lime))
        ours_truth.append(_jaccard(top_lumos, truth))
        theirs_truth.append(_jaccard(top_lime, truth))
        theirs.append(len(weights))
    return {
        "name": "lime_gaussian_top10_jaccard_linear",
        "unit": "Jaccard",
        "lumos": float(np.mean(ours)),
        "anchor_name": "lime 0.2.0.1 LimeTabularExplainer (top-10 of its weights)",
        "goal": {"lumos": ">= 0.8"},
        "details": {
            "rows": len(rows),
            "features": p,
            "model": "sklearn LinearRegression fitted to a known linear function of features "
            "with lognormal scales and weights",
            "lumos": "mean Jaccard of Lumos's and lime's top-10 features by |scaled coefficient|",
            "lumos_min": float(np.min(ours)),
            "lumos_vs_true_top10": float(np.mean(ours_truth)),
            "lime_vs_true_top10": float(np.mean(theirs_truth)),
            "lime_num_features": p,
            "note": "lime asked for all features, so its weights are the full local ridge; with "
            "num_features=10 it would pick features by |coef x scaled value| instead",
        },
    }


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


# -- 2. K-LIME -----------------------------------------------------------------------------
def bench_klime(booster, train: np.ndarray) -> dict:
    from lumos.explain import attribute, import_model
    from lumos.explain._klime import K_GRID

    n = len(train)
    df = pd.DataFrame(train, columns=feature_names(train.shape[1]))
    df["score"] = booster.inplace_predict(train, predict_type="margin")
    log(f"klime: Lumos, fit with k search and explain {n} rows")
    t = time.perf_counter()
    model = import_model(df, score_column="score", score_output="margin")
    attr = attribute(model, df, method="klime", random_state=SEED)
    lumos = time.perf_counter() - t
    assert attr.values.shape == train.shape
    log(f"klime: Lumos {lumos:.2f} s, k={attr.details['k']}, r2={attr.details['r2']:.4f}")

    log("klime: anchor, a plain loop of KMeans and one Ridge per cluster per k")
    t = time.perf_counter()
    anchor_k, anchor_r2, anchor_values = klime_reference(train, df["score"].to_numpy(), K_GRID)
    anchor = time.perf_counter() - t
    assert anchor_values.shape == train.shape
    log(f"klime: anchor {anchor:.2f} s, k={anchor_k}, r2={anchor_r2:.4f}")
    return {
        "name": "klime_fit_explain_100k",
        "unit": "s",
        "lumos": lumos,
        "anchor": anchor,
        "anchor_name": "plain loop written here: sklearn KMeans + one sklearn Ridge per cluster "
        "per k, same grid, holdout, surrogate and k-means settings",
        "speedup": anchor / lumos,
        "goal": {"lumos": "<= 10"},
        "details": {
            "rows": n,
            "features": train.shape[1],
            "k": attr.details["k"],
            "r2": attr.details["r2"],
            "k_grid": list(K_GRID),
            "anchor_k": anchor_k,
            "anchor_r2": anchor_r2,
            "scores": "XGBoost margins of the training rows, as a scores-only table",
            "timed": "import_model(df, score_column='score') + attribute(method='klime')",
        },
    }


def klime_reference(A: np.ndarray, y: np.ndarray, grid, seed: int = SEED, alpha: float = 1e-3):
    """K-LIME the plain way; returns (k, R² on all rows, values).

    The same choices as Lumos (ExtraTrees surrogate picks six cluster features,
    k-means on 10,000 rows, k by holdout R², clusters under 20 rows use the
    global GLM) with scikit-learn doing each step and a Python loop over
    clusters. Ridge's ``alpha * rows`` matches Lumos's per-row penalty only
    approximately (Lumos penalizes within-cluster standardized coefficients).
    """
    from sklearn.cluster import KMeans
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.preprocessing import StandardScaler

    n = len(A)
    rng = np.random.default_rng(seed)
    Xs = StandardScaler().fit_transform(A)
    rows = np.random.default_rng(seed).choice(n, size=min(n, 10_000), replace=False)
    forest = ExtraTreesRegressor(
        n_estimators=12,
        max_depth=8,
        min_samples_leaf=5,
        max_features=0.3,
        n_jobs=-1,
        random_state=seed,
    ).fit(Xs[rows], y[rows])
    top = min(math.ceil(0.25 * A.shape[1]), 6)
    C = Xs[:, np.sort(np.argsort(-forest.feature_importances_, kind="stable")[:top])]
    sub = rng.choice(n, size=min(n, 10_000), replace=False)
    split = rng.permutation(n)
    hold, fit_rows = split[: round(0.2 * n)], split[round(0.2 * n) :]

    def clusters(k):
        if k == 1:
            return np.zeros(n, dtype=int)
        km = KMeans(n_clusters=k, n_init=2, max_iter=100, random_state=seed).fit(C[sub])
        return km.predict(C)

    def fit(on, labels, k):
        glms = {-1: Ridge(alpha=alpha * len(on)).fit(Xs[on], y[on])}
        for c in range(k):
            members = on[labels[on] == c]
            if len(members) >= 20 and k > 1:
                glms[c] = Ridge(alpha=alpha * len(members)).fit(Xs[members], y[members])
        return glms

    labels, scores = {}, {}
    for k in grid:
        labels[k] = clusters(k)
        glms = fit(fit_rows, labels[k], k)
        pred = np.empty(len(hold))
        for c in range(k):
            at = labels[k][hold] == c
            if at.any():
                pred[at] = glms.get(c, glms[-1]).predict(Xs[hold[at]])
        scores[k] = r2_score(y[hold], pred)
    k = max(grid, key=lambda g: (scores[g], -g))
    glms = fit(np.arange(n), labels[k], k)
    values, prediction = np.empty_like(Xs), np.empty(n)
    for c in range(k):
        at = labels[k] == c
        glm = glms.get(c, glms[-1])
        values[at] = glm.coef_ * (Xs[at] - Xs[at].mean(axis=0))
        prediction[at] = glm.predict(Xs[at])
    return k, float(r2_score(y, prediction)), values


# -- 3. narratives -------------------------------------------------------------------------
TEMPLATES = """\
value_change:
  text: "{super_feature} changed from {prev_value} to {current_value} ({percent_change:+pct}) in the last month."
  derive:
    percent_change: (current_value - prev_value) / prev_value
trend:
  text: "{super_feature} is {recent_value:compact} over the last 3 months against {baseline_value:,.2f} over 12 months ({change:+.0%})."
  derive:
    ratio: recent_value / baseline_value
    change: ratio - 1
current_value:
  text: "{description}: {value:pct} ({ultra_feature})."
"""  # noqa: E501
KINDS = ("value_change", "trend", "current_value")
ITEMS = {
    "value_change": ("prev_value", "current_value"),
    "trend": ("recent_value", "baseline_value"),
    "current_value": ("value",),
}
CATEGORIES = ("Engagement", "Spend", "Product usage", "Support")
N_SUPER, PER_SUPER = 20, 5
FIRST_LABEL = 1_000_000  # row labels of the narrative data start here


def narrative_design() -> dict:
    """The design as plain Python: features.csv rows (shuffled), insights.csv rows."""
    names = feature_names(N_FEATURES, "f")
    rows = []
    for j in np.random.default_rng(SEED + 2).permutation(N_FEATURES):
        s = j // PER_SUPER
        u = s // 2
        category = CATEGORIES[0 if u < 3 else 1 if u < 6 else 2 if u < 8 else 3]
        described = j % PER_SUPER == 1 and s % 4 != 3  # some supers have no description
        description = f"Share of seats active, group {s:02d}" if described else ""
        rows.append((names[j], f"Activity {s:02d}", f"Theme {u:02d}", category, description))
    insights = []
    for s in range(N_SUPER):
        kind = KINDS[s % 3]
        for i, item in enumerate(ITEMS[kind]):
            insights.append((f"Activity {s:02d}", kind, item, names[PER_SUPER * s + i]))
    return {"features": rows, "insights": insights}


def write_design(spec: dict, folder: Path) -> None:
    columns = ["feature", "super_feature", "ultra_feature", "category", "description"]
    pd.DataFrame(spec["features"], columns=columns).to_csv(folder / "features.csv", index=False)
    columns = ["super_feature", "insight_type", "item", "feature"]
    pd.DataFrame(spec["insights"], columns=columns).to_csv(folder / "insights.csv", index=False)
    (folder / "templates.yaml").write_text(TEMPLATES, encoding="utf-8")


def narrative_data(n: int, seed: int = SEED):
    """Rows holding the design's items (~3% NaN) and seeded signed attributions.

    Counts (with zeros, so some percent changes divide by zero), money amounts
    and rates; attributions are whole multiples of 1/64, so every sum of them is
    exact in any order, importance ties happen and the tie rules are exercised.
    """
    from lumos.explain import Attributions

    rng = np.random.default_rng(seed)
    data = np.empty((n, N_FEATURES))
    for s in range(N_SUPER):
        c = PER_SUPER * s
        kind = KINDS[s % 3]
        if kind == "value_change":
            lam = 0.5 + 4 * s
            data[:, c], data[:, c + 1] = rng.poisson(lam, n), rng.poisson(lam * 1.1, n)
        elif kind == "trend":
            base = np.round(rng.lognormal(5 + s / 4, 1.5, n), 2)
            base[rng.random(n) < 0.01] = 0.0
            data[:, c + 1] = base
            data[:, c] = np.round(base * rng.lognormal(0.0, 0.3, n), 2)
        else:
            data[:, c], data[:, c + 1] = np.round(rng.beta(2, 5, (2, n)), 3)
        data[:, c + len(ITEMS[kind]) : c + PER_SUPER] = rng.standard_normal(
            (n, PER_SUPER - len(ITEMS[kind]))
        )
    data[rng.random(data.shape) < 0.03] = np.nan
    index = pd.Index(np.arange(n, dtype=np.int64) + FIRST_LABEL, name="member_id")
    names = feature_names(N_FEATURES, "f")
    X = pd.DataFrame(data, index=index, columns=names)
    values = np.round(rng.standard_normal((n, N_FEATURES)) * 64) / 64
    attr = Attributions(values, np.zeros(n), names, "synthetic", "margin", index)
    return X, attr


def narratives_child(rows: int, folder: str, repeats: int, digest_rows: int) -> None:
    """The child process: build the rows, then narrate + summarize ``repeats`` times.

    Reports the run times, the peak RSS before the first run, and a digest of
    the narratives of the first ``digest_rows`` rows (for the parent to check).
    """
    from lumos.explain import InsightsDesign, narrate, summarize

    X, attr = narrative_data(rows)
    before = self_peak_rss_mb()
    times, out = [], {}
    for _ in range(repeats):
        design = InsightsDesign.load(folder)  # fresh, so every run plans the design again
        t = time.perf_counter()
        nar = narrate(X, attr, design, top_k=TOP_K, direction="auto")
        cards = summarize(nar)
        times.append(time.perf_counter() - t)
        out = {
            "narratives": len(nar),
            "rows_with_narratives": len(cards),
            "skipped": nar.attrs["skipped"],
            "immaterial": nar.attrs["immaterial"],
            "digest": _digest(
                nar[nar["row"] < FIRST_LABEL + digest_rows],
                cards[cards.index < FIRST_LABEL + digest_rows],
            ),
        }
        del nar, cards
    report_child({"times": times, "rss_before_mb": before, "out": out})


def _digest(nar: pd.DataFrame, cards: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for frame in (nar, cards.reset_index()):
        for column in frame.columns:
            h.update("\x1f".join(map(repr, frame[column].tolist())).encode())
    return h.hexdigest()[:16]


def reference_narrate(X: pd.DataFrame, attr, spec: dict, templates: dict, top_k: int):
    """Narratives row by row with pandas, from the rules in ``_narrate.py``'s docstring.

    Direction ``auto``: a row is explained by what moves it away from the base
    value (the sign of its summed attributions, ``positive`` when 0). A
    narrative's attribution is the sum of its super feature's features'; it is
    a reason only when that sum points the row's way (coherent), and its
    importance is the sum's size. A narrative with a missing item or a
    non-finite derived item is skipped (and counted, when coherent); a change
    (``compare``: previous, current) smaller than the design's default
    thresholds — relative 0.05 of where it started, absolute 0 — is no reason
    (and counted). The most important narrative of each ultra feature is kept
    (ties: super feature listed first in features.csv); the kept ones are
    ranked by importance (ties: ultra feature listed first) and the first
    ``top_k`` returned. Texts are the template's literals and fields, each
    field formatted by ``format_one``. Returns (narratives, cards, skipped,
    immaterial).
    """
    from lumos.explain._format import format_one

    relative, absolute = 0.05, 0.0  # the design's default thresholds
    features = pd.DataFrame(
        spec["features"],
        columns=["feature", "super_feature", "ultra_feature", "category", "description"],
    )
    insights = pd.DataFrame(spec["insights"], columns=["super_feature", "kind", "item", "column"])
    supers = list(dict.fromkeys(features["super_feature"]))
    ultra_rank = {u: i for i, u in enumerate(dict.fromkeys(features["ultra_feature"]))}
    categories = list(dict.fromkeys(features["category"]))
    members, constants, kind, items_of = {}, {}, {}, {}
    for sf, group in features.groupby("super_feature", sort=False):
        members[sf] = group["feature"].tolist()
        described = [d for d in group["description"] if d]
        constants[sf] = {
            "super_feature": sf,
            "ultra_feature": group["ultra_feature"].iloc[0],
            "category": group["category"].iloc[0],
            "description": described[0] if described else "",
        }
    for sf, group in insights.groupby("super_feature", sort=False):
        kind[sf] = group["kind"].iloc[0]
        items_of[sf] = dict(zip(group["item"], group["column"], strict=True))

    attributions = attr.to_frame()
    records, skipped, immaterial = [], 0, 0
    for (label, x), (_, a) in zip(X.iterrows(), attributions.iterrows(), strict=True):
        way = 1.0 if a.sum() >= 0 else -1.0
        best = {}  # ultra feature -> (importance, super feature, items, summed)
        for sf in supers:
            summed = sum(a[f] for f in members[sf])
            if not summed * way > 0:
                continue  # incoherent: its features point the other way (or nowhere)
            template = templates[kind[sf]]
            items = {item: x[column] for item, column in items_of[sf].items()}
            if any(pd.isna(v) for v in items.values()):
                skipped += 1
                continue
            for name, expr in template.derive.items():
                items[name] = float(expr(items))
            if not all(math.isfinite(items[name]) for name in template.derive):
                skipped += 1
                continue
            if template.kind == "change":
                before, after = (items[name] for name in template.compare)
                delta = after - before
                rel = delta / abs(before) if before != 0 else math.inf
                if delta == 0 or abs(delta) < absolute or abs(rel) < relative:
                    immaterial += 1
                    continue
            ultra = constants[sf]["ultra_feature"]
            importance = summed * way
            if ultra not in best or importance > best[ultra][0]:
                best[ultra] = (importance, sf, items, summed)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], ultra_rank[kv[0]]))
        for rank, (ultra, (importance, sf, items, summed)) in enumerate(ranked[:top_k], start=1):
            template = templates[kind[sf]]
            text = template.literals[0]
            for (name, fmt), literal in zip(template.fields, template.literals[1:], strict=True):
                value = constants[sf][name] if name in constants[sf] else items[name]
                text += format_one(value, fmt) + literal
            direction = "positive" if way > 0 else "negative"
            category = constants[sf]["category"]
            said = (template.kind, direction, float(summed))
            records.append((label, rank, category, ultra, sf, float(importance), text, *said))
    columns = ["row", "rank", "category", "ultra_feature", "super_feature", "importance", "text"]
    narratives = pd.DataFrame(records, columns=[*columns, "kind", "direction", "attribution"])

    texts = {}
    for row in narratives.itertuples(index=False):
        texts.setdefault(row.row, {c: [] for c in categories})[row.category].append(row.text)
    cards = pd.DataFrame(
        [[" ".join(by_cat[c]) for c in categories] for by_cat in texts.values()],
        index=pd.Index(list(texts), name="row"),
        columns=categories,
    )
    return narratives, cards, skipped, immaterial


def compare_narratives(lumos, ref, lumos_cards, ref_cards, lumos_counts, ref_counts) -> None:
    """Exit non-zero, naming the first difference, unless Lumos and the reference agree (on the
    reference's columns, and the skipped and immaterial counts)."""
    problems = []
    if not set(ref.columns) <= set(lumos.columns):
        problems.append(f"narrate columns {list(lumos.columns)} lack {list(ref.columns)}")
    elif len(lumos) != len(ref):
        problems.append(f"narrate gave {len(lumos)} narratives, the reference {len(ref)}")
    else:
        for column in ref.columns:
            a, b = lumos[column].tolist(), ref[column].tolist()
            bad = [i for i, (u, v) in enumerate(zip(a, b, strict=True)) if u != v]
            if bad:
                i = bad[0]
                problems.append(
                    f"narrate column {column!r} differs in {len(bad)} narratives; first at "
                    f"position {i}:\n  lumos:     {lumos.iloc[i].to_dict()}\n"
                    f"  reference: {ref.iloc[i].to_dict()}"
                )
    for what, mine, theirs in zip(("skipped", "immaterial"), lumos_counts, ref_counts, strict=True):
        if mine != theirs:
            problems.append(f"{what}: lumos {mine}, reference {theirs}")
    if list(lumos_cards.columns) != list(ref_cards.columns):
        problems.append(f"summarize columns {list(lumos_cards.columns)} != {list(ref_cards)}")
    elif lumos_cards.index.tolist() != ref_cards.index.tolist():
        problems.append("summarize rows differ")
    else:
        for column in ref_cards.columns:
            a, b = lumos_cards[column].tolist(), ref_cards[column].tolist()
            bad = [i for i, (u, v) in enumerate(zip(a, b, strict=True)) if u != v]
            if bad:
                i = bad[0]
                problems.append(
                    f"summarize column {column!r} differs in {len(bad)} rows; first at row "
                    f"{ref_cards.index[i]}:\n  lumos:     {a[i]!r}\n  reference: {b[i]!r}"
                )
    if problems:
        print("Lumos and the reference narratives disagree:", file=sys.stderr)
        for problem in problems:
            print(" - " + problem, file=sys.stderr)
        sys.exit(1)


def bench_narratives(size: dict) -> dict:
    from lumos.explain import Attributions, InsightsDesign, narrate, summarize

    spec = narrative_design()
    n, n_ref, repeats = size["narratives"], size["reference"], 3
    with tempfile.TemporaryDirectory(prefix="lumos-bench-design-") as tmp:
        folder = Path(tmp)
        write_design(spec, folder)
        design = InsightsDesign.load(folder)
        log(f"narratives: child process, narrate + summarize of {n} rows x {repeats}")
        child, peak = run_child(
            [__file__, "--narratives-child", str(n), str(folder), str(repeats), str(n_ref)]
        )
    lumos = float(np.median(child["times"]))
    log(f"narratives: Lumos {lumos:.3f} s (median of {child['times']}), peak RSS {peak:.0f} MB")

    X, attr = narrative_data(n)  # the child's rows; the reference and the check use the first
    X = X.iloc[:n_ref]
    attr = Attributions(
        attr.values[:n_ref],
        attr.base[:n_ref],
        attr.feature_names,
        attr.method,
        attr.output,
        X.index,
    )
    log(f"narratives: pandas row-by-row reference on {n_ref} rows")
    t = time.perf_counter()
    ref, ref_cards, *ref_counts = reference_narrate(X, attr, spec, design.templates, TOP_K)
    measured = time.perf_counter() - t
    anchor = measured * n / n_ref
    log(f"narratives: reference {measured:.1f} s on {n_ref} rows, {anchor:.0f} s extrapolated")

    t = time.perf_counter()
    nar = narrate(X, attr, design, top_k=TOP_K, direction="auto")
    cards = summarize(nar)
    lumos_subset = time.perf_counter() - t
    counts = (nar.attrs["skipped"], nar.attrs["immaterial"])
    compare_narratives(nar.reset_index(drop=True), ref, cards, ref_cards, counts, ref_counts)
    log(f"narratives: Lumos == reference on {n_ref} rows ({len(ref)} narratives)")
    if _digest(nar, cards) != child["out"]["digest"]:
        print(
            f"The child's narratives of the first {n_ref:,} rows differ from the parent's.",
            file=sys.stderr,
        )
        sys.exit(1)
    return {
        "name": "narratives_100k_rows",
        "unit": "s",
        "lumos": lumos,
        "anchor": anchor,
        "anchor_name": f"pandas row-by-row reference of the same rules (written in this script), "
        f"timed on {n_ref:,} rows and extrapolated linearly to {n:,}",
        "speedup": anchor / lumos,
        "peak_rss_mb": peak,
        "goal": {"lumos": "<= 1", "peak_rss_mb": "<= 1000"},
        "details": {
            "rows": n,
            "top_k": TOP_K,
            "direction": "auto",
            "rules": "a narrative speaks for its super feature's features and is a reason "
            "only when their summed attribution points the row's way; changes under the "
            "default thresholds (relative 0.05, absolute 0) are no reasons",
            "design": f"{N_FEATURES} features, {N_SUPER} super features, 10 ultra features, "
            f"{len(CATEGORIES)} categories; insight types value_change (derived percent "
            "change), trend (two windows, two derived items; both changes), current_value "
            "(a level)",
            "data": "counts, amounts and rates with ~3% NaN; signed random attributions in "
            "whole multiples of 1/64 (exact sums; ties exercise the tie rules)",
            "lumos_runs_s": child["times"],
            "narratives": child["out"]["narratives"],
            "rows_with_narratives": child["out"]["rows_with_narratives"],
            "skipped": child["out"]["skipped"],
            "immaterial": child["out"]["immaterial"],
            "child": f"a fresh Python process that imports lumos, builds the {n:,} rows "
            f"({N_FEATURES} float columns) and their {n:,} x {N_FEATURES} attributions, then "
            f"runs narrate + summarize {repeats} times (design reloaded each time); lumos is "
            "the median run; peak_rss_mb is the child's whole-life ru_maxrss from wait4",
            "child_rss_before_narrate_mb": child["rss_before_mb"],
            "anchor_rows_timed": n_ref,
            "anchor_seconds_measured": measured,
            "lumos_seconds_on_anchor_rows": lumos_subset,
            "matches_reference_rows": n_ref,
        },
    }


# -- 4. TreeSHAP ---------------------------------------------------------------------------
def bench_tree_shap(booster, rows: np.ndarray) -> dict:
    import shap

    from lumos.explain import attribute, import_model

    model = import_model(booster)
    log(f"tree_shap: Lumos on {len(rows)} rows")
    t = time.perf_counter()
    attr = attribute(model, rows, method="tree_shap")
    lumos = len(rows) / (time.perf_counter() - t)

    t = time.perf_counter()
    explainer = shap.TreeExplainer(booster)
    setup = time.perf_counter() - t
    log(f"tree_shap: shap.TreeExplainer on {len(rows)} rows")
    t = time.perf_counter()
    values = np.asarray(explainer.shap_values(rows))
    anchor = len(rows) / (time.perf_counter() - t)
    base = float(np.ravel(explainer.expected_value)[0])
    log(f"tree_shap: Lumos {lumos:.0f} rows/s, shap {anchor:.0f} rows/s")
    return {
        "name": "tree_shap_rows_per_second",
        "unit": "rows/s",
        "lumos": lumos,
        "anchor": anchor,
        "anchor_name": f"shap {shap.__version__} TreeExplainer(booster).shap_values",
        "speedup": lumos / anchor,
        "details": {
            "rows": len(rows),
            "features": rows.shape[1],
            "method": attr.method,
            "max_abs_diff_values": float(np.abs(attr.values - values).max()),
            "max_abs_diff_base": float(np.abs(attr.base - base).max()),
            "timed": f"attribute() with an imported model; shap_values() with a built explainer "
            f"(construction {setup:.2f} s not counted)",
        },
    }


# -- main ----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--narratives-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.narratives_child:  # ROWS FOLDER REPEATS DIGEST_ROWS
        rows, folder, repeats, digest_rows = args.narratives_child
        narratives_child(int(rows), folder, int(repeats), int(digest_rows))
        return
    size = SIZES[args.quick]
    results = {}
    results["narratives"] = bench_narratives(size)

    n_rows = max(size["lumos_lime"], size["shap"])
    log(f"model: {size['train']} x {N_FEATURES} rows, XGBoost {TREES} trees depth {DEPTH}")
    X, y = model_data(size["train"] + n_rows, SEED)
    train, rows = X[: size["train"]], X[size["train"] :]
    t = time.perf_counter()
    booster = train_booster(train, y[: size["train"]])
    log(f"model: trained in {time.perf_counter() - t:.1f} s")

    results["lime"], results["lime_top"] = bench_lime(booster, train, rows, size)
    results["lime_gaussian"] = bench_lime_gaussian(booster, train, rows, size)
    results["lime_linear"] = bench_lime_linear(size)
    results["klime"] = bench_klime(booster, train[: size["klime"]])
    results["tree_shap"] = bench_tree_shap(booster, rows[: size["shap"]])
    order = ("lime", "lime_top", "lime_gaussian", "lime_linear", "klime", "narratives", "tree_shap")
    emit("explain", args.quick, [results[key] for key in order])


if __name__ == "__main__":
    main()
