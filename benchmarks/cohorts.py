"""Cohorts: a page's latency beside its slowest first-pass ranker, a ranker timing out, the rate.

`lumos serve --cohorts` (one uvicorn process, on loopback) serves
``GET /v1/members/{id}/cohorts?max_items=5`` over the social demo tables of
20,000 members; five first-pass rankers (FPRs) each run as their own
``lumos cohorts fpr-service`` process whose downstream waits a random
20–40 ms per request, and the mid-tier fetches all five over HTTP
concurrently. An open-loop load generator (:mod:`_load`, its own process)
sends requests at a fixed rate and measures from each request's scheduled time.

1. 100 pages/s for 30 s: the page's p99 beside the slowest FPR's own p99
   (each downstream driven directly at the same rate, one after the other).
2. One FPR timing out: its downstream waits 300–400 ms and its cohort's
   timeout is 100 ms; 50 pages/s for 20 s, the page's p99 beside the timeout,
   and whether the cohort is in the page's ``left_out``.
3. The highest page rate whose p99 stays ≤ 100 ms with no errors (steps of
   10 s), with one server process and with ``--workers N`` (default 2). It runs
   right after 1, on the same downstreams (five 20–40 ms), before 2 restarts them.

Run: ``python benchmarks/cohorts.py [--quick]``; one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, free_port, log, stop

from lumos.cohorts import write_demo_configs
from lumos.data.demo import social
from lumos.store import COLD_START, LMDBStore, build_records
from serve import highest_rate, load, start

MEMBERS = 20_000
FPRS = ("groups", "events", "newsletters", "hashtags", "pymk_region")
SLOW = "hashtags"  # the cohort whose downstream times out in part 3
TIMEOUT_MS = 100
PAGE = "/v1/members/{m}/cohorts?max_items=5"


def fpr_service(downstream: Path, cohort: str, delay: str, procs: list) -> tuple[int, int]:
    """One ``lumos cohorts fpr-service`` process: (port, pid)."""
    port = free_port()
    args = ["-m", "lumos.cli", "cohorts", "fpr-service", "--config", str(downstream)]
    proc = start([*args, "--cohort", cohort, "--delay-ms", delay], port)
    procs.append(proc)
    return port, proc.pid


def write_config(work: Path, data: Path, ports: dict, timeouts: dict | None = None) -> Path:
    """``cohorts.yaml`` fetching exactly ``ports``' cohorts over HTTP, only those in the order."""
    rest = {cid: f"http://127.0.0.1:{port}/v1/recommendations" for cid, port in ports.items()}
    config, _ = write_demo_configs(work, data=data, store=None, rest=rest)
    raw = yaml.safe_load(config.read_text())
    raw["ranking"]["order"] = list(ports)
    for cid, ms in (timeouts or {}).items():
        raw["cohorts"][cid]["timeout_ms"] = ms
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    return config


def page(port: int, member_id: str) -> dict:
    url = f"http://127.0.0.1:{port}" + PAGE.format(m=member_id)
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def warm(port: int, members) -> None:
    """A few pages first: the mid-tier's HTTP client and first-request work are not measured."""
    for m in members[:20]:
        page(port, m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke test")
    parser.add_argument("--workers", type=int, default=2, help="server processes of part 3")
    args = parser.parse_args()
    fixed = 5 if args.quick else 30
    timing_out = 5 if args.quick else 20
    step = 3 if args.quick else 10
    work = Path(tempfile.mkdtemp(prefix="lumos-cohorts-bench-"))
    data = work / "social"
    data.mkdir()
    for name, table in social(MEMBERS, random_state=0).tables.items():
        table.to_parquet(data / f"{name}.parquet", index=False)
    records = build_records(
        {"glmix": pd.DataFrame({"member_id": [COLD_START], "course_id": ["C1"], "score": [1.0]})}
    )
    with LMDBStore(work / "store") as store:
        store.publish(records)
    members = [f"U{i:06d}" for i in np.random.default_rng(1).integers(1, MEMBERS + 1, 5000)]
    page_paths, fpr_paths = work / "pages.txt", work / "fpr.txt"
    page_paths.write_text("\n".join(PAGE.format(m=m) for m in members))
    # the request the mid-tier sends for a page of max_items=5
    fpr_paths.write_text("\n".join(f"/v1/recommendations?member_id={m}&count=5" for m in members))
    # downstream.yaml (what the fpr-services read) does not depend on the URLs
    _, downstream = write_demo_configs(
        work, data=data, store=None, rest={cid: "http://unused" for cid in FPRS}
    )
    log(f"social tables of {MEMBERS:,} members in {data}")

    def midtier(config: Path, workers: int = 1):
        """``lumos serve --cohorts config --workers workers``: (process, port)."""
        port = free_port()
        args = ["-m", "lumos.cli", "serve", "--store", str(work / "store")]
        args += ["--cohorts", str(config), "--events", str(work / f"events-{port}")]
        proc = start([*args, "--workers", str(workers)], port)
        procs.append(proc)
        return proc, port

    procs: list = []
    try:
        # -- 1 and 3: five FPRs whose downstreams take 20–40 ms
        fprs = {cid: fpr_service(downstream, cid, "20-40", procs) for cid in FPRS}
        log(f"five fpr-services (20–40 ms) on ports {[p for p, _ in fprs.values()]}")
        config = write_config(work, data, {cid: port for cid, (port, _) in fprs.items()})
        server, port = midtier(config)
        warm(port, members)
        load(port, page_paths, 100, 3 if args.quick else 5, server.pid)  # warm, not measured
        first = page(port, members[0])
        log(f"a page: {[c['cohort_id'] for c in first['cohorts']]}, left out {first['left_out']}")
        page_r = load(port, page_paths, 100, fixed, server.pid)
        log(f"page at 100/s for {fixed} s: {page_r}")
        fpr_r = {}
        for cid, (fport, fpid) in fprs.items():
            fpr_r[cid] = load(fport, fpr_paths, 100, fixed, fpid)
            log(f"  {cid} directly at 100/s: {fpr_r[cid]}")
        slowest = max(fpr_r, key=lambda c: fpr_r[c]["p99_ms"])
        rates = (100, 150, 200, 250, 300, 350, 400, 500)
        log("pages, one server process:")
        held, steps = highest_rate(port, page_paths, step, server.pid, rates, limit_ms=100)
        stop([procs.pop(procs.index(server))])
        server, port = midtier(config, args.workers)
        warm(port, members)
        load(port, page_paths, 100, 3 if args.quick else 5, server.pid)  # warm, not measured
        log(f"pages, --workers {args.workers}:")
        held_n, steps_n = highest_rate(port, page_paths, step, server.pid, rates, limit_ms=100)
        stop(procs)

        # -- 2: one FPR's downstream takes 300–400 ms, its cohort's timeout is 100 ms
        fprs = {
            cid: fpr_service(downstream, cid, "300-400" if cid == SLOW else "20-40", procs)
            for cid in FPRS
        }
        config = write_config(
            work, data, {cid: port for cid, (port, _) in fprs.items()}, {SLOW: TIMEOUT_MS}
        )
        server, port = midtier(config)
        warm(port, members)
        one = page(port, members[1])
        log(f"with {SLOW} timing out: a page left out {one['left_out']}")
        slow_r = load(port, page_paths, 50, timing_out, server.pid)
        log(f"page at 50/s for {timing_out} s with {SLOW} timing out: {slow_r}")
    finally:
        stop(procs)
        shutil.rmtree(work, ignore_errors=True)

    details = {
        "members": MEMBERS,
        "cohorts": list(FPRS),
        "max_items": 5,
        "server": "lumos serve --cohorts, one uvicorn process, served events synced every 20 ms",
        "downstreams": "one `lumos cohorts fpr-service --delay-ms 20-40` process per cohort, "
        "fetched over HTTP on loopback",
        "generator": "open loop, latency from the scheduled time",
        "same_machine": f"the downstream services run on the same {os.cpu_count()} cores "
        "as the server and the load generator",
        "warmup": "20 pages, then 5 s at 100/s (part 1), before measuring",
    }
    results = [
        {
            "name": "cohort_page_p99_over_slowest_fpr_p99",
            "unit": "ms",
            "lumos": page_r["p99_ms"],
            "anchor": fpr_r[slowest]["p99_ms"],
            "anchor_name": f"the slowest FPR's own p99 ({slowest}), its downstream driven "
            "directly at the same rate",
            "ratio": page_r["p99_ms"] / fpr_r[slowest]["p99_ms"],
            "goal": {"ratio": "<= 1.3"},
            "details": {
                **details,
                "rate": 100,
                "seconds": fixed,
                "p50_ms": page_r["p50_ms"],
                "errors": page_r["errors"],
                "server_cpu_us_per_request": page_r["server_cpu_us_per_request"],
                "fprs": {
                    cid: {k: r[k] for k in ("p50_ms", "p99_ms", "errors")}
                    for cid, r in fpr_r.items()
                },
            },
        },
        {
            "name": "cohort_page_ms_with_one_fpr_timing_out",
            "unit": "ms",
            "lumos": slow_r["p99_ms"],
            "anchor": TIMEOUT_MS,
            "anchor_name": f"the timing-out cohort's timeout_ms ({SLOW}, downstream 300–400 ms)",
            "margin": slow_r["p99_ms"] - TIMEOUT_MS,
            "goal": {"margin": "<= 10"},
            "details": {
                **details,
                "rate": 50,
                "seconds": timing_out,
                "timing_out": SLOW,
                "p50_ms": slow_r["p50_ms"],
                "errors": slow_r["errors"],
                "left_out": one["left_out"],
                "timing_out_in_left_out": SLOW in one["left_out"],
                "cohorts_shown": [c["cohort_id"] for c in one["cohorts"]],
            },
        },
        {
            "name": "cohort_pages_per_second_at_p99_100ms",
            "unit": "pages/s",
            "lumos": held_n,
            "anchor": held,
            "anchor_name": "the same server with one process, same run",
            "speedup": held_n / held if held else None,
            "goal": {"lumos": ">= 300"},
            "details": {
                **details,
                "server": f"lumos serve --cohorts --workers {args.workers}",
                "workers": args.workers,
                "steps": steps_n,
                "anchor_steps": steps,
                "step_seconds": step,
                "limit": "p99 <= 100 ms and no errors",
            },
        },
    ]
    emit("cohorts", args.quick, results)


if __name__ == "__main__":
    main()
