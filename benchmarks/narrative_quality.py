"""Do the narratives Lumos writes pass their own audit, beside the engine as it was before?

Three data sets, each with the design ``suggest_design`` drafts and no hand edits:

1. ``demo``: the account model of an :class:`~lumos.recommend.AccountPrioritizer`
   fitted on a generated SaaS book (``lumos.data.demo.saas``, the demo's
   settings), its narratives as ``score`` writes them (an upsell by what
   pushes its change up, a churn risk by what pulls it down, 3 per row);
2. ``breast_cancer``: scikit-learn's ``load_breast_cancer``, an XGBoost
   classifier with defaults, ``suggest_design(peers="samples")``;
3. ``diabetes``: ``load_diabetes``, an XGBoost regressor with defaults,
   ``suggest_design(peers="patients")``;

the last two through ``explain_table(..., audit=True)`` (direction ``auto``,
5 per row). Every narrative is audited with ``lumos.explain.audit``:
**incoherent** (its features' summed attribution points against the row's
direction; goal 0), **immaterial** (a change under its design's thresholds;
goal 0), the **share of level narratives that compare the value with its
peers** (goal at least 0.95), and **unreadable** (missing values, bare
numbers, rates as fractions, acronyms in lower case).

The anchor is the engine before this work: commit ``cd6230f`` exported with
``git archive`` and run in a child process on the same models and rows — its
own v1 ``suggest_design``, its defaults (5 per row, direction ``positive``
as its command line's default was; on the demo the prioritizer's per-class
directions and 3 per row) — which saves its narratives, attributions and
design; the parent audits them the same way (``data=`` so its changes are
measured). Without git or the commit the anchor is null, with a note.

Run ``python benchmarks/narrative_quality.py`` (``--quick``: a smaller book
and fewer trees). Progress and ten narratives before and after per data set
(the same rows) go to standard error, and to ``/tmp/narrative_quality_examples.txt``;
the last line of standard output is the JSON result. Each figure's details
also count the narratives incoherent against each row's own direction (the
sign of its summed attributions) rather than the one they were written in:
the old command line's ``positive`` explained a row scored 0.007 by what
pushes it up.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import emit, log, report_child, run_child

COMMIT = "cd6230f"  # the last commit before the narrative changes
REPO = Path(__file__).resolve().parent.parent
EXAMPLES = Path(tempfile.gettempdir()) / "narrative_quality_examples.txt"
SIZES = {
    False: {"accounts": 2000, "months": 36, "trees": 150},  # the demo's own
    True: {"accounts": 400, "months": 30, "trees": 60},
}
SETS = ("demo", "breast_cancer", "diabetes")
PACKAGES = ("numpy", "pandas", "xgboost", "scikit-learn")


# -- the data sets, the models and Lumos's narratives ---------------------------------------
def demo(folder: Path, size: dict) -> dict:
    """Fit the prioritizer on a generated book; its account narratives and what they stand for."""
    from lumos.data.demo import saas
    from lumos.explain import attribute
    from lumos.recommend import AccountPrioritizer

    log(f"demo: a book of {size['accounts']} accounts over {size['months']} months")
    book = saas(size["accounts"], months=size["months"], random_state=0)
    model = AccountPrioritizer(n_estimators=size["trees"], learning_rate=0.1, random_state=0)
    tables = (book.contracts, book.usage)
    model.fit(*tables, firmographics=book.firmographics, as_of=book.end)
    as_of = book.end - pd.DateOffset(months=1)  # the last month of data, as the demo scores
    log("demo: fitted; scoring the accounts")
    table, text = model.score(
        *tables, firmographics=book.firmographics, as_of=as_of, narratives=True
    )
    rows = model.features(*tables, firmographics=book.firmographics, as_of=as_of)
    X = rows.set_index("account_id")[model.feature_names_["account"]]
    booster = model.models_["account"].booster_
    attr = attribute(booster, X, method="tree_shap")
    accounts = table[table["product"].isna()].set_index("account_id").loc[X.index]
    narratives = text[text["row"].isin(X.index)].reset_index(drop=True)
    booster.save_model(folder / "model.json")
    X.to_parquet(folder / "X.parquet")
    way = np.where(accounts["predicted_change"].to_numpy() >= 0, "positive", "negative")
    pd.DataFrame({"direction": way}, index=X.index).to_parquet(folder / "direction.parquet")
    (folder / "firmographic_names.json").write_text(json.dumps(sorted(model._firmo_names)))
    return {
        "X": X,
        "attributions": attr,
        "design": model.designs_["account"],
        "narratives": narratives,
        "scores": accounts["predicted_change"],
        "headlines": accounts["headline"],
        "details": {
            "rows": len(X),
            "model": f"AccountPrioritizer(n_estimators={size['trees']}, learning_rate=0.1) on "
            f"saas({size['accounts']}, months={size['months']}, random_state=0), the account "
            "model's rows on the last month of data",
            "top_k": 3,
            "direction": "per class: positive for a change >= 0, negative below",
        },
    }


def public(name: str, folder: Path) -> dict:
    """An XGBoost model with defaults on a table that ships with scikit-learn, explained with
    the design suggest_design drafts."""
    import xgboost as xgb
    from sklearn import datasets

    from lumos.explain import InsightsDesign, attribute, explain_table, import_model, suggest_design

    table = getattr(datasets, f"load_{name}")(as_frame=True)
    X = table.data
    estimator = xgb.XGBClassifier() if name == "breast_cancer" else xgb.XGBRegressor()
    estimator.fit(X, table.target)
    peers = "samples" if name == "breast_cancer" else "patients"
    suggested = suggest_design(estimator, X, peers=peers)
    design = InsightsDesign.load(suggested.write(folder / "design"))
    model = import_model(estimator)
    log(f"{name}: explain_table(audit=True) on {len(X)} rows")
    done = explain_table(model, X, design, audit=True)
    estimator.get_booster().save_model(folder / "model.json")
    X.to_parquet(folder / "X.parquet")
    return {
        "X": X,
        "attributions": attribute(model, X, method="tree_shap"),  # as explain_table's
        "design": design,
        "narratives": done.narratives,
        "audit": done.audit,
        "scores": done.scores,
        "details": {
            "rows": len(X),
            "model": f"xgboost.{type(estimator).__name__}() with defaults on "
            f"sklearn.datasets.load_{name}(as_frame=True)",
            "top_k": 5,
            "direction": "auto",
            "peers": peers,
        },
    }


# -- the anchor: the engine at COMMIT, in a child process -------------------------------------
def export_anchor(folder: Path) -> tuple[Path | None, str]:
    """The source of the engine at COMMIT, extracted under ``folder``; or None and why not."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", COMMIT, "src"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or str(exc).encode()
        return None, f"git archive {COMMIT} failed: {detail.decode(errors='replace').strip()}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src", ""


def anchor_child(folder: str) -> None:
    """In the child, with the engine at COMMIT first on the path: its v1 design, narratives and
    attributions of each data set saved in the data set's folder."""
    import xgboost as xgb

    import lumos
    from lumos.explain import (
        Attributions,
        InsightsDesign,
        attribute,
        import_model,
        narrate,
        suggest_design,
    )

    where = Path(lumos.__file__).resolve()
    for name in SETS:
        here = Path(folder) / name
        if not (here / "X.parquet").exists():
            continue
        X = pd.read_parquet(here / "X.parquet")
        model = import_model(xgb.Booster(model_file=str(here / "model.json")))
        draft = suggest_design(model, X)
        if name == "demo":  # the prioritizer's categories, by where a feature comes from
            from lumos.recommend._prioritizer_features import feature_category

            firmo = set(json.loads((here / "firmographic_names.json").read_text()))
            draft.features["category"] = [
                feature_category(f, firmo) for f in draft.features["feature"]
            ]
        design = InsightsDesign.load(draft.write(here / "anchor_design"))
        attr = attribute(model, X, method="tree_shap")
        if name == "demo":
            way = pd.read_parquet(here / "direction.parquet")["direction"].to_numpy()
            parts = []
            for direction in ("positive", "negative"):
                mask = way == direction
                if not mask.any():
                    continue
                sub = Attributions(
                    attr.values[mask],
                    attr.base[mask],
                    attr.feature_names,
                    attr.method,
                    attr.output,
                    X.index[mask],
                )
                out = narrate(X[mask], sub, design, top_k=3, direction=direction)
                parts.append(out.assign(direction=direction))
            narratives = pd.concat(parts, ignore_index=True).sort_values(["row", "rank"])
        else:
            narratives = narrate(X, attr, design, top_k=5, direction="positive")
            narratives = narratives.assign(direction="positive")
        for column in narratives.columns:  # plain columns, whatever that engine's dtypes
            if isinstance(narratives[column].dtype, pd.CategoricalDtype):
                narratives[column] = narratives[column].astype(object)
        narratives.to_parquet(here / "anchor_narratives.parquet")
        np.savez(here / "anchor_attributions.npz", values=attr.values, base=attr.base)
        print(f"anchor: {name}: {len(narratives):,} narratives", file=sys.stderr, flush=True)
    report_child({"lumos": str(where)})


def anchor_audit(data: dict, here: Path):
    """The anchor's narratives of one data set, their audit by today's ``audit``, and their
    incoherent count against each row's own direction."""
    from lumos.explain import Attributions, InsightsDesign, audit

    X = data["X"]
    narratives = pd.read_parquet(here / "anchor_narratives.parquet")
    saved = np.load(here / "anchor_attributions.npz", allow_pickle=False)
    attr = Attributions(
        saved["values"], saved["base"], list(X.columns), "tree_shap", "margin", X.index
    )
    design = InsightsDesign.load(here / "anchor_design")  # a v1 design loads as it is
    found = audit(narratives, attr, design, data=X)
    return narratives, found, against_auto(narratives, attr, design, X)


# -- figures ----------------------------------------------------------------------------------
def against_auto(narratives: pd.DataFrame, attributions, design, X) -> int:
    """Incoherent narratives when each row's direction is its own (``auto``: the sign of its
    summed attributions) rather than the one the narratives were written in."""
    from lumos.explain import audit

    plain = narratives.drop(columns=["direction"], errors="ignore")
    plain.attrs = {"direction": "auto"}
    return audit(plain, attributions, design, data=X).counts["incoherent"]


def figures(found, auto: int) -> dict:
    c = found.counts
    return {
        "incoherent": c["incoherent"],
        "incoherent_against_each_rows_own_direction": auto,
        "immaterial": c["immaterial"],
        "level_context_share": found.context_share,
        "unreadable": c["unreadable"],
        "narratives": c["narratives"],
        "rows": c["rows"],
        "changes": c["changes"],
        "levels": c["levels"],
    }


def results_of(name: str, lumos: dict, anchor: dict | None, details: dict, note: str) -> list:
    anchor_name = (
        f"Lumos at {COMMIT} (before the narrative changes): its v1 suggested design and "
        "defaults, audited by today's lumos.explain.audit"
    )
    out = []
    for key, unit in (
        ("incoherent", "narratives"),
        ("immaterial", "narratives"),
        ("level_context_share", "share"),
        ("unreadable", "narratives"),
    ):
        result = {
            "name": f"{name}_{key}",
            "unit": unit,
            "lumos": lumos[key],
            "anchor": anchor[key] if anchor else None,
            "anchor_name": anchor_name,
            "details": {
                **details,
                "lumos": {k: v for k, v in lumos.items() if k != key},
                "anchor": {k: v for k, v in anchor.items() if k != key} if anchor else None,
            },
        }
        if key in ("incoherent", "immaterial"):
            result["goal"] = {"lumos": "== 0"}
        elif key == "level_context_share":
            result["goal"] = {"lumos": ">= 0.95"}
        if note:
            result["details"]["note"] = note
        out.append(result)
    return out


def examples(name: str, data: dict, before: pd.DataFrame | None, lines: list[str]) -> None:
    """Ten rows spread over the scores: each one's narratives before and after, verbatim."""
    scores = data["scores"].loc[data["X"].index]
    order = scores.sort_values(kind="stable").index
    picks = order[np.linspace(0, len(order) - 1, 10).round().astype(int)]
    after = data["narratives"].sort_values(["row", "rank"])
    lines.append(f"# {name}: ten rows from the lowest score to the highest")
    for row in picks:
        lines.append(f"--- row {row} (score {scores[row]:.4g})")
        if "headlines" in data:
            lines.append(f"  headline: {data['headlines'][row]}")
        if before is not None:
            said = before.loc[before["row"] == row].sort_values("rank")["text"].tolist()
            lines.append("  before: " + (" | ".join(said) or "(nothing)"))
        said = after.loc[after["row"] == row, "text"].tolist()
        lines.append("  after:  " + (" | ".join(said) or "(nothing)"))


# -- main -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller book, fewer trees")
    parser.add_argument("--anchor-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.anchor_child:
        anchor_child(args.anchor_child)
        return
    started = time.perf_counter()
    from lumos.explain import audit

    with tempfile.TemporaryDirectory(prefix="lumos-narrative-quality-") as tmp:
        work = Path(tmp)
        data = {}
        for name in SETS:
            (work / name).mkdir()
            if name == "demo":
                data[name] = demo(work / name, SIZES[args.quick])
            else:
                data[name] = public(name, work / name)
        for name in SETS:
            d = data[name]
            if "audit" not in d:
                d["audit"] = audit(d["narratives"], d["attributions"], d["design"], data=d["X"])
            d["auto"] = against_auto(d["narratives"], d["attributions"], d["design"], d["X"])
        source, note = export_anchor(work / "anchor")
        anchors = {}
        if source is not None:
            log(f"anchor: the engine at {COMMIT} in a child process ({source})")
            env = {**os.environ, "PYTHONPATH": str(source)}
            child, _ = run_child([__file__, "--anchor-child", str(work)], env=env)
            if not child["lumos"].startswith(str(source.resolve())):
                raise RuntimeError(f"the anchor child imported {child['lumos']}, not {source}")
            for name in SETS:
                anchors[name] = anchor_audit(data[name], work / name)
        else:
            log(f"anchor: none ({note})")
        results, lines = [], []
        for name in SETS:
            mine = figures(data[name]["audit"], data[name]["auto"])
            before, theirs, auto = anchors.get(name, (None, None, None))
            theirs = figures(theirs, auto) if theirs is not None else None
            log(f"{name}: {data[name]['audit'].summary()}")
            if theirs is not None:
                log(f"{name} (anchor): {anchors[name][1].summary()}")
            results += results_of(name, mine, theirs, data[name]["details"], note)
            examples(name, data[name], before, lines)
    text = "\n".join(lines) + "\n"
    EXAMPLES.write_text(text, encoding="utf-8")
    print(text, file=sys.stderr, end="")
    log(f"examples written to {EXAMPLES}; done in {time.perf_counter() - started:.0f} s")
    for result in results:
        result["details"]["seconds_total"] = time.perf_counter() - started
    emit("narrative_quality", args.quick, results, packages=PACKAGES)


if __name__ == "__main__":
    main()
