"""An open-loop HTTP load generator: requests leave on a fixed schedule, whatever the responses do.

Latency is measured from each request's *scheduled* time, so a slow response
that delays the ones behind it shows in their latencies too (no coordinated
omission). Run as ``python _load.py URL_PATHS_FILE RATE SECONDS PORT [HEADER]`` in its
own process (:func:`_common.run_child`), ``HEADER`` (``"Name: value"``) sent with every
request; reports latency (ms) percentiles, errors (4xx and 5xx), server errors (5xx), sent.
"""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np
from _common import report_child


async def _one(pool: asyncio.Queue, port: int, request: bytes) -> int:
    reader, writer = (
        await pool.get() if not pool.empty() else await asyncio.open_connection("127.0.0.1", port)
    )
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        pool.put_nowait((reader, writer))
        return status
    except Exception:
        writer.close()
        return 599


async def run(paths: list[str], rate: float, seconds: float, port: int, header: str = "") -> dict:
    pool: asyncio.Queue = asyncio.Queue()
    n = int(rate * seconds)
    extra = f"{header}\r\n" if header else ""
    requests = [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode() for p in paths]
    latency, status = np.zeros(n), np.zeros(n, dtype=np.int64)
    start = time.perf_counter() + 0.1

    async def fire(i: int):
        due = start + i / rate
        status[i] = await _one(pool, port, requests[i % len(requests)])
        latency[i] = time.perf_counter() - due

    tasks = []
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i)))
    await asyncio.gather(*tasks)
    ms = latency * 1000
    return {
        "sent": n,
        "errors": int((status >= 400).sum()),
        "server_errors": int(((status >= 500) & (status != 599)).sum()),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


if __name__ == "__main__":
    paths_file, rate, seconds, port = (
        sys.argv[1],
        float(sys.argv[2]),
        float(sys.argv[3]),
        int(sys.argv[4]),
    )
    header = sys.argv[5] if len(sys.argv) > 5 else ""
    paths = open(paths_file).read().split()
    report_child(asyncio.run(run(paths, rate, seconds, port, header)))
