"""A real `lumos serve` process on loopback, for the tests that need one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
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


def status(url: str) -> int:
    """The HTTP status of GET ``url`` (0 while nothing listens)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:  # not listening yet
        return 0


def get(url: str):
    """GET ``url``: the response, an HTTP error's included (``.status``, ``.headers``,
    ``.read()``)."""
    try:
        return urllib.request.urlopen(url, timeout=5)
    except urllib.error.HTTPError as e:
        return e


def post(url: str, events: list[dict], key: str = "w"):
    """POST ``events`` to ``url`` with the write key ``key``: the response, as :func:`get`."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"events": events}).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as e:
        return e


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def publish_store(target: Path | str) -> Path | str:
    """A store at ``target`` (an LMDB folder or a Redis URL): member m1's two courses (c1,
    c2) and a cold-start list."""
    import pandas as pd

    from lumos.store import COLD_START, build_records, open_store

    table = pd.DataFrame(
        {
            "member_id": ["m1", "m1", COLD_START],
            "course_id": ["c1", "c2", "p"],
            "score": [0.9, 0.5, 1.0],
            "reason": "skill",
            "reason_text": "Because of your skill 'Python'",
        }
    )
    with open_store(target) as s:
        s.publish(
            build_records(
                {
                    "glmix": table[table["member_id"] == "m1"],
                    COLD_START: table[table["member_id"] == COLD_START],
                }
            )
        )
    return target


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
