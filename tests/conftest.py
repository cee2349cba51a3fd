"""Shared fixtures: an insights design, models on generated data, a redis-server on loopback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from design_helpers import write_design
from redis_helpers import RedisServer


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
    """A real redis-server on a free loopback port for the session, persisting nothing
    (skips without one)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH; apt-get install redis-server")
    with RedisServer(tmp_path_factory.mktemp("redis"), durable=False) as server:
        yield server.url


@pytest.fixture
def redis_server(tmp_path):
    """A durable redis-server of the test's own (AOF, fsync before every answer), to kill
    and restart (skips without one)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH; apt-get install redis-server")
    with RedisServer(tmp_path / "redis") as server:
        yield server
