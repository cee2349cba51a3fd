"""Shared fixtures: an insights design, models on generated data, a redis-server on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from design_helpers import write_design


@pytest.fixture
def design_dir(tmp_path) -> Path:
    return write_design(tmp_path / "design")


@pytest.fixture(scope="session")
def tabular():
    """A 600 × 6 regression/classification table with missing values."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(600, 6)), columns=[f"x{i}" for i in range(6)])
    X.loc[rng.random(600) < 0.1, "x2"] = np.nan
    margin = 1.5 * X["x0"] - X["x1"] + 0.5 * X["x2"].fillna(0) * X["x3"]
    y = (margin + rng.normal(0, 0.5, 600) > 0).astype(int)
    return X, y, margin


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port for the session (skips without one)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not on PATH; apt-get install redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
