"""One event log folder written by several processes (``lumos serve --workers``): client
events written once across all of them, each worker's served events in a series of its
own, torn lines of a dead worker cut, and readers that see one log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_events import event

import lumos
from lumos.errors import LumosUserError
from lumos.events import EventLog, WorkerEventLog, open_event_log, served_lines

# argv: folder, the first id, how many; sends them in batches of 10 overlapping the other
# writer's, and served events of its own; prints what it wrote.
WRITER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[4])
    from test_events import event
    from lumos.events import WorkerEventLog, served_lines

    folder, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    log = WorkerEventLog(folder, follow=0)
    written = 0
    for start in range(first, first + n, 10):
        written += log.append([event(i) for i in range(start, start + 10)])
        item = (f"s-{log.name}-{start}", "t", f"c{start}", 0)
        log.append_served(served_lines("m", [item], ts=1735787045.0 + start))
    log.close()
    print(json.dumps({"name": log.name, "written": written}))
    """
)


def writers(folder: Path, ranges) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(Path(lumos.__file__).parents[1])}
    here = str(Path(__file__).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), str(a), str(n), here],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for a, n in ranges
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out.append(json.loads(stdout.splitlines()[-1]))
    return out


def test_two_processes_write_each_client_event_once(tmp_path):
    # ids 0-1999 and 1000-2999 at once: 1,000 ids sent by both
    done = writers(tmp_path, [(0, 2000), (1000, 2000)])
    assert sorted(d["name"] for d in done) == ["w0", "w1"]
    assert sum(d["written"] for d in done) == 3000  # each shared id acknowledged new once
    frame = open_event_log(tmp_path, readonly=True).read()
    told = frame[frame["type"] != "served"]
    assert told["event_id"].is_unique and len(told) == 3000
    assert (frame["type"] == "served").sum() == 400  # 200 batches each, 1 served event each
    assert frame["ts"].is_monotonic_increasing  # the series read as one log, in time
    names = sorted(p.name for p in tmp_path.glob("segment-*.jsonl"))
    assert names == [
        "segment-00000001.jsonl",
        "segment-w0-00000001.jsonl",
        "segment-w1-00000001.jsonl",
    ]
    with EventLog(tmp_path) as log:  # a lone writer afterwards knows every id
        assert len(log) == 3400 and log.append([event(5), event(3000)]) == 1


def test_a_worker_learns_what_the_others_were_sent(tmp_path):
    told = []
    with WorkerEventLog(tmp_path, on_others=told.extend, follow=0) as a:
        with WorkerEventLog(tmp_path, follow=0) as b:
            assert b.append([event(0, type="action", action="dismiss")]) == 1
            assert a.append([event(0), event(1)]) == 1  # e0 was written by b
            assert [e["event_id"] for e in told] == ["e0"] and told[0]["action"] == "dismiss"
            b.append([event(2)])
            a._mutex.acquire()  # as the follower thread does
            try:
                with a._holding(__import__("fcntl").LOCK_SH):
                    a._catch_up()
            finally:
                a._mutex.release()
            assert [e["event_id"] for e in told] == ["e0", "e2"]


def test_the_follower_thread_reads_the_others_events(tmp_path):
    import time

    told = []
    with WorkerEventLog(tmp_path, on_others=told.extend, follow=0.02) as a:
        with WorkerEventLog(tmp_path, follow=0) as b:
            b.append([event(7)])
            deadline = time.monotonic() + 5
            while not told and time.monotonic() < deadline:
                time.sleep(0.01)
        assert [e["event_id"] for e in told] == ["e7"]
        assert a.append([event(7)]) == 0


def test_a_torn_line_of_a_dead_worker_is_cut_by_the_next_batch(tmp_path):
    with WorkerEventLog(tmp_path, follow=0) as a:
        assert a.append([event(0)]) == 1
        with open(tmp_path / "segment-00000001.jsonl", "ab") as f:  # a batch cut short
            f.write(b'{"event_id":"e1","tracking_id":"t1","ty')
        assert a.append([event(2)]) == 1
    lines = (tmp_path / "segment-00000001.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == ["e0", "e2"]


def test_a_restarted_worker_takes_its_name_and_series_again(tmp_path):
    a = WorkerEventLog(tmp_path, follow=0)
    b = WorkerEventLog(tmp_path, follow=0)
    a.append_served(served_lines("m", [("s1", "t1", "c1", 0)], ts=1735787045.0))
    a.close()
    with WorkerEventLog(tmp_path, follow=0) as again:
        assert again.name == "w0"
        again.append_served(served_lines("m", [("s2", "t2", "c2", 0)], ts=1735787046.0))
    b.close()
    assert len((tmp_path / "segment-w0-00000001.jsonl").read_bytes().splitlines()) == 2


def test_workers_and_a_lone_writer_never_share_a_folder(tmp_path):
    with WorkerEventLog(tmp_path, follow=0):
        with pytest.raises(LumosUserError, match="one writer at a time") as err:
            EventLog(tmp_path)
        assert err.value.code == "locked"
    with EventLog(tmp_path):
        with pytest.raises(LumosUserError, match="does not share it") as err:
            WorkerEventLog(tmp_path, follow=0)
        assert err.value.code == "locked"


def test_the_log_own_series_rolls_over_across_workers(tmp_path):
    with WorkerEventLog(tmp_path, segment_bytes=300, follow=0) as a:
        with WorkerEventLog(tmp_path, segment_bytes=300, follow=0) as b:
            for i in range(0, 12, 2):
                assert a.append([event(i)]) == 1
                assert b.append([event(i + 1), event(i)]) == 1
    segments = sorted(tmp_path.glob("segment-0*.jsonl"))
    assert len(segments) > 2
    ids = [json.loads(line)["event_id"] for p in segments for line in p.read_bytes().splitlines()]
    assert ids == [f"e{i}" for i in range(12)]


def test_a_failed_batch_that_could_not_be_cut_back_is_cut_by_the_next_writer(tmp_path, monkeypatch):
    import errno

    from lumos.errors import LogUnavailable

    def fails(*args):
        raise OSError(errno.EIO, "Input/output error")

    with WorkerEventLog(tmp_path, follow=0) as a, WorkerEventLog(tmp_path, follow=0) as b:
        assert a.append([event(0)]) == 1
        monkeypatch.setattr(os, "fsync", fails)  # the batch reaches the file, is never synced,
        monkeypatch.setattr(os, "ftruncate", fails)  # and cannot be taken back at once
        with pytest.raises(LogUnavailable):
            a.append([event(1), event(2)])
        monkeypatch.undo()
        assert (tmp_path / "clients.cut").exists()
        assert b.append([event(1)]) == 1  # a's failed bytes are cut first, never taken as e1
        assert not (tmp_path / "clients.cut").exists()
        assert a.append([event(2), event(3), event(1)]) == 2
    lines = (tmp_path / "segment-00000001.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == ["e0", "e1", "e2", "e3"]
