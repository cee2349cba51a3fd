"""The online store: compact record size, publish records/s (LMDB, Redis), get latency.

Anchor: one JSON record per (member, model) under its own key, the layout the
compact record replaces, published into the same backend in the same run.
Demo data: course recommendations of the learning demo, re-ranked by 5 noisy
scorers (5 models over the same candidates), 50 items per model.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import sys
import tempfile

import numpy as np
from _common import emit, latencies_us, log, start_redis, stop, timed

from lumos.data.demo import learning
from lumos.recommend import CourseRecommender
from lumos.store import LMDBStore, RedisStore, build_records, record_sizes
from lumos.store._sizes import per_pair_json


def demo_tables(n_members: int, n_models: int = 5, k: int = 50, seed: int = 0) -> dict:
    book = learning(n_members, 300, days=30, random_state=seed)
    top = CourseRecommender(as_of=book.end, top_k=k + 10).fit(book.tables).recommend()
    rng = np.random.default_rng(seed)
    tables = {}
    for j in range(n_models):
        t = top.assign(score=top["score"] + rng.normal(0, 0.05, len(top)))
        t = t.sort_values(["member_id", "score"], ascending=[True, False])
        t["rank"] = t.groupby("member_id").cumcount() + 1
        tables[f"m{101 + j}"] = t[t["rank"] <= k].reset_index(drop=True)
    return tables


def naive_publish_lmdb(path, keys, values):
    import lmdb

    env = lmdb.open(path, map_size=2**36)
    with env.begin(write=True) as txn:
        txn.cursor().putmulti(sorted(zip([k.encode() for k in keys], values, strict=True)))
    env.close()


def naive_publish_redis(url, keys, values):
    import redis

    r = redis.Redis.from_url(url)
    pipe = r.pipeline(transaction=False)
    for start in range(0, len(keys), 5000):
        pipe.mset(dict(zip(keys[start : start + 5000], values[start : start + 5000], strict=True)))
    pipe.execute()
    r.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    n = 1000 if quick else 20_000
    log(f"demo recommendations for {n} members, 5 models × 50 items")
    tables = demo_tables(n)
    sizes = record_sizes(tables)
    log(f"sizes {sizes}")
    build_s, records = timed(lambda: build_records(tables, version="v1"))
    naive_build_s, (keys, values) = timed(lambda: per_pair_json(tables))
    m = len(records)
    results = [
        {
            "name": "record_bytes_per_member",
            "unit": "bytes",
            "lumos": sizes["compact_bytes"] / m,
            "anchor": sizes["per_pair_json_bytes"] / m,
            "anchor_name": "one JSON record per (member, model)",
            "ratio": sizes["json_ratio"],
            "goal": {"ratio": ">= 2.5"},
            "details": {
                "members": m,
                "models": 5,
                "items_per_model": 50,
                "per_pair_compact_bytes_per_member": sizes["per_pair_compact_bytes"] / m,
                "ratio_same_codec": sizes["compact_ratio"],
            },
        },
        {
            "name": "build_records_per_s",
            "unit": "records/s",
            "lumos": m / build_s,
            "anchor": m / naive_build_s,
            "anchor_name": "json.dumps per (member, model), per member",
            "speedup": naive_build_s / build_s,
        },
    ]
    work = tempfile.mkdtemp()
    redis_proc, url = start_redis(work)
    rng = np.random.default_rng(0)
    try:
        for kind in ["lmdb"] + (["redis"] if url else []):
            if kind == "lmdb":
                store = LMDBStore(f"{work}/lmdb")
                naive_s, _ = timed(lambda: naive_publish_lmdb(f"{work}/naive", keys, values))
            else:
                store = RedisStore(url, prefix="bench")
                naive_s, _ = timed(lambda: naive_publish_redis(url, keys, values))
            publish_s, _ = timed(lambda s=store: s.publish(records))
            log(f"{kind}: publish {m / publish_s:,.0f} records/s, naive {m / naive_s:,.0f}/s")
            picks = rng.choice(records.member_ids, 2000 if quick else 20_000)
            p50, p99 = latencies_us(lambda i, s=store, p=picks: s.get(str(p[i])), len(picks))
            results.append(
                {
                    "name": f"publish_{kind}_records_per_s",
                    "unit": "records/s",
                    "lumos": m / publish_s,
                    "anchor": m / naive_s,
                    "anchor_name": f"one JSON key per (member, model) into {kind}, 5 per record",
                    "speedup": naive_s / publish_s,
                    "goal": {"lumos": ">= 50000"} if kind == "lmdb" else {"lumos": ">= 20000"},
                    "details": {
                        "members": m,
                        "build_and_publish_records_per_s": m / (build_s + publish_s),
                        "naive_build_and_publish_records_per_s": m / (naive_build_s + naive_s),
                    },
                }
            )
            results.append(
                {
                    "name": f"get_{kind}_latency",
                    "unit": "µs",
                    "lumos": p50,
                    "details": {"p50_us": p50, "p99_us": p99, "decoded": True},
                }
            )
            store.close()
    finally:
        if redis_proc is not None:
            stop([redis_proc])
        shutil.rmtree(work, ignore_errors=True)
    for name in ("lmdb", "redis"):
        log(f"{name} {importlib.metadata.version(name)}")
    emit("store", quick, results)


if __name__ == "__main__":
    sys.exit(main())
