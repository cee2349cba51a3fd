"""One store fixture run on each backend: a real LMDB directory and a real redis-server."""

from __future__ import annotations

import pytest

from lumos.store import LMDBStore, RedisStore


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
