"""The main job, ``lumos demo``: account propensity explained in sentences, end to end.

It generates a book of SaaS business (contracts, monthly usage, firmographics),
trains the Account Prioritizer on renewal-window labels and window features,
scores every account and product in the last month of data with its reasons,
and writes everything a user needs to look at it or rerun it with
``lumos propensity train | score`` and ``lumos explain run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from lumos.data import atomic_path
from lumos.data.demo import saas
from lumos.explain import export
from lumos.recommend import AccountPrioritizer


def run_demo(
    out: Path,
    *,
    n_accounts: int = 2000,
    months: int = 36,
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the demo into folder ``out`` and return what it wrote and measured."""
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    book = saas(n_accounts, months=months, seed=seed)
    tables = {"contracts": book.contracts, "usage": book.usage,
              "firmographics": book.firmographics}  # fmt: skip
    paths = {name: out / "tables" / f"{name}.parquet" for name in tables}
    for name, table in tables.items():
        paths[name].parent.mkdir(exist_ok=True)
        with atomic_path(paths[name]) as tmp:
            table.to_parquet(tmp, index=False)

    model = AccountPrioritizer(n_estimators=150, learning_rate=0.1, random_state=seed)
    model.fit(book.contracts, book.usage, firmographics=book.firmographics, as_of=book.end)
    as_of = book.end - pd.DateOffset(months=1)  # the last month of data
    args = (book.contracts, book.usage)
    scores, text = model.score(*args, firmographics=book.firmographics, as_of=as_of,
                               narratives=True)  # fmt: skip
    features = model.features(*args, firmographics=book.firmographics, as_of=as_of)

    paths |= {"model": out / "model", "scores": out / "scores.parquet",
              "scores_csv": out / "scores.csv", "features": out / "features.parquet",
              "narratives": out / "narratives.jsonl", "report": out / "report.html"}  # fmt: skip
    model.save(paths["model"], overwrite=True)
    with atomic_path(paths["scores"]) as tmp:
        scores.to_parquet(tmp, index=False)
    with atomic_path(paths["scores_csv"]) as tmp:
        scores.to_csv(tmp, index=False)
    with atomic_path(paths["features"]) as tmp:
        features.drop(columns=["cutoff", "renewal", "quantity"]).to_parquet(tmp, index=False)
    accounts = scores[scores["product"].isna()].set_index("account_id")
    mine = text[text["row"].isin(accounts.index)]
    change = accounts["predicted_change"]  # the report lists the biggest upsell first
    export(mine, paths["narratives"], scores=change)
    export(mine, paths["report"], scores=change,
           title=f"Lumos demo: account propensity on {as_of:%b %-d, %Y}")  # fmt: skip
    elapsed = time.perf_counter() - started

    report = model.report_
    echo(f"Book: {n_accounts:,} accounts, {len(book.contracts):,} contracts, "
         f"{len(book.usage):,} usage rows over {months} months.")  # fmt: skip
    echo(f"Trained {len(model.models_)} models on renewals before {model.as_of_:%Y-%m-%d}; "
         "validated on later cutoffs:")  # fmt: skip
    for name, row in report.iterrows():
        if name == "all_in":
            echo(f"  {name:<18} all-in deal ROC-AUC {row['all_in_roc_auc']:.3f}")
        else:
            echo(f"  {name:<18} upsell ROC-AUC {row['upsell_roc_auc']:.3f}, "
                 f"churn ROC-AUC {row['churn_roc_auc']:.3f}")  # fmt: skip
    counts = accounts["class"].value_counts()
    echo(f"\nScored {len(scores):,} accounts and products on {as_of:%Y-%m-%d}: "
         + ", ".join(f"{counts.get(c, 0):,} {c}" for c in ("upsell", "flat", "churn"))
         + " (accounts).")  # fmt: skip
    for title, rows in (("Top upsell", accounts.nlargest(2, "predicted_change")),
                        ("Top churn risk", accounts.nsmallest(2, "predicted_change"))):  # fmt: skip
        for account, row in rows.iterrows():
            echo(f"\n{title}: {account}, {row['units']:.0f} units, predicted "
                 f"{row['predicted_change']:+.1f} by {row['renewal']:%b %Y}")  # fmt: skip
            for line in text.loc[text["row"] == account, "text"]:
                echo(f"  • {line}")
    echo("")
    for name, path in paths.items():
        echo(f"{name:>13}: {path}")
    echo(f"\nDone in {elapsed:.1f} s. Open {paths['report']} in a browser.")
    return {"seconds": elapsed, "paths": paths, "report": report, "scores": scores}
