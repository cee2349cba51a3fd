"""Security: a fixed attack suite against a real `lumos serve` on loopback, and what the
access model costs.

The server serves the demo's parts (``lumos demo --no-serve --accounts 200``:
store and experiment, account scores, course titles, cohorts with every
first-pass ranker in process, the offer model, model health) with read,
decide and write keys, and a fresh event log. Then:

1. every protected route (pages, API reads, /metrics, /docs, /openapi.json,
   the offer decision, events) asked without a valid key or session — none,
   wrong, another scope's, the digest as the key, the key in the query string,
   forged and garbage session cookies, a read session on a route that decides
   or writes — and paths that try to slip past the guard, and bodies of
   100 MB declared; hostile ids, parameters and page tokens with the right key
   (:mod:`_attacks`);
2. hostile events posted with the write key; the server stopped and started
   again on the same log, which is read back (``EventLog.read`` and
   ``lumos report funnel``);
3. 10,000 requests with new ids (recommendations, cohorts, offers, insights):
   the server's resident memory before and after, and the sizes of its
   per-member tables (``lumos_held_entries``);
4. schemathesis over every operation of ``/openapi.json``, random valid and
   invalid parameters and bodies, without a key and with the key of each
   route's scope;
5. server CPU per recommendation request at a steady rate with read keys on,
   beside the same server with no keys at all (the anchor).

Counts of 5xx and of unauthenticated 2xx are findings; the requests behind
them go to ``details``.

Run: ``python benchmarks/security.py [--quick] [--demo FOLDER]``; one JSON object on the
last line (``--demo`` reuses a folder ``lumos demo --no-serve`` wrote).
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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
import _attacks
from _attacks import KEPT, KEYS, READ, Tally, access_attacks, post_events, request
from _common import emit, free_port, log, stop

from lumos.serve import hash_key
from lumos.serve._access import scope_of
from serve import cpu_seconds, load, start

PACKAGES = ("schemathesis", "hypothesis", "fastapi", "uvicorn", "starlette")
ROUNDS = 4  # of the CPU figure, alternating auth on and off


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_idle(pid: int, timeout: float = 300) -> float:
    """Wait until process ``pid`` uses under 2% of a core over half a second (its start-up
    work done); the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.01:
            break
    return time.perf_counter() - started


def held(port: int) -> dict:
    """The server's ``lumos_held_entries`` by table, from /metrics."""
    _, _, text = request(port, "GET", "/metrics", headers={"X-API-Key": READ})
    out = {}
    for line in text.decode().splitlines():
        if line.startswith("lumos_held_entries{"):
            out[line.split('table="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return out


class Demo:
    """The demo's folder and what the suite asks about: a member, an account, a cohort."""

    def __init__(self, folder: Path):
        self.folder = folder
        tried = json.loads((folder / "try.json").read_text())
        self.member, self.account, self.cohort = tried["member"], tried["account"], "groups"
        self.members = pd.read_parquet(folder / "learning" / "members.parquet")["member_id"]

    def serve_args(self, events: Path, keys: bool = True, pages: bool = True) -> list[str]:
        """``lumos serve`` over the demo's parts with a key per scope (``keys``); ``pages``:
        with the Offers and Model health pages' inputs, whose figures take a minute or two
        of CPU after start."""
        from lumos.demo._run import HEALTH_GROUPS

        d = self.folder
        args = ["-m", "lumos.cli", "serve", "--store", str(d / "store")]
        args += ["--experiments", str(d / "experiments.yaml"), "--experiment", "course_ranker"]
        args += ["--events", str(events), "--insights", str(d / "scores.parquet")]
        args += ["--courses", str(d / "learning" / "courses.parquet")]
        args += ["--cohorts", str(d / "cohorts" / "cohorts.yaml"), "--offers", str(d / "offers")]
        if pages:
            args += ["--offer-log", str(d / "offers_data" / "log_week_4")]
            args += ["--model", str(d / "model"), "--health", str(d / "course_health.parquet")]
            args += ["--health-groups", ",".join(HEALTH_GROUPS)]
        if keys:
            for scope, key in KEYS.items():
                args += [f"--{scope}-key-hash", hash_key(key)]
        return args


def build_demo(folder: Path, accounts: int) -> None:
    log(f"lumos demo --no-serve --accounts {accounts} into {folder}")
    command = [sys.executable, "-m", "lumos.cli", "demo", "--out", str(folder), "--no-serve"]
    subprocess.run([*command, "--accounts", str(accounts)], check=True, stdout=sys.stderr)


def read_back(folder: Path) -> tuple[set | None, str | None, str | None]:
    """The event ids ``EventLog.read`` gives back (None when it fails, with why), and why
    ``lumos report funnel`` could not read the log (None when it could)."""
    from lumos.events import EventLog

    try:
        with EventLog(folder, readonly=True) as events:
            ids, why = set(events.read()["event_id"]), None
    except Exception as exc:  # the finding: the log cannot be read back
        ids, why = None, f"{type(exc).__name__}: {str(exc)[:300]}"
    funnel = subprocess.run(
        [sys.executable, "-m", "lumos.cli", "report", "funnel", "--events", str(folder)],
        capture_output=True,
        text=True,
    )
    said = (funnel.stderr.strip().splitlines() or ["no message"])[-1][:300]
    return ids, why, said if funnel.returncode != 0 else None


def read_alone(folder: Path, ids: list[str], scratch: Path) -> int:
    """How many of ``ids`` a log holding only their lines (copied from ``folder``) does not
    read back: which events break the read, when the whole log cannot be read."""
    from lumos.events import EventLog

    want, lines = set(ids), []
    for segment in sorted(folder.glob("segment-*.jsonl")):
        for line in segment.read_bytes().splitlines():
            try:
                if json.loads(line).get("event_id") in want:
                    lines.append(line)
            except ValueError:
                continue
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    (scratch / "segment-00000001.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    try:
        with EventLog(scratch, readonly=True) as events:
            return len(want - set(events.read()["event_id"]))
    except Exception:
        return len(want)


def new_ids(port, pid, demo: Demo, tally: Tally, n: int) -> dict:
    """Phase 3: ``n`` requests, each with a new id, over 8 connections; RSS and held tables
    before and after."""
    kinds = [
        ("GET", "/v1/members/{}/recommendations", "read"),
        ("GET", "/v1/members/{}/cohorts", "read"),
        ("GET", "/v1/members/{}/cohorts/" + demo.cohort, "read"),
        ("POST", "/v1/members/{}/offer?channel=email", "decide"),
        ("GET", "/v1/accounts/{}/insights", "read"),
    ]
    local = threading.local()

    def one(i: int) -> None:
        method, template, scope = kinds[i % len(kinds)]
        path = template.format(f"new-{i:06d}-{'x' * (i % 40)}")
        for _ in range(2):
            if getattr(local, "conn", None) is None:
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                local.conn.request(method, path, headers={"X-API-Key": KEYS[scope]})
                got = local.conn.getresponse()
                answer = got.read()
                tally.note("new_ids", method, path, got.status, refused=False, answer=answer)
                return
            except (OSError, http.client.HTTPException):
                local.conn.close()
                local.conn = None
        tally.note("new_ids", method, path, 0, refused=False)

    with ThreadPoolExecutor(8) as pool:  # warm every route first: what stays is growth
        list(pool.map(one, range(n, n + 200)))
    before, held_before = rss_mb(pid), held(port)
    started, after_each = time.perf_counter(), {}
    for k, (method, template, _) in enumerate(kinds):  # a route at a time, RSS after each
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(k, n, len(kinds))))
        after_each[f"{method} {template}"] = rss_mb(pid)
    seconds = time.perf_counter() - started
    after, held_after = rss_mb(pid), held(port)
    return {
        "rss_mb_before": before,
        "rss_mb_after": after,
        "held_entries_before": held_before,
        "held_entries_after": held_after,
        "rss_mb_after_each_route": after_each,
        "requests": n,
        "seconds": seconds,
        "ids": "new-NNNNNN-x… (a new member or account id per request, 11 to 50 characters)",
    }


def fuzz(port: int, tally: Tally, examples: int) -> dict:
    """Phase 4: schemathesis over every operation of /openapi.json, positive and negative
    cases, without a key and with the key of each route's scope."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    _, _, text = request(port, "GET", "/openapi.json", headers={"X-API-Key": READ})
    schema = schemathesis.openapi.from_dict(json.loads(text))
    base = f"http://127.0.0.1:{port}"
    operations = [result.ok() for result in schema.get_all_operations()]
    unsent = Counter()

    def send(case, headers: dict, phase: str) -> None:
        try:
            got = case.call(base_url=base, headers=headers, timeout=60)
        except Exception as exc:  # the client would not send it
            unsent[f"client refused: {type(exc).__name__}"] += 1
            return
        url = getattr(got.request, "url", "") or ""
        needs = scope_of(case.method.upper(), unquote(urlsplit(url).path))  # as sent
        tally.note(
            phase,
            case.method.upper(),
            url.removeprefix(base),
            got.status_code,
            refused=needs is not None and not headers,
            what="" if headers else "no key",
            answer=got.content or b"",
        )

    def sender(headers: dict, phase: str):
        def check(case):  # hypothesis takes a plain function of the case
            send(case, headers, phase)

        return check

    for operation in operations:
        scope = scope_of(operation.method.upper(), operation.path)
        for keyed in (False, True) if scope else (False,):
            headers = {"X-API-Key": KEYS[scope]} if keyed else {}
            phase = "schemathesis_" + ("keyed" if keyed else "no_key")
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                check = given(case=operation.as_strategy(generation_mode=mode))(
                    sender(headers, phase)
                )
                check = settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck),
                )(check)
                try:
                    check()
                except Exception as exc:  # hypothesis gave up on an operation: say so, go on
                    unsent[f"{operation.label} {mode.value}: {type(exc).__name__}"] += 1
    return {
        "operations": [o.label for o in operations],
        "max_examples": examples,
        "modes": ["positive", "negative"],
        "not_sent": dict(unsent),
    }


def cpu_per_request(demo: Demo, work: Path, rate: float, seconds: float, tally: Tally) -> dict:
    """Phase 5: server CPU per recommendation request, read keys on beside no keys at all,
    alternating rounds so drift hits both."""
    ids = np.random.default_rng(0).choice(demo.members.to_numpy(), 5000)
    paths = work / "paths.txt"
    paths.write_text("\n".join(f"/v1/members/{m}/recommendations?count=10" for m in ids))
    servers = {}
    try:
        for name, keys in (("on", True), ("off", False)):
            port = free_port()
            served = demo.serve_args(work / f"events-{name}", keys, pages=False)
            servers[name] = (port, start(served, port))
        waited = {name: wait_idle(proc.pid) for name, (_, proc) in servers.items()}
        cpu, sent, runs = Counter(), Counter(), {"on": [], "off": []}
        for _ in range(ROUNDS):
            for name, (port, proc) in servers.items():
                header = f"X-API-Key: {READ}" if name == "on" else ""
                got = load(port, paths, rate, seconds / ROUNDS, proc.pid, header)
                cpu[name] += got["server_cpu_us_per_request"] * got["sent"] / 1000
                sent[name] += got["sent"]
                runs[name].append(got)
                tally.sent[f"cpu_{name}"] += got["sent"]
                tally.errors[f"cpu_{name}"] += got["server_errors"]
    finally:
        stop([proc for _, proc in servers.values()])
    return {
        "ms_per_request": {k: cpu[k] / sent[k] for k in cpu},
        "requests": dict(sent),
        "rate": rate,
        "rounds_alternating": ROUNDS,
        "servers": "the demo's parts without the Offers and Model health pages' inputs "
        "(--offer-log, --model, --health), whose figures are computed after start",
        "seconds_waited_for_idle_servers": waited,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, a smoke test")
    parser.add_argument("--demo", type=Path, help="a folder `lumos demo --no-serve` wrote")
    args = parser.parse_args()
    quick = args.quick
    work = Path(tempfile.mkdtemp(prefix="lumos-security-bench-"))
    accounts = 50 if quick else 200
    if args.demo is None:
        build_demo(work / "demo", accounts)
    demo = Demo(args.demo or work / "demo")
    tally, events = Tally(), work / "events"
    server_log = open(work / "server.log", "wb")
    port = free_port()
    server = start(demo.serve_args(events), port, stderr=server_log)
    try:
        log("phase 1: protected routes without a valid key, path tricks, hostile inputs")
        access = access_attacks(port, tally, demo.member, demo.account, demo.cohort)
        log("phase 2: hostile events, a restart, the log read back")
        hostile = post_events(port, tally, _attacks.hostile_events())
        controls = post_events(port, tally, _attacks.controls())
        stop([server])
        failed = []
        try:
            port = free_port()
            server = start(demo.serve_args(events), port, stderr=server_log)
        except RuntimeError as exc:
            failed.append(f"restart: {exc}")
            events = work / "events-after-failed-restart"
            server = start(demo.serve_args(events), port, stderr=server_log)
        ids, why, funnel = read_back(work / "events")
        log(f"  read back: {why or 'every line'}; lumos report funnel: {funnel or 'ok'}")
        if ids is None:
            failed.append(f"EventLog.read: {why}")
        if funnel is not None:
            failed.append(f"lumos report funnel: {funnel}")
        lost = {
            name: sum(i not in ids for i in case["ids"]) if ids is not None else len(case["ids"])
            for name, case in hostile.items()
        }
        alone = {
            name: read_alone(work / "events", case["ids"], work / "alone")
            for name, case in hostile.items()
            if case["ids"] and ids is None
        }
        controls_lost = sum(
            sum(i not in (ids or ()) for i in case["ids"]) for case in controls.values()
        )
        taken = {**hostile, **controls}
        cases = _attacks.hostile_events() + _attacks.controls()
        resent = post_events(port, tally, [c for c in cases if taken[c[0]]["ids"]])
        n = 2000 if quick else 10_000
        log(f"phase 3: {n:,} requests with new ids, once the server's start-up work is done")
        waited = wait_idle(server.pid)
        memory = new_ids(port, server.pid, demo, tally, n) | {"seconds_waited_for_idle": waited}
        log(f"  RSS {memory['rss_mb_before']:.0f} → {memory['rss_mb_after']:.0f} MB")
        examples = 5 if quick else 30
        log(f"phase 4: schemathesis, {examples} examples per operation, mode and key")
        fuzzed = fuzz(port, tally, examples)
        log(f"  sent {sum(v for k, v in tally.sent.items() if k.startswith('schemathesis'))}")
        alive = request(port, "GET", "/healthz")[0] == 200
        final_ids, final_why, _ = read_back(events)
    finally:
        stop([server])
        server_log.close()
    rate, seconds = (200, 5) if quick else (500, 10)
    log(f"phase 5: CPU per recommendation at {rate}/s, read keys on and off")
    cpu = cpu_per_request(demo, work, rate, seconds, tally)
    log(f"  {cpu['ms_per_request']}")
    tracebacks = [
        line
        for line in (work / "server.log").read_text(errors="replace").splitlines()
        if line and not line.startswith((" ", "Traceback", "During handling", "The above"))
    ][-KEPT:]
    per_case = {
        name: {k: v for k, v in case.items() if k != "ids"}
        | {
            "not_read_back": lost[name],
            "not_read_back_alone": alone.get(name),
            "accepted_again_after_restart": resent.get(name, {}).get("accepted"),
        }
        for name, case in hostile.items()
    }
    results = [
        {
            "name": "requests_sent",
            "unit": "requests",
            "lumos": sum(tally.sent.values()),
            "anchor": None,
            "anchor_name": "none (a count)",
            "details": {"by_phase": dict(tally.sent), "no_answer": dict(+tally.silent)},
        },
        {
            "name": "server_errors_5xx",
            "unit": "responses",
            "lumos": sum(tally.errors.values()),
            "anchor": None,
            "anchor_name": "none (a count)",
            "goal": {"lumos": "== 0"},
            "details": {
                "by_phase": dict(+tally.errors),
                "requests": tally.findings["server_errors"],
                "server_log_last_lines": tracebacks,
                "server_alive_after_the_suite": alive,
            },
        },
        {
            "name": "unauthenticated_2xx_on_protected",
            "unit": "responses",
            "lumos": sum(tally.open.values()),
            "anchor": None,
            "anchor_name": "none (a count)",
            "goal": {"lumos": "== 0"},
            "details": {
                "by_phase": dict(+tally.open),
                "requests": tally.findings["unauthenticated_2xx"],
                **access,
            },
        },
        {
            "name": "bad_inputs_accepted_unreadable",
            "unit": "events",
            "lumos": sum(lost.values()) + len(failed),
            "anchor": None,
            "anchor_name": "none (a count)",
            "goal": {"lumos": "== 0"},
            "details": {
                "failed_steps": failed,
                "cases": per_case,
                "controls": {
                    k: {
                        "status": v["status"],
                        "accepted": v["accepted"],
                        "accepted_again_after_restart": resent.get(k, {}).get("accepted"),
                    }
                    for k, v in controls.items()
                },
                "controls_not_read_back": controls_lost,
                "log_readable_after_the_whole_suite": final_ids is not None,
                "log_error_after_the_whole_suite": final_why,
                "count": "accepted hostile events whose event_id is not read back, plus one per "
                "failed step (restart, EventLog.read, lumos report funnel)",
                "not_read_back_alone": "when the whole log cannot be read: a log of that "
                "case's lines alone, read back (0: that case does not break the read)",
                "accepted_again_after_restart": "the accepted case sent again to the restarted "
                "server: events taken as new, not duplicates",
            },
        },
        {
            "name": "memory_growth_new_ids_mb",
            "unit": "MB",
            "lumos": memory["rss_mb_after"] - memory["rss_mb_before"],
            "anchor": None,
            "anchor_name": "none",
            "goal": {"lumos": "<= 50"},
            "details": memory,
        },
        {
            "name": "recommendations_cpu_per_request_auth",
            "unit": "ms CPU/request",
            "lumos": cpu["ms_per_request"]["on"],
            "anchor": cpu["ms_per_request"]["off"],
            "anchor_name": "the same server started with no keys",
            "ratio": cpu["ms_per_request"]["on"] / cpu["ms_per_request"]["off"],
            "goal": {"ratio": "<= 1.1"},
            "details": cpu,
        },
    ]
    results[0]["details"] |= {
        "demo": "lumos demo --no-serve" + ("" if args.demo else f" --accounts {accounts}"),
        "cohorts": "served, every first-pass ranker in process (the demo's cohorts.yaml)",
        "schemathesis": fuzzed,
    }
    shutil.rmtree(work, ignore_errors=True)
    emit("security", quick, results, packages=PACKAGES)


if __name__ == "__main__":
    main()
