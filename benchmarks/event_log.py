"""The embedded event log: SQLite in WAL mode beside the JSON-lines segments, for choosing.

Lumos is :class:`~lumos.events.SQLiteEventLog`, the anchor the JSON-lines
:class:`~lumos.events.EventLog`, on the same events, disk and machine in one run:

- events acknowledged per second, batches of 100 validated events, a sync per batch
  (``fsync=True``: ``synchronous=FULL`` for SQLite), from one process and from two
  processes writing at once (SQLite: one file; JSON lines allow one writer per folder,
  so each process writes its own folder);
- rows read back per second with ``read()`` from a log of 300,000 events;
- a full disk (a child process under ``RLIMIT_FSIZE``): events lost or duplicated
  after a batch refused and sent again once there is room.

A measurement, no goals. ``--quick`` shrinks the sizes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import emit, log

import lumos
from lumos.events import EventLog, SQLiteEventLog, new_ids, validate_event

TS = 1735787045
ENGINES = {"sqlite": SQLiteEventLog, "jsonl": EventLog}
ANCHOR = "Lumos EventLog (JSON-lines segments, fsync per batch)"


def events(ids: list[str]) -> list[dict]:
    return [
        {
            "event_id": e,
            "tracking_id": e[:16],
            "type": "action" if k % 10 == 0 else "impression",
            "action": "click" if k % 10 == 0 else None,
            "member_id": f"m{k % 5000}",
            "item_id": f"c{k % 700}",
            "item_type": "course",
            "channel": "homepage",
            "position": k % 10,
            "ts": TS + k,
        }
        for k, e in enumerate(ids)
    ]


def batches(n: int, size: int = 100) -> list[list[dict]]:
    every = events(new_ids(n))
    return [every[i : i + size] for i in range(0, n, size)]


def target(engine: str, folder: Path) -> Path:
    return folder / "events.sqlite" if engine == "sqlite" else folder


def write(engine, where: Path, work: list[list[dict]], fsync=True, validate=True) -> float:
    """Seconds to append every batch of ``work`` (each acknowledged before the next)."""
    with ENGINES[engine](where, fsync=fsync) as sink:
        started = time.perf_counter()
        taken = sum(sink.append(b, validate=validate) for b in work)
        seconds = time.perf_counter() - started
    assert taken == sum(map(len, work)), (engine, taken)
    return seconds


def _writer(engine, where, n, barrier, out):
    work = batches(n)
    with ENGINES[engine](where, busy_timeout=120) if engine == "sqlite" else EventLog(where) as s:
        barrier.wait()
        started = time.perf_counter()
        for b in work:
            s.append(b)
        out.put((started, time.perf_counter()))


def write_two(engine: str, root: Path, n: int) -> float:
    """Events/s of two processes writing ``n`` events each at once (wall clock of both)."""
    fork = multiprocessing.get_context("fork")
    barrier, out = fork.Barrier(2), fork.Queue()
    if engine == "sqlite":
        places = [root / "events.sqlite"] * 2
        SQLiteEventLog(places[0]).close()
    else:
        places = [root / "writer-a", root / "writer-b"]  # one writer per folder
    procs = [fork.Process(target=_writer, args=(engine, p, n, barrier, out)) for p in places]
    for p in procs:
        p.start()
    spans = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0
    with ENGINES[engine](places[0], readonly=True) as check:
        assert len(check) == n * (1 if engine == "jsonl" else 2)
    return 2 * n / (max(e for _, e in spans) - min(s for s, _ in spans))


def read_rate(engine: str, folder: Path, n: int) -> tuple[float, float]:
    """Rows/s of ``read()`` of ``n`` events, and of ``read(type="action")`` (a tenth)."""
    write(engine, target(engine, folder), batches(n, 1000), fsync=False)
    with ENGINES[engine](target(engine, folder), readonly=True) as reader:
        reader.read()  # warm the page cache alike
        started = time.perf_counter()
        rows = len(reader.read())
        whole = time.perf_counter() - started
        started = time.perf_counter()
        actions = len(reader.read(type="action"))
        part = time.perf_counter() - started
    assert rows == n and actions == n // 10
    return rows / whole, n / part


FULL = textwrap.dedent("""
    import json, os, resource, signal, sys
    sys.path.insert(0, sys.argv[3])
    from event_log import ENGINES, events
    engine, where = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    sent = events([f"a{i}" for i in range(50)])
    batch = events([f"b{i}" for i in range(100)])
    faults = 0
    with ENGINES[engine](where) as sink:
        sink.append(sent)
        biggest = max(os.path.getsize(os.path.join(d, f))
                      for d, _, fs in os.walk(os.path.dirname(where) if engine == "sqlite"
                                              else where) for f in fs)
        resource.setrlimit(resource.RLIMIT_FSIZE, (biggest + 300, hard))
        for _ in range(2):
            try:
                sink.append(batch)
            except Exception as exc:
                faults += type(exc).__name__ == "LogUnavailable"
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        retried = sink.append(batch)
        resent = sink.append(batch)
    with ENGINES[engine](where, readonly=True) as reader:
        ids = reader.read()["event_id"].tolist()
    want = [e["event_id"] for e in sent + batch]
    print(json.dumps({"refused": faults, "retry_taken": retried, "resend_taken": resent,
                      "lost": len(set(want) - set(ids)), "duplicated": len(ids) - len(set(ids)),
                      "extra": len(set(ids) - set(want))}))
""")


def full_disk(engine: str, folder: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(lumos.__file__).parents[1])}
    where = str(target(engine, folder))
    done = subprocess.run(
        [sys.executable, "-c", FULL, engine, where, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--dir", default=None, help="where the logs are written (a temp dir)")
    quick = parser.parse_args().quick
    root = Path(tempfile.mkdtemp(prefix="lumos-event-log-", dir=parser.parse_args().dir))
    n_write, n_two, n_read = (20_000, 10_000, 50_000) if quick else (100_000, 50_000, 300_000)
    places = iter(range(100))
    fresh = lambda: root / f"run-{next(places)}"  # noqa: E731
    results = []
    try:
        work = batches(n_write)
        one = {}
        for engine in ENGINES:
            one[engine] = n_write / write(engine, target(engine, fresh()), work)
            log(f"{engine}: one process {one[engine]:,.0f} events/s")
        ready = [[validate_event(e) for e in b] for b in work]  # the engine alone
        bare = {e: n_write / write(e, target(e, fresh()), ready, validate=False) for e in ENGINES}
        log(f"pre-validated (validate=False): {bare}")
        results.append(
            {
                "name": "append_events_per_s_one_process",
                "unit": "events/s",
                "lumos": one["sqlite"],
                "anchor": one["jsonl"],
                "anchor_name": ANCHOR,
                "speedup": one["sqlite"] / one["jsonl"],
                "details": {
                    "events": n_write,
                    "batch": 100,
                    "validated": True,
                    "sync": "per batch",
                    "prevalidated_events_per_s": {"lumos": bare["sqlite"], "anchor": bare["jsonl"]},
                },
            }
        )
        two = {}
        for engine in ENGINES:
            two[engine] = write_two(engine, fresh(), n_two)
            log(f"{engine}: two processes {two[engine]:,.0f} events/s")
        results.append(
            {
                "name": "append_events_per_s_two_processes",
                "unit": "events/s",
                "lumos": two["sqlite"],
                "anchor": two["jsonl"],
                "anchor_name": ANCHOR + ", each process its own folder (one writer per folder)",
                "speedup": two["sqlite"] / two["jsonl"],
                "details": {
                    "events_per_process": n_two,
                    "batch": 100,
                    "lumos_layout": "both processes in one SQLite file",
                    "anchor_layout": "one folder per process: two logs, no shared de-duplication",
                },
            }
        )
        read = {engine: read_rate(engine, fresh(), n_read) for engine in ENGINES}
        for engine, (whole, part) in read.items():
            log(f"{engine}: read {whole:,.0f} rows/s, read(type='action') {part:,.0f} events/s")
        for k, (name, note) in enumerate(
            [
                ("read_rows_per_s", "read() of every event"),
                ("read_filtered_events_per_s", "read(type='action'): a tenth kept; log events/s"),
            ]
        ):
            results.append(
                {
                    "name": name,
                    "unit": "rows/s" if k == 0 else "events/s",
                    "lumos": read["sqlite"][k],
                    "anchor": read["jsonl"][k],
                    "anchor_name": ANCHOR,
                    "speedup": read["sqlite"][k] / read["jsonl"][k],
                    "details": {"events": n_read, "what": note},
                }
            )
        faults = {engine: full_disk(engine, fresh()) for engine in ENGINES}
        log(f"full disk: {faults}")
        results.append(
            {
                "name": "full_disk_events_lost_or_duplicated",
                "unit": "events",
                "lumos": faults["sqlite"]["lost"] + faults["sqlite"]["duplicated"],
                "anchor": faults["jsonl"]["lost"] + faults["jsonl"]["duplicated"],
                "anchor_name": ANCHOR,
                "details": {
                    "steps": "50 events; a batch of 100 refused twice under RLIMIT_FSIZE; "
                    "sent again with room, then once more",
                    "lumos": faults["sqlite"],
                    "anchor": faults["jsonl"],
                },
            }
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    packages = ("numpy", "pandas", "pyarrow")
    for r in results:
        r.setdefault("details", {})["sqlite"] = sqlite3.sqlite_version
    log(f"pyarrow {importlib.metadata.version('pyarrow')}, SQLite {sqlite3.sqlite_version}")
    emit("event_log", quick, results, packages=packages)


if __name__ == "__main__":
    main()
