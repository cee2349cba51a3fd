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

Run: ``python benchmarks/slices.py [--quick]`` (quick: 100,000 rows).
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
from _common import emit, log, report_child, run_child

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
            make(int(engine.split(":")[1]), Path(folder))
            report_child({})
        else:
            child(engine, Path(folder))
        return
    n = 100_000 if args.quick else 1_000_000
    here = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        run_child([here, "--child", f"make:{n}", tmp])
        _, loaded = run_child([here, "--child", "load", tmp])
        runs = {}
        for engine in ("lumos", "pandas"):
            out, rss = run_child([here, "--child", engine, tmp])
            out["peak_rss_mb"] = rss
            runs[engine] = out
            log(
                f"{engine}: {out['seconds']:.2f} s, peak {rss:,.0f} MB, {out['evaluated']:,} slices"
            )
    same = runs["lumos"]["top"] == runs["pandas"]["top"]
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
            }
        ],
    )


if __name__ == "__main__":
    main()
