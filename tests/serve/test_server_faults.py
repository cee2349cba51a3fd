"""Faults a server meets in production, caused for real: SIGTERM with child services running,
a port already taken, a disk that fills while the server records what it shows."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from server_helpers import free_port, post, publish_store, status, stop

from lumos.events import EventLog
from lumos.serve import hash_key


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def lumos(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lumos.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


@pytest.mark.slow
def test_sigterm_stops_the_demo_and_every_service_it_started(tmp_path):
    port = free_port()
    demo = lumos(
        "demo", "--out", tmp_path / "d", "--accounts", 50, "--months", 18, "--port", port,
        "--no-browser",
    )  # fmt: skip
    said = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        said.append(line)
        if line.startswith("Serving on") or not line:
            break
    assert any(s.startswith("Serving on") for s in said), "".join(said[-20:])
    time.sleep(0.5)
    children = descendants(demo.pid)
    assert len(children) >= 2  # the first-pass ranker services
    demo.send_signal(signal.SIGTERM)  # what every supervisor sends
    assert demo.wait(timeout=60) != 0
    demo.stdout.close()
    time.sleep(0.5)
    assert [c for c in children if alive(c)] == []
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


def test_a_taken_port_is_found_before_any_work(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (
            ["demo", "--out", tmp_path / "d", "--port", port, "--no-browser"],
            ["serve", "--store", tmp_path / "s", "--port", port],
        ):
            started = time.monotonic()
            run = lumos(*args)
            try:
                out, _ = run.communicate(timeout=60)
            finally:
                run.kill()  # a run that did not stop in time (the old behaviour) stops here
                run.wait()
            assert run.returncode == 2, out
            assert f"error [port_in_use]: port {port} on 127.0.0.1 is taken" in out
            assert "--port" in out and time.monotonic() - started < 30
        assert not (tmp_path / "d" / "store").exists()  # nothing computed


@pytest.fixture
def store(tmp_path):
    return publish_store(tmp_path / "store")


def test_a_full_disk_stops_the_recording_not_the_server_and_nothing_is_lost(store, tmp_path):
    limit = 48 * 1024

    def small_disk():  # in the server: files stop growing at 48 KB, writes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lumos.cli", "serve", "--store", store, "--events",
         tmp_path / "events", "--port", str(port), "--write-key-hash", hash_key("w")],
        stdout=subprocess.DEVNULL, preexec_fn=small_disk,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while status(f"{base}/healthz") != 200:
            assert time.monotonic() < deadline and server.poll() is None, "did not start"
            time.sleep(0.05)
        shown, full = 0, False
        for _ in range(2000):  # each request records two served events
            assert status(f"{base}/v1/members/m1/recommendations") == 200  # reads go on
            shown += 2
            if status(f"{base}/readyz") == 503:
                full = True
                break
        assert full, "the log never filled"
        for _ in range(20):  # still answering while it cannot record
            assert status(f"{base}/v1/members/m1/recommendations") == 200
            shown += 2
        with urllib.request.urlopen(f"{base}/metrics") as r:
            metrics = r.read().decode()
        assert "lumos_served_write_faults" in metrics
        batch = [
            {"event_id": f"c{i}", "tracking_id": "t", "type": "impression", "member_id": "m1",
             "item_id": "c1", "ts": time.time() - 5}
            for i in range(300)
        ]  # fmt: skip
        refused = post(f"{base}/v1/events", batch)
        assert refused.status == 503 and refused.headers["Retry-After"] == "5"
        assert json.loads(refused.read())["code"] == "log_unavailable"
        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (-1, -1))  # space freed
        deadline = time.monotonic() + 2
        while status(f"{base}/readyz") != 200:
            assert time.monotonic() < deadline, "not ready 2 s after the space came back"
            time.sleep(0.05)
        again = post(f"{base}/v1/events", batch)  # the client's retry: written once
        assert again.status == 200 and json.loads(again.read())["accepted"] == 300
        time.sleep(0.2)
    finally:
        stop(server)
    with EventLog(tmp_path / "events", readonly=True) as log:
        served = log.read(type="served")
        sent = log.read(type="impression")
    assert len(served) == shown  # every event shown, recorded once: none lost, none twice
    assert served["event_id"].is_unique
    assert sorted(sent["event_id"]) == sorted(e["event_id"] for e in batch)
