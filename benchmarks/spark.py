"""Lumos's Spark engine on local[2] beside the local engine: narratives and window features.

1. Narratives (TreeSHAP + the demo's insights design) of an XGBoost upsell
   model over the demo's accounts table: rows per second on ``local[2]``
   (``lumos.spark.explain``, written to Parquet) beside the local engine
   (``explain_table``) on the same rows, and how Spark's time grows as the
   rows double (1×, 2×, 4×, 8× of 20,000 rows; goal: 8× the rows in ≤ 9×
   the time).
2. Window features of a SaaS book (3/6/12 months, every aggregate) at two
   cutoffs: Spark SQL beside the local NumPy engine, values compared.

Spark's start (about 6 s) and its workers' first batch (they load the
compiled kernels) are outside every timing. Run:
``python benchmarks/spark.py [--quick]`` (quick: 5,000 rows, 2× and 4×).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log


def narratives(quick: bool) -> list[dict]:
    import xgboost as xgb

    from lumos.data.demo import ACCOUNT_FEATURES, accounts, accounts_design_path
    from lumos.explain import InsightsDesign, import_model
    from lumos.explain._pipeline import explain_table
    from lumos.spark import explain, session

    base = 5_000 if quick else 20_000
    factors = (1, 2, 4) if quick else (1, 2, 4, 8)
    book = accounts(base * factors[-1], seed=0)
    clf = xgb.XGBClassifier(n_estimators=100, max_depth=4, n_jobs=2)
    model = import_model(clf.fit(book[ACCOUNT_FEATURES], book["upsell"]))
    design = InsightsDesign.load(accounts_design_path())
    spark = session("local[2]")
    explain_table(model, book.head(50), design, id_column="account_id")  # warm the kernels
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Spark's Python workers start and load the compiled kernels once: not timed
        warm, _ = explain(spark.createDataFrame(book.head(base)).repartition(4), model, design,
                          id_column="account_id")  # fmt: skip
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
            "goal": {"lumos": f"<= {factors[-1] + 1}"},
            "details": {
                "rows_factor": factors[-1],
                "seconds": {str(k): v["spark_s"] for k, v in rows.items()},
            },
        },
    ]


def features(quick: bool) -> dict:
    from lumos.data.demo import saas
    from lumos.features import WindowFeatures, window_features
    from lumos.spark import session
    from lumos.spark import window_features as on_spark

    book = saas(300 if quick else 2000, months=36, seed=0)
    last = pd.Timestamp(book.usage["month"].max())
    ids = book.usage[["account_id"]].drop_duplicates()
    cutoffs = pd.concat([ids.assign(cutoff=last - pd.DateOffset(months=k)) for k in (0, 6)])
    spec = WindowFeatures(windows=(3, 6, 12))
    started = time.perf_counter()
    local = window_features(book.usage, cutoffs, spec, lead_months=1)
    local_s = time.perf_counter() - started
    spark = session("local[2]")
    u, c = spark.createDataFrame(book.usage).cache(), spark.createDataFrame(cutoffs).cache()
    u.count(), c.count()
    started = time.perf_counter()
    got = on_spark(u, c, spec, lead_months=1).toPandas()
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
        "details": {"usage_rows": len(book.usage), "cutoff_rows": len(cutoffs),
                    "features": len(cols), "max_abs_diff": diff},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    results = narratives(args.quick)
    results.append(features(args.quick))
    emit("spark", args.quick, results)


if __name__ == "__main__":
    main()
