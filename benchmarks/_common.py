"""Helpers shared by the benchmark scripts: progress, machine info, child processes, the JSON line.

As the benchmark conventions say: progress goes to standard error, the last
line of standard output is one JSON object (:func:`emit`), and peak memory
comes from the OS (the ``getrusage`` record of a child process). A child
process reports with :func:`report_child`; its parent reads that line and the
child's peak memory with :func:`run_child`.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import time

import numpy as np

PACKAGES = ("numpy", "pandas", "xgboost", "shap", "lime", "scikit-learn")
_START = time.perf_counter()


def log(message: str) -> None:
    """Human-readable progress, on standard error with the elapsed time."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def machine(packages=PACKAGES) -> dict:
    """Cores, Python version and the versions of ``packages`` (None when not installed)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"cores": os.cpu_count(), "python": platform.python_version(), "packages": versions}


def rounded(value, digits: int = 4):
    """``value`` with ``digits`` significant digits, recursively through dicts and lists."""
    if isinstance(value, dict):
        return {str(k): rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # NumPy scalar
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value) or value == 0:
            return value
        return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))
    return value


def emit(benchmark: str, quick: bool, results: list[dict], packages=PACKAGES) -> None:
    """Print the one JSON object of the run as the last line of standard output.

    Numbers are :func:`rounded`; ``machine`` lists the versions of ``packages``.
    """
    out = {"benchmark": benchmark, "quick": quick, "machine": machine(packages)}
    sys.stdout.flush()
    print(json.dumps(rounded({**out, "results": results}), allow_nan=False), flush=True)


def report_child(figures: dict) -> None:
    """A child process's figures: one JSON line on standard output, read by :func:`run_child`."""
    sys.stdout.flush()
    print(json.dumps(figures), flush=True)


def timed(fn):
    """``(seconds, fn())``: the wall time of one call and what it returned."""
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def latencies_us(fn, n: int, warmup: int = 0) -> tuple[float, float]:
    """p50 and p99 in µs of ``n`` calls ``fn(i)``, each timed alone, after ``warmup`` untimed."""
    for i in range(warmup):
        fn(i)
    times = np.empty(n)
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        times[i] = time.perf_counter() - started
    p50, p99 = np.percentile(times, [50, 99]) * 1e6
    return float(p50), float(p99)


def self_peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (from the OS)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_child(args: list[str], env: dict | None = None) -> tuple[dict, float]:
    """Run ``python *args`` and return (its last stdout line as JSON, its peak RSS in MB).

    The peak RSS is the child's own ``ru_maxrss`` as the kernel reports it to
    ``wait4`` for that process alone. The child's standard error passes through;
    ``env`` replaces its environment (default: this process's).
    """
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} exited with {proc.returncode}")
    lines = out.strip().splitlines()
    if not lines:
        raise RuntimeError(f"child {' '.join(args)} printed nothing on standard output")
    return json.loads(lines[-1]), usage.ru_maxrss / 1024


def stop(procs: list) -> None:
    """Terminate every process in ``procs`` (kill those that do not stop), and forget them."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    procs.clear()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder) -> tuple[subprocess.Popen | None, str | None]:
    """A redis-server on a free loopback port, persisting nothing: (process, URL), or Nones."""
    server = shutil.which("redis-server")
    if server is None:
        return None, None
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    return proc, f"redis://127.0.0.1:{port}/0"
