"""The main job, ``lumos demo``: a propensity model explained in sentences, end to end.

It generates a book of customer accounts, trains an XGBoost upsell model,
explains every account with exact TreeSHAP, narrates the explanations with the
bundled insights design and writes everything a user needs to look at or
rerun it with ``lumos explain run``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from lumos.data import atomic_path
from lumos.data.demo import ACCOUNT_FEATURES, accounts, accounts_design_path
from lumos.explain import InsightsDesign, import_model
from lumos.explain._export import export
from lumos.explain._pipeline import explain_table


def run_demo(
    out: Path, *, n_accounts: int = 5000, seed: int = 0, echo: Callable[[str], None] = print
) -> dict:
    """Run the demo into folder ``out`` and return what it wrote and measured."""
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    book = accounts(n_accounts, seed=seed)
    X, y = book[ACCOUNT_FEATURES], book["upsell"].to_numpy()
    rng = np.random.default_rng(seed)
    test = rng.random(len(book)) < 0.2
    clf = xgb.XGBClassifier(
        n_estimators=200,
        max_depth=4,
        learning_rate=0.05,
        subsample=0.8,
        n_jobs=2,
        random_state=seed,
    )
    clf.fit(X[~test], y[~test])
    both_classes = 0 < y[test].sum() < test.sum()
    auc = roc_auc_score(y[test], clf.predict_proba(X[test])[:, 1]) if both_classes else np.nan

    paths = {
        "model": out / "model.json",
        "data": out / "accounts.parquet",
        "design": out / "design",
        "narratives": out / "narratives.jsonl",
        "report": out / "report.html",
    }
    with atomic_path(paths["model"]) as tmp:
        tmp.write_bytes(bytes(clf.get_booster().save_raw("json")))
    with atomic_path(paths["data"]) as tmp:
        book.drop(columns=["health"]).to_parquet(tmp, index=False)
    shutil.copytree(accounts_design_path(), paths["design"], dirs_exist_ok=True)

    design = InsightsDesign.load(paths["design"])
    model = import_model(clf)
    narratives, scores, method = explain_table(
        model, book, design, id_column="account_id", top_k=5, seed=seed
    )
    export(narratives, paths["narratives"], scores=scores)
    export(narratives, paths["report"], scores=scores, title="Lumos demo: upsell propensity")
    elapsed = time.perf_counter() - started

    echo(f"Trained an upsell model on {len(book):,} accounts (holdout AUC {auc:.3f}).")
    echo(
        f"Explained every account with {method}: {len(narratives):,} narratives, "
        f"{narratives.attrs['skipped']:,} skipped for missing values."
    )
    top = narratives[narratives["row"] == narratives["row"].iloc[0]]
    echo(f"\nWhy {top['row'].iloc[0]} scores {scores.iloc[0]:.0%}:")
    for text in top["text"]:
        echo(f"  • {text}")
    echo("")
    for name, path in paths.items():
        echo(f"{name:>10}: {path}")
    echo(f"\nDone in {elapsed:.1f} s. Open {paths['report']} in a browser.")
    return {
        "auc": auc,
        "method": method,
        "seconds": elapsed,
        "paths": paths,
        "narratives": len(narratives),
    }
