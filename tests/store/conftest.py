"""One store fixture run on each backend: a real LMDB directory and a real redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from lumos.store import LMDBStore, RedisStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not on PATH; apt-get install redis-server")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
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
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["lmdb", "redis"])
def backend(request, tmp_path):
    """``(name, open)``: ``open(**kwargs)`` opens a store on one fresh location."""
    if request.param == "lmdb":
        path = tmp_path / "store"
        target = str(path)
        yield "lmdb", target, lambda **kw: LMDBStore(path, **kw)
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"t{request.node.name.__hash__() & 0xFFFFFF:x}"
        RedisStore(url, prefix=prefix)._r.flushdb()
        yield "redis", url, lambda **kw: RedisStore(url, prefix=prefix, **kw)


@pytest.fixture
def store(backend):
    s = backend[2]()
    yield s
    s.close()


def model_tables(n_members=20, n_models=3, k=5, seed=0, offset=0.0):
    """``n_models`` re-rankings of the same candidates; scores carry ``offset``."""
    rng = np.random.default_rng(seed)
    members = [f"M{i:04d}" for i in range(n_members)]
    tables = {}
    for j in range(n_models):
        rows = []
        for m in members:
            items = rng.permutation(2 * k)[:k]
            for r, c in enumerate(items):
                rows.append(
                    (
                        m,
                        r + 1,
                        f"C{c:03d}",
                        offset + (k - r) / 100,
                        f"why{c % 3}",
                        f"Because of {c % 3}",
                    )
                )
        tables[f"m{j + 1}"] = pd.DataFrame(
            rows, columns=["member_id", "rank", "course_id", "score", "reason", "reason_text"]
        )
    return tables
