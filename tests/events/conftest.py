"""One event-log fixture run on each backend: a real folder on disk and a real redis-server."""

from __future__ import annotations

import pytest

from lumos.events import new_id, open_event_log


@pytest.fixture(params=["disk", "redis"])
def log_target(request, tmp_path):
    """``(name, open)``: ``open(**kwargs)`` opens the log of one fresh target."""
    if request.param == "disk":
        target, options = str(tmp_path / "log"), {}
    else:
        target, options = request.getfixturevalue("redis_url"), {"stream": f"test:{new_id()}"}
    return request.param, lambda **kw: open_event_log(target, **options, **kw)


@pytest.fixture
def event_log(log_target):
    log = log_target[1]()
    yield log
    log.close()
