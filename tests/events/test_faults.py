"""The disk log under disk faults: a batch that fails leaves the log as it was, is reported with
``LogUnavailable``, and is taken whole once the disk has room again — no restart.

A full disk is real: the writer runs in a child process whose file-size limit
(``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so a write fails with ``EFBIG``) is set
just past the log's last acknowledged byte, so the next batch fills "the disk" mid-batch.
Faults no test can cause for real (``fsync`` failing, a segment that cannot be created,
as root) are mocked.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_events import event

import lumos
from lumos.errors import LumosError
from lumos.events import EventLog, LogUnavailable, _series

SEGMENT = "segment-00000001.jsonl"

# argv: folder, "events" or "served", the size of the batch that fills the disk. One JSON
# object on stdout: what each step returned or raised, and the segment's size after it.
WRITER = textwrap.dedent("""
    import json, os, resource, signal, sys
    from lumos.events import EventLog, served_lines

    folder, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    segment = os.path.join(folder, "segment-00000001.jsonl")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises EFBIG
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def events(prefix, n):
        return [{"event_id": f"{prefix}{i}", "tracking_id": "t", "type": "impression",
                 "member_id": "m", "item_id": f"c{i}", "ts": 1735787045 + i} for i in range(n)]

    def served(prefix, n):
        rows = [(f"{prefix}{i}", "t", f"c{i}", i) for i in range(n)]
        return served_lines("m", rows, ts=1735787045)

    def step(do):
        try:
            out = {"returned": do()}
        except Exception as exc:
            cause = exc.__cause__
            out = {"raised": type(exc).__name__, "code": getattr(exc, "code", None),
                   "retry_after": getattr(exc, "retry_after", None), "message": str(exc),
                   "errno": getattr(cause, "errno", getattr(exc, "errno", None))}
        return {**out, "size": os.path.getsize(segment)}

    make, put = (events, "append") if kind == "events" else (served, "append_served")
    report = {}
    with EventLog(folder) as log:
        report["first"] = step(lambda: getattr(log, put)(make("a", 5)))
        acked = os.path.getsize(segment)
        batch = make("b", n)
        # room for two lines and part of a third: the disk fills mid-batch
        resource.setrlimit(resource.RLIMIT_FSIZE, (acked + 300, hard))
        report["full"] = step(lambda: getattr(log, put)(batch))
        report["still_full"] = step(lambda: getattr(log, put)(batch))
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space is freed
        report["retry"] = step(lambda: getattr(log, put)(batch))
        if kind == "events":
            report["resent"] = step(lambda: log.append(batch))
        report["acked"], report["write_faults"] = acked, getattr(log, "write_faults", None)
    print(json.dumps(report))
""")


def write_on_a_full_disk(folder: Path, kind: str, n: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(lumos.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), kind, str(n)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def whole_lines(path: Path) -> list[dict]:
    """Every line of a segment, each of which must be one whole JSON object."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "the segment ends mid-line"
    return [json.loads(line) for line in data.splitlines()]


def assert_refused(step: dict, acked: int) -> None:
    assert step.get("raised") == "LogUnavailable", step
    assert step["code"] == "log_unavailable" and step["retry_after"] > 0
    assert step["errno"] == errno.EFBIG
    assert "the batch of" in step["message"] and "was not written" in step["message"]
    assert step["size"] == acked, "the segment was not cut back to its acknowledged bytes"


# 20 events fit in a write buffer (a buffered file would keep them for a later flush); 300
# do not (part of the batch reaches the disk before the write fails)
@pytest.mark.parametrize("n", [20, 300])
def test_a_batch_that_fills_the_disk_is_refused_whole_and_taken_once_there_is_room(tmp_path, n):
    report = write_on_a_full_disk(tmp_path, "events", n)
    acked = report["acked"]
    assert report["first"] == {"returned": 5, "size": acked}
    assert_refused(report["full"], acked)
    assert_refused(report["still_full"], acked)  # refused again, not taken as a duplicate
    assert report["write_faults"] == 2
    assert report["retry"]["returned"] == n  # the log recovered by itself, no restart
    assert report["resent"]["returned"] == 0  # now it is a duplicate
    ids = [line["event_id"] for line in whole_lines(tmp_path / SEGMENT)]
    assert ids == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(n)]
    with EventLog(tmp_path) as log:  # and a restart reads the same
        assert len(log) == 5 + n and log.read()["event_id"].tolist() == ids


def test_served_events_that_fill_the_disk_are_refused_whole(tmp_path):
    report = write_on_a_full_disk(tmp_path, "served", 20)
    assert report["first"]["returned"] == 5
    assert_refused(report["full"], report["acked"])
    assert_refused(report["still_full"], report["acked"])
    assert report["retry"]["returned"] == 20
    lines = whole_lines(tmp_path / SEGMENT)
    assert [line["event_id"] for line in lines] == [f"a{i}" for i in range(5)] + [
        f"b{i}" for i in range(20)
    ]


def test_a_failed_fsync_takes_the_written_batch_back(tmp_path, monkeypatch):
    real_fsync = os.fsync
    calls = []

    def fsync_fails_once(fd):
        calls.append(fd)
        if len(calls) == 1:  # the batch's own fsync; the cut back's is real
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    with EventLog(tmp_path) as log:
        assert log.append([event(0), event(1)]) == 2
        acked = (tmp_path / SEGMENT).stat().st_size
        monkeypatch.setattr(os, "fsync", fsync_fails_once)
        with pytest.raises(LogUnavailable, match="Input/output error") as err:
            log.append([event(2), event(3)])
        monkeypatch.undo()
        assert isinstance(err.value, LumosError) and err.value.code == "log_unavailable"
        assert (tmp_path / SEGMENT).stat().st_size == acked and log.write_faults == 1
        assert log.read()["event_id"].tolist() == ["e0", "e1"]
        assert log.append([event(2), event(3)]) == 2 and len(log) == 4
    ids = [line["event_id"] for line in whole_lines(tmp_path / SEGMENT)]
    assert ids == ["e0", "e1", "e2", "e3"]


def test_a_segment_that_cannot_be_created_leaves_the_log_writing(tmp_path, monkeypatch):
    real_open, refused = open, []

    def open_fails_once(file, *args, **kwargs):  # as root no folder can be made read-only
        if Path(file).name == "segment-00000002.jsonl" and not refused:
            refused.append(file)
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(_series, "open", open_fails_once, raising=False)
    with EventLog(tmp_path, segment_bytes=300) as log:
        for i in range(3):  # past segment_bytes after the second
            assert log.append([event(i)]) == 1
        assert refused and not log.closed and log.write_faults == 1
        assert log.append([event(3)]) == 1  # and the next batch starts the new segment
        assert log.append([event(4)]) == 1 and len(log) == 5
        assert log.read()["event_id"].tolist() == [f"e{i}" for i in range(5)]
    segments = sorted(tmp_path.glob("segment-*.jsonl"))
    assert [p.name for p in segments] == [SEGMENT, "segment-00000002.jsonl"]
    ids = [line["event_id"] for path in segments for line in whole_lines(path)]
    assert ids == [f"e{i}" for i in range(5)]


def test_a_segment_that_could_not_be_cut_back_is_cut_before_the_next_batch(tmp_path, monkeypatch):
    def fails(fd, *args):
        raise OSError(errno.EIO, "Input/output error")

    with EventLog(tmp_path) as log:
        assert log.append([event(0)]) == 1
        acked = (tmp_path / SEGMENT).stat().st_size
        monkeypatch.setattr(os, "fsync", fails)
        monkeypatch.setattr(os, "ftruncate", fails)
        with pytest.raises(LogUnavailable, match="could not be cut back yet"):
            log.append([event(1)])
        with pytest.raises(LogUnavailable, match="could not be cut back yet"):
            log.append([event(1)])  # nothing is written while the failed bytes are there
        assert (tmp_path / SEGMENT).stat().st_size > acked and log.write_faults == 2
        monkeypatch.undo()
        assert log.append([event(1)]) == 1 and log.append([event(2)]) == 1
    ids = [line["event_id"] for line in whole_lines(tmp_path / SEGMENT)]
    assert ids == ["e0", "e1", "e2"]
