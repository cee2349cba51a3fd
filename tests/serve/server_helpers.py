"""A real `lumos serve` process on loopback, for the tests that need one."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, port: int, *, out=None) -> subprocess.Popen:
    """``lumos serve ARGS --port PORT``, once it answers ``/healthz``; ``out`` (a path)
    receives what it prints."""
    sink = subprocess.DEVNULL if out is None else open(out, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lumos.cli", "serve", *map(str, args), "--port", str(port)],
        stdout=sink,
        stderr=subprocess.STDOUT if out is not None else None,
    )
    if out is not None:
        sink.close()  # the child holds its own copy
    return answering(proc, port)


def answering(proc: subprocess.Popen, port: int, tries: int = 400) -> subprocess.Popen:
    """``proc``, once the server it runs answers ``/healthz`` on ``port`` (fails the test
    when it exits first, or never answers)."""
    for _ in range(tries):
        if proc.poll() is not None:
            pytest.fail(f"lumos serve exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("lumos serve did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def publish_store(folder: Path) -> Path:
    """An LMDB store at ``folder``: member m1's two courses (c1, c2) and a cold-start list."""
    import pandas as pd

    from lumos.store import COLD_START, LMDBStore, build_records

    table = pd.DataFrame(
        {
            "member_id": ["m1", "m1", COLD_START],
            "course_id": ["c1", "c2", "p"],
            "score": [0.9, 0.5, 1.0],
            "reason": "skill",
            "reason_text": "Because of your skill 'Python'",
        }
    )
    with LMDBStore(folder) as s:
        s.publish(
            build_records(
                {
                    "glmix": table[table["member_id"] == "m1"],
                    COLD_START: table[table["member_id"] == COLD_START],
                }
            )
        )
    return folder
