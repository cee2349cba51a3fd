"""Serving: recommendation latency under open-loop load, the highest rate held, events, Redis.

`lumos serve` (uvicorn, one process, on loopback) serves a store of 20,000
members × 2 models × 50 courses with durable served events; an open-loop load
generator (:mod:`_load`, its own process) sends requests at a fixed rate
whatever the responses do and measures from each request's scheduled time.

1. 1,000 requests/s for 60 s on LMDB: p50/p99, errors, server CPU per request
   (from /proc of the server), beside a bare FastAPI endpoint returning the
   stored bytes at the same rate (the p99 ratio).
2. The highest rate whose p99 stays ≤ 25 ms (steps of 10 s), with one worker process
   and with ``--workers N`` (default 2), in the same run.
3. The same 1,000/s on a Redis store (a redis-server started here).
4. Events: acknowledged events per second through ``POST /v1/events``,
   batches of 100, fsync on.

Run: ``python benchmarks/serve.py [--quick]``; one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, free_port, log, run_child, start_redis, stop

from lumos.serve import hash_key
from lumos.store import COLD_START, LMDBStore, RedisStore, build_records

HERE = Path(__file__).parent
KEY = "bench-key"


def tables(members: int, k: int = 50, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ids = np.array([f"M{i:06d}" for i in range(members)], dtype=object)
    out = {}
    for model in ("glmix", "affinity"):
        courses = rng.integers(0, 5000, (members, k))
        out[model] = pd.DataFrame(
            {
                "member_id": np.repeat(ids, k),
                "course_id": [f"C{c:05d}" for c in courses.ravel()],
                "score": np.tile(np.linspace(1, 0, k), members),
                "reason": "skill",
                "reason_text": "Because of your skill 'Python'",
            }
        ).drop_duplicates(["member_id", "course_id"])
    out[COLD_START] = out["glmix"].head(k).assign(member_id=COLD_START)
    return out


def _wait(port: int, proc) -> None:
    for _ in range(1200):  # a large event log takes a moment to open
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited") from None
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def start(args: list[str], port: int, stderr=None):
    """``python ARGS --port PORT`` once it answers ``/healthz``; ``stderr`` (a file) takes
    what it says there."""
    proc = subprocess.Popen(
        [sys.executable, *args, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=stderr
    )
    try:
        _wait(port, proc)
    except RuntimeError:
        proc.kill()  # never leave a server behind
        raise
    return proc


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and the processes under it (a server's workers)."""
    total = 0.0
    for p in (pid, *descendants(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def highest_rate(
    port: int, paths_file: Path, step: float, pid: int, rates=None, limit_ms: float = 25
) -> tuple[int, list]:
    """The highest of ``rates`` (default :data:`RATES`) whose p99 stays ≤ ``limit_ms`` with
    no errors, and the steps tried."""
    held, steps = 0, []
    for rate in rates or RATES:
        r = load(port, paths_file, rate, step, pid)
        steps.append({"rate": rate, **r})
        log(f"  {rate}/s: p99 {r['p99_ms']:.1f} ms, errors {r['errors']}")
        if r["p99_ms"] > limit_ms or r["errors"]:
            break
        held = rate
    return held, steps


RATES = (1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 6000, 7000, 8000)


def load(
    port: int, paths_file: Path, rate: float, seconds: float, pid: int, header: str = ""
) -> dict:
    """:mod:`_load`'s figures at ``rate`` for ``seconds`` (``header``, ``"Name: value"``, sent
    with every request), and the server's CPU per request."""
    before = cpu_seconds(pid)
    args = [str(HERE / "_load.py"), str(paths_file), str(rate), str(seconds), str(port)]
    args += [header] if header else []
    result, _ = run_child(args)
    result["server_cpu_us_per_request"] = (cpu_seconds(pid) - before) / result["sent"] * 1e6
    return result


def events_rate(port: int, seconds: float, threads: int = 4) -> float:
    done, stop = [0] * threads, time.perf_counter() + seconds

    def client(t: int):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        b = 0
        while time.perf_counter() < stop:
            batch = [
                {
                    "event_id": f"{t}-{b}-{i}",
                    "tracking_id": "t",
                    "type": "impression",
                    "member_id": "M000001",
                    "item_id": "C00001",
                    "ts": 1735787045,
                }
                for i in range(100)
            ]
            conn.request(
                "POST",
                "/v1/events",
                json.dumps({"events": batch}),
                {"Content-Type": "application/json", "X-API-Key": KEY},
            )
            answer = json.loads(conn.getresponse().read())
            done[t] += answer["accepted"]
            b += 1
        conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke test")
    parser.add_argument("--workers", type=int, default=2, help="worker processes to compare")
    args = parser.parse_args()
    fixed = 5 if args.quick else 60
    step = 3 if args.quick else 10
    members = 2000 if args.quick else 20_000
    work = Path(tempfile.mkdtemp(prefix="lumos-serve-bench-"))
    records = build_records(tables(members))
    with LMDBStore(work / "store") as store:
        store.publish(records)
    ids = np.random.default_rng(1).choice(records.member_ids, 5000)
    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(f"/v1/members/{m}/recommendations?count=10" for m in ids))
    log(f"store: {members:,} members × 2 models × 50 courses in {work}")
    serve = [
        "-m",
        "lumos.cli",
        "serve",
        "--store",
        str(work / "store"),
        "--events",
        str(work / "events"),
        "--api-key-hash",
        hash_key(KEY),
        "--default-model",
        "glmix",
    ]
    results = []
    port = free_port()
    server = start(serve, port)
    try:
        lmdb = load(port, paths_file, 1000, fixed, server.pid)
        log(f"LMDB at 1,000/s for {fixed} s: {lmdb}")
        held, steps = highest_rate(port, paths_file, step, server.pid)
        events = events_rate(port, step)
        log(f"events: {events:,.0f} acknowledged/s (batches of 100, fsync on)")
    finally:
        stop([server])
    port = free_port()
    many = [*serve, "--workers", str(args.workers)]
    many[many.index(str(work / "events"))] = str(work / "events-workers")
    server = start(many, port)
    try:
        log(f"--workers {args.workers}:")
        held_n, steps_n = highest_rate(port, paths_file, step, server.pid)
        events_n = events_rate(port, step)
        log(f"events, --workers {args.workers}: {events_n:,.0f} acknowledged/s")
    finally:
        stop([server])
    port = free_port()
    bare = start([str(HERE / "_bare.py"), str(work / "store")], port)
    try:
        bare_r = load(port, paths_file, 1000, fixed, bare.pid)
        log(f"bare endpoint at 1,000/s: {bare_r}")
    finally:
        stop([bare])
    redis_proc, url = start_redis(work)
    redis_r = None
    if url is not None:
        try:
            with RedisStore(url) as store:
                store.publish(records)
            port = free_port()
            server = start([*serve[:3], "--store", url, *serve[5:]], port)
            try:
                redis_r = load(port, paths_file, 1000, fixed, server.pid)
                log(f"Redis at 1,000/s for {fixed} s: {redis_r}")
            finally:
                stop([server])
        finally:
            stop([redis_proc])
    details = {
        "members": members,
        "seconds": fixed,
        "count": 10,
        "server": "lumos serve, one uvicorn process, served events synced every 20 ms",
        "generator": "open loop, latency from the scheduled time",
    }
    results.append(
        {
            "name": "recommendations_p99_ms_at_1000_rps_lmdb",
            "unit": "ms",
            "lumos": lmdb["p99_ms"],
            "anchor": bare_r["p99_ms"],
            "anchor_name": "a bare FastAPI endpoint returning the stored bytes, same rate",
            "speedup": bare_r["p99_ms"] / lmdb["p99_ms"],
            "ratio": lmdb["p99_ms"] / bare_r["p99_ms"],
            "goal": {"lumos": "<= 10", "ratio": "<= 2"},
            "details": {
                **details,
                "p50_ms": lmdb["p50_ms"],
                "errors": lmdb["errors"],
                "server_cpu_us_per_request": lmdb["server_cpu_us_per_request"],
                "anchor_p50_ms": bare_r["p50_ms"],
                "anchor_cpu_us_per_request": bare_r["server_cpu_us_per_request"],
            },
        }
    )
    results.append(
        {
            "name": "highest_rate_with_p99_under_25ms",
            "unit": "requests/s",
            "lumos": held,
            "anchor": None,
            "anchor_name": "none (a ceiling)",
            "goal": {"lumos": ">= 2000"},
            "details": {"steps": steps, "step_seconds": step},
        }
    )
    results.append(
        {
            "name": "highest_rate_with_p99_under_25ms_workers",
            "unit": "requests/s",
            "lumos": held_n,
            "anchor": held,
            "anchor_name": "the same server with one worker process, same run",
            "speedup": held_n / held if held else None,
            "goal": {"speedup": ">= 1.5"},
            "details": {
                "workers": args.workers,
                "steps": steps_n,
                "step_seconds": step,
                "events_acknowledged_per_second": events_n,
                "cores": os.cpu_count(),
                "note": "server and load generator share the machine's cores",
            },
        }
    )
    if redis_r is not None:
        results.append(
            {
                "name": "recommendations_p99_ms_at_1000_rps_redis",
                "unit": "ms",
                "lumos": redis_r["p99_ms"],
                "anchor": lmdb["p99_ms"],
                "anchor_name": "the same on LMDB",
                "details": {**details, **redis_r},
            }
        )
    results.append(
        {
            "name": "events_acknowledged_per_second",
            "unit": "events/s",
            "lumos": events,
            "anchor": None,
            "anchor_name": "none",
            "goal": {"lumos": ">= 20000"},
            "details": {"batch": 100, "durability": "fsync before each answer", "clients": 4},
        }
    )
    shutil.rmtree(work, ignore_errors=True)
    emit("serve", args.quick, results)


if __name__ == "__main__":
    main()
