"""A real `lumos serve` process on loopback, for the tests that need one."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

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
    for _ in range(400):
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
