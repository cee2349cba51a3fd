"""A real ``lumos serve --workers 2`` on loopback: both workers serve, a client's batch is
written once whichever worker takes it, a dismissal taken by one worker is honoured by
the other, a worker killed is started again, and SIGTERM stops them all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from server_helpers import alive, descendants, free_port, post, publish_store, status

from lumos.events import read_events
from lumos.serve import hash_key


@pytest.fixture
def server(tmp_path):
    store = publish_store(tmp_path / "store")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lumos.cli", "serve", "--store", store, "--events",
         tmp_path / "events", "--workers", "2", "--port", str(port),
         "--write-key-hash", hash_key("w")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while len(workers(proc.pid)) < 2 or status(f"{base}/readyz") != 200:
        assert time.monotonic() < deadline and proc.poll() is None, "did not start"
        time.sleep(0.05)
    yield proc, base, port, tmp_path / "events"
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def workers(pid: int) -> list[int]:
    """The worker processes under ``pid`` (not multiprocessing's resource tracker)."""
    out = []
    for child in descendants(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"spawn_main" in cmd and alive(child):
            out.append(child)
    return out


def recommended(base: str) -> list[str]:
    with urllib.request.urlopen(f"{base}/v1/members/m1/recommendations", timeout=5) as r:
        return [item["item_id"] for item in json.loads(r.read())["items"]]


def impression(i: int, **fields) -> dict:
    return {
        "event_id": f"x{i}", "tracking_id": "t", "type": "impression", "member_id": "m1",
        "item_id": "c1", "ts": time.time() - 5, **fields,
    }  # fmt: skip


def test_two_workers_write_each_client_event_once_and_share_what_members_did(server):
    proc, base, _, events = server
    batch = [impression(i) for i in range(50)]
    accepted = 0
    for _ in range(20):  # the same batch, resent: new connections land on either worker
        r = post(f"{base}/v1/events", batch)
        assert r.status == 200
        accepted += json.loads(r.read())["accepted"]
    assert accepted == 50
    dismiss = impression(99, type="action", action="dismiss", item_id="c1")
    assert post(f"{base}/v1/events", [dismiss]).status == 200
    time.sleep(1.0)  # each worker reads the others' events every 0.5 s
    assert all(recommended(base) == ["c2"] for _ in range(20))  # on both workers
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    log = read_events(events)
    told = log[log["type"] != "served"]
    assert sorted(told["event_id"]) == sorted([f"x{i}" for i in range(50)] + ["x99"])
    assert (log["type"] == "served").sum() == 20  # every list shown (c2 alone), recorded once
    assert len(list(events.glob("segment-w*.jsonl"))) == 2  # a series per worker


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_sigterm_stops_them_all(server):
    proc, base, port, _ = server
    first = workers(proc.pid)
    assert len(first) == 2
    recommended(base)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:  # the supervisor starts another; the survivor answers meanwhile
        now = workers(proc.pid)
        if len(now) == 2 and first[0] not in now and status(f"{base}/readyz") == 200:
            break
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        assert recommended(base) == ["c1", "c2"]
        time.sleep(0.1)
    assert post(f"{base}/v1/events", [impression(1)]).status == 200
    every = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    time.sleep(0.3)
    assert [p for p in every if alive(p)] == []
    with socket.socket() as s:  # nothing listens on the port (connections may be in TIME_WAIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
