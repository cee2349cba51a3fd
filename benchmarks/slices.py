"""The slice finder at a million rows: Lumos's lattice search beside an exhaustive pandas groupby.

1,000,000 rows × 10 attributes (six categorical with 3–8 values, stored as
pandas categories, four
numbers cut into 4 quantile bins, 5% missing in one), a log-loss per row from
a model that is wrong in a planted pocket; every conjunction of up to 3
conditions with support ≥ 1%. Lumos: ``find_slices`` (encoding, the lattice
search with pruning, intervals). Anchor: every slice of the same lattice by
``DataFrame.groupby`` on the same encoded columns, then the same ranking. Each
runs in its own child process (peak memory from the OS); the top-10 slices of
both are compared.

Second row: ``find_slices(score="sliceline")`` beside the ``sliceline``
package's ``Slicefinder``, the slice finder users install for SliceLine, with
the same support (1%), order (3), k (10) and α (both defaults, 0.6), on
200,000 rows × 10 attributes of the same kinds (seeded): categories skewed as
real tables' are (one value holding 85–95% of the rows), a confident model
(logit ``8·z``) that is wrong on every row of one planted slice (``a0 = v2``,
20% of rows), log loss per row. ``Slicefinder`` gets the columns Lumos
encodes (the same conditions) and is timed on ``fit`` alone, after an untimed
fit on a few rows compiles its numba code; ``find_slices`` is timed whole.
SliceLine's score is positive only for slices large and bad enough, so the
planted slice and the slices within it that keep most of its rows are what
both should return; the rows report how many of the top-10 agree, and
whether in the same order.

Run: ``python benchmarks/slices.py [--quick]`` (quick: 100,000 rows, and
20,000 for the SliceLine row).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import PACKAGES, emit, log, machine, report_child, run_child

FEATURES = [f"a{i}" for i in range(10)]


def make(n: int, folder: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = {}
    for i, k in enumerate((3, 4, 5, 6, 7, 8)):  # categorical columns, as pandas keeps them
        columns[f"a{i}"] = pd.Categorical(rng.choice([f"v{j}" for j in range(k)], n))
    for i in range(6, 10):
        columns[f"a{i}"] = rng.exponential(1.0 + i, n)
    frame = pd.DataFrame(columns)
    frame.loc[rng.random(n) < 0.05, "a9"] = np.nan
    p = 1 / (1 + np.exp(-rng.normal(size=n)))
    y = (rng.random(n) < p).astype(float)
    wrong = (frame["a1"] == "v2").to_numpy() & (frame["a7"] < 3).to_numpy()
    p[wrong] = 1 - p[wrong]
    frame.assign(y=y, p=p).to_parquet(folder / "data.parquet")


SKEWED = ([0.5, 0.3, 0.2], [0.95, 0.05], [0.93, 0.07], [0.9, 0.07, 0.03], [0.9, 0.1], [1 / 6] * 6)


def make_skewed(n: int, folder: Path) -> None:
    """Skewed categories, four numbers, and a confident model wrong on every ``a0 = v2`` row."""
    import pandas as pd

    rng = np.random.default_rng(1)
    columns = {}
    for i, shares in enumerate(SKEWED):
        values = [f"v{j}" for j in range(len(shares))]
        columns[f"a{i}"] = pd.Categorical(rng.choice(values, n, p=shares))
    for i in range(6, 10):
        columns[f"a{i}"] = rng.exponential(1.0 + i, n)
    frame = pd.DataFrame(columns)
    frame.loc[rng.random(n) < 0.05, "a9"] = np.nan
    p = 1 / (1 + np.exp(-8 * rng.normal(size=n)))
    y = (rng.random(n) < p).astype(float)
    wrong = (frame["a0"] == "v2").to_numpy()
    p[wrong] = 1 - p[wrong]
    frame.assign(y=y, p=p).to_parquet(folder / "skewed.parquet")


def child_sliceline(engine: str, folder: Path) -> None:
    """``find_slices(score="sliceline")`` or ``Slicefinder``: top-10 texts, scores and seconds."""
    import pandas as pd

    from lumos.evaluate import find_slices
    from lumos.evaluate._slices import encode, row_losses

    data = pd.read_parquet(folder / "skewed.parquet")
    if engine == "lumos_sliceline":
        started = time.perf_counter()
        found = find_slices(
            data, "y", "p", FEATURES, max_order=3, min_support=0.01, top_k=10, score="sliceline"
        )
        seconds = time.perf_counter() - started
        top, scores = found.table["slice"].tolist(), found.table["score"].tolist()
        report_child(
            {"seconds": seconds, "top": top, "scores": scores, "evaluated": found.evaluated}
        )
        return
    from sliceline.slicefinder import Slicefinder

    losses = row_losses("log_loss", data["y"], data["p"])
    codes, labels = encode(data, FEATURES, 4)
    Slicefinder(k=10, max_l=3, min_sup=0.01, verbose=False).fit(codes[:2000], losses[:2000])
    started = time.perf_counter()
    finder = Slicefinder(k=10, max_l=3, min_sup=0.01, verbose=False).fit(codes, losses)
    seconds = time.perf_counter() - started
    top = [
        " and ".join(labels[f][int(c)] for f, c in enumerate(row) if c is not None)
        for row in finder.top_slices_
    ][:10]  # Slicefinder returns every slice tied with the 10th
    scores = [s["slice_score"] for s in finder.top_slices_statistics_][:10]
    report_child({"seconds": seconds, "top": top, "scores": scores})


def child(engine: str, folder: Path) -> None:
    import pandas as pd

    from lumos.evaluate import find_slices
    from lumos.evaluate._slices import encode, row_losses

    data = pd.read_parquet(folder / "data.parquet")
    started = time.perf_counter()
    if engine == "load":  # the data alone: the baseline of the others' memory
        report_child({"seconds": 0.0})
        return
    if engine == "lumos":
        found = find_slices(data, "y", "p", FEATURES, max_order=3, min_support=0.01, top_k=10)
        top = found.table["slice"].tolist()
        extra = {"evaluated": found.evaluated, "lattice": found.lattice_size}
    else:  # every slice of the same lattice by groupby, ranked the same way
        losses = row_losses("log_loss", data["y"], data["p"])
        codes, labels = encode(data, FEATURES, 4)
        frame = pd.DataFrame(codes, columns=FEATURES).assign(loss=losses)
        n, total, min_size = len(frame), losses.sum(), int(np.ceil(0.01 * len(frame)))
        found = []
        for order in (1, 2, 3):
            for fs in itertools.combinations(range(len(FEATURES)), order):
                cols = [FEATURES[f] for f in fs]
                g = frame.groupby(cols, sort=False)["loss"].agg(["size", "sum"])
                g = g[g["size"] >= min_size]
                effect = g["sum"] / g["size"] - (total - g["sum"]) / (n - g["size"])
                for cell, value in effect.items():
                    cell = cell if isinstance(cell, tuple) else (cell,)
                    found.append((-value, tuple(fs), tuple(int(c) for c in cell)))
        found.sort()
        top = [
            " and ".join(labels[f][c] for f, c in zip(fs, cell, strict=True))
            for _, fs, cell in found[:10]
        ]
        extra = {"evaluated": len(found)}
    seconds = time.perf_counter() - started
    report_child({"seconds": seconds, "top": top, **extra})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "FOLDER"))
    args = parser.parse_args()
    if args.child:
        engine, folder = args.child
        if engine.startswith("make"):
            kind, rows = engine.split(":")
            (make_skewed if kind == "make_skewed" else make)(int(rows), Path(folder))
            report_child({})
        elif engine in ("lumos_sliceline", "sliceline"):
            child_sliceline(engine, Path(folder))
        else:
            child(engine, Path(folder))
        return
    n = 100_000 if args.quick else 1_000_000
    n_skewed = 20_000 if args.quick else 200_000
    here = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        run_child([here, "--child", f"make:{n}", tmp])
        run_child([here, "--child", f"make_skewed:{n_skewed}", tmp])
        _, loaded = run_child([here, "--child", "load", tmp])
        runs = {}
        for engine in ("lumos", "pandas", "lumos_sliceline", "sliceline"):
            out, rss = run_child([here, "--child", engine, tmp])
            out["peak_rss_mb"] = rss
            runs[engine] = out
            log(f"{engine}: {out['seconds']:.2f} s, peak {rss:,.0f} MB")
    same = runs["lumos"]["top"] == runs["pandas"]["top"]
    ours, theirs = runs["lumos_sliceline"], runs["sliceline"]
    agreement = len(set(ours["top"]) & set(theirs["top"]))
    log(f"SliceLine top-10: {agreement} in common; Lumos {ours['top']}; sliceline {theirs['top']}")
    mine = dict(zip(ours["top"], ours["scores"], strict=True))
    yours = dict(zip(theirs["top"], theirs["scores"], strict=True))
    score_gap = max((abs(mine[t] - yours[t]) for t in set(mine) & set(yours)), default=0.0)
    log(f"top-10 identical: {same}; first: {runs['lumos']['top'][0]}")
    emit(
        "slices",
        args.quick,
        [
            {
                "name": "slice_finder_seconds",
                "unit": "s",
                "lumos": runs["lumos"]["seconds"],
                "anchor": runs["pandas"]["seconds"],
                "anchor_name": "exhaustive pandas groupby over the same lattice, same ranking",
                "speedup": runs["pandas"]["seconds"] / runs["lumos"]["seconds"],
                "peak_rss_mb": runs["lumos"]["peak_rss_mb"],
                "top10_identical": int(same),
                "goal": {
                    "lumos": "<= 3",
                    "peak_rss_mb": "<= 500",
                    "speedup": ">= 2",
                    "top10_identical": "== 1",
                },
                "details": {
                    "rows": n,
                    "attributes": len(FEATURES),
                    "max_order": 3,
                    "min_support": 0.01,
                    "lumos_slices_evaluated": runs["lumos"]["evaluated"],
                    "lattice_size": runs["lumos"]["lattice"],
                    "anchor_slices_scored": runs["pandas"]["evaluated"],
                    "anchor_peak_rss_mb": runs["pandas"]["peak_rss_mb"],
                    "data_alone_peak_rss_mb": loaded,
                    "lumos_extra_mb": runs["lumos"]["peak_rss_mb"] - loaded,
                    "top10": runs["lumos"]["top"],
                },
            },
            {
                "name": "sliceline_score_top10",
                "unit": "s",
                "lumos": ours["seconds"],
                "anchor": theirs["seconds"],
                "anchor_name": f"sliceline {machine(['sliceline'])['packages']['sliceline']} "
                "Slicefinder(k=10, max_l=3, min_sup=0.01, alpha=0.6).fit",
                "speedup": theirs["seconds"] / ours["seconds"],
                "agreement": agreement,
                "same_order": int(ours["top"] == theirs["top"]),
                "goal": {"agreement": "== 10", "speedup": ">= 100"},
                "details": {
                    "rows": n_skewed,
                    "attributes": len(FEATURES),
                    "max_order": 3,
                    "min_support": 0.01,
                    "alpha": 0.6,
                    "lumos_slices_found": len(ours["top"]),
                    "anchor_slices_found": len(theirs["top"]),
                    "largest_score_gap": score_gap,
                    "lumos_slices_evaluated": ours["evaluated"],
                    "lumos_peak_rss_mb": ours["peak_rss_mb"],
                    "anchor_peak_rss_mb": theirs["peak_rss_mb"],
                    "top10": ours["top"],
                },
            },
        ],
        packages=(*PACKAGES, "sliceline"),
    )


if __name__ == "__main__":
    main()
