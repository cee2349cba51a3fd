"""The SQLite engine beyond the shared contract (test_log_contract.py runs that on it too):
reopening keeps de-duplication, the storage bounds, two processes writing one file at once,
and a real full disk (a child process under ``RLIMIT_FSIZE``, ``SIGXFSZ`` ignored)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from test_events import event

import lumos
from lumos.errors import DataValidationError, LumosUserError
from lumos.events import (
    FIELDS,
    LIMITS,
    EventLog,
    LogUnavailable,
    SQLiteEventLog,
    open_event_log,
    read_events,
    served_lines,
)

ODD_IDS = ["café ☕", "back\\slash", 'a "quote"', "\U0001f600\x01\x00", "e" * LIMITS["id"]]


def test_targets_that_pick_sqlite(tmp_path):
    for target in (tmp_path / "a.db", str(tmp_path / "b.sqlite"), f"sqlite:///{tmp_path}/c"):
        with open_event_log(target) as log:
            assert isinstance(log, SQLiteEventLog)
    assert (tmp_path / "c" / "events.sqlite").is_file()  # a folder holds events.sqlite
    with open_event_log(tmp_path / "d") as log:
        assert isinstance(log, EventLog)  # JSON lines stay the default


def test_reopening_keeps_dedup_for_any_id_and_served_events_are_never_remembered(tmp_path):
    path = tmp_path / "events.sqlite"
    lines = served_lines("m1", [("s1", "t1", "c1", 0), ("s2", "t1", "c2", 1)], ts=1735787045)
    with SQLiteEventLog(path) as log:
        assert log.append([event(event_id=i) for i in ODD_IDS]) == len(ODD_IDS)
        assert log.append_served(lines) == 2
        assert log.append([event(9, event_id="s1", type="served")]) == 1  # minted ids: no check
    with SQLiteEventLog(path) as log:
        assert log.append([event(event_id=i) for i in ODD_IDS]) == 0
        assert log.append([event(event_id=i + "x") for i in ODD_IDS[:-1]]) == len(ODD_IDS) - 1
        assert log.append_served(lines) == 2 and len(log) == 2 * len(ODD_IDS) - 1 + 5
        got = log.read()
        assert got["event_id"].tolist()[: len(ODD_IDS)] == ODD_IDS
        assert got["type"].tolist()[len(ODD_IDS) :][:3] == ["served"] * 3
        with SQLiteEventLog(path, readonly=True) as reader:  # beside the writer
            pd.testing.assert_frame_equal(reader.read(), got)
            with pytest.raises(LumosUserError, match="opened read-only"):
                reader.append_served(lines)
    assert read_events(path)["event_id"].tolist() == got["event_id"].tolist()


def test_the_storage_bounds_hold_and_a_bad_batch_writes_nothing(tmp_path):
    edge = event(position=LIMITS["int"], value=-(2.0**63), item_id="\U0001f600 é\\\x01\x00")
    with SQLiteEventLog(tmp_path, skew=0.0, horizon=time.time() - 10) as log:
        with pytest.raises(DataValidationError, match="events 1, field 'ts'"):
            log.append([event(0, ts=time.time() - 1), event(1, ts=time.time() + 60)])
        assert len(log) == 0
    with SQLiteEventLog(tmp_path) as log:
        for bad in ({"position": 2**63}, {"item_id": "\ud800x"}, {"value": float("nan")}):
            with pytest.raises(DataValidationError):
                log.append([event(0), event(1, **bad)])
        assert len(log) == 0 and log.append([edge]) == 1
        got = log.read().iloc[0]
        assert got["position"] == 2**63 - 1 and got["item_id"] == edge["item_id"]
        with EventLog(tmp_path / "jsonl") as jsonl:  # the same frame as the disk log's
            jsonl.append([edge])
            pd.testing.assert_frame_equal(log.read(), jsonl.read())
            assert log.read().dtypes.equals(jsonl.read().dtypes)
        assert list(log.read(type="served").columns) == list(FIELDS)
        assert log.read(contains=b'"position":9223372036854775807')["event_id"].tolist() == ["e0"]


def _write(path: str, name: str, batches: int, out) -> None:
    """One of two processes writing at once: its own ids and ids both send."""
    accepted = 0
    with SQLiteEventLog(path, busy_timeout=60) as log:
        for b in range(batches):
            own = [event(event_id=f"{name}-{b}-{i}") for i in range(40)]
            shared = [event(event_id=f"both-{b}-{i}") for i in range(10)]
            accepted += log.append(own + shared)
    out.put(accepted)


def test_two_processes_write_at_once_with_no_loss_and_no_duplicate(tmp_path):
    path, batches = str(tmp_path / "events.sqlite"), 60
    SQLiteEventLog(path).close()  # the schema exists before both start
    fork = multiprocessing.get_context("fork")
    out = fork.Queue()
    workers = [fork.Process(target=_write, args=(path, n, batches, out)) for n in "ab"]
    for w in workers:
        w.start()
    counts = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    unique = 2 * 40 * batches + 10 * batches
    assert sum(counts) == unique  # each shared id was taken by exactly one process
    with SQLiteEventLog(path, readonly=True) as log:
        ids = log.read()["event_id"]
    assert len(ids) == unique and ids.is_unique
    assert {f"{n}-{b}-39" for n in "ab" for b in range(batches)} <= set(ids)


# argv: the database file, the batch size. One JSON object on stdout: what each step
# returned or raised, and the rows in the file after it (read by a second connection).
WRITER = textwrap.dedent("""
    import json, os, resource, signal, sqlite3, sys
    from lumos.events import SQLiteEventLog

    path, n = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def events(prefix, n):
        return [{"event_id": f"{prefix}{i}", "tracking_id": "t", "type": "impression",
                 "member_id": "m", "item_id": f"c{i}", "ts": 1735787045 + i} for i in range(n)]

    def rows():
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM events").fetchone()[0]

    def step(do):
        try:
            out = {"returned": do()}
        except Exception as exc:
            out = {"raised": type(exc).__name__, "code": getattr(exc, "code", None),
                   "message": str(exc)}
        return {**out, "rows": rows()}

    report = {}
    with SQLiteEventLog(path) as log:
        report["first"] = step(lambda: log.append(events("a", 5)))
        biggest = max(os.path.getsize(p) for p in (path, path + "-wal"))
        batch = events("b", n)
        resource.setrlimit(resource.RLIMIT_FSIZE, (biggest + 300, hard))  # the disk is full
        report["full"] = step(lambda: log.append(batch))
        report["still_full"] = step(lambda: log.append(batch))
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space is freed
        report["retry"] = step(lambda: log.append(batch))
        report["resent"] = step(lambda: log.append(batch))
        report["write_faults"] = log.write_faults
    print(json.dumps(report))
""")


@pytest.mark.parametrize("n", [20, 3000])
def test_a_batch_that_fills_the_disk_writes_nothing_and_is_taken_once_there_is_room(tmp_path, n):
    path = tmp_path / "events.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(lumos.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(n)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["first"] == {"returned": 5, "rows": 5}
    for step in (report["full"], report["still_full"]):
        assert step.get("raised") == "LogUnavailable", step
        assert step["code"] == "log_unavailable" and step["rows"] == 5  # nothing of the batch
        assert f"the batch of {n} events was not written" in step["message"]
    assert report["write_faults"] == 2
    assert report["retry"] == {"returned": n, "rows": 5 + n}  # no restart
    assert report["resent"] == {"returned": 0, "rows": 5 + n}  # now a duplicate
    with SQLiteEventLog(path) as log:
        ids = log.read()["event_id"].tolist()
    assert ids == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(n)]


def test_a_fault_rolls_back_and_other_errors_pass_through(tmp_path):
    with SQLiteEventLog(tmp_path) as log:
        log.append([event(0)])
        log._db.close()  # a programming error is not the disk's: it is not LogUnavailable
        with pytest.raises(sqlite3.ProgrammingError):
            log.append([event(1)])
        assert log.write_faults == 0 and log.closed
    with SQLiteEventLog(tmp_path) as log:  # a database SQLite will not write (as root too)
        log._db.execute("PRAGMA query_only=1")
        with pytest.raises(LogUnavailable, match="was not written") as err:
            log.append([event(1)])
        assert "readonly" in str(err.value) and log.write_faults == 1
        log._db.execute("PRAGMA query_only=0")  # writable again: the log goes on
        assert log.append([event(1)]) == 1 and len(log) == 2
