"""The event-log contract, run on each backend by the ``event_log`` fixture (disk, SQLite, Redis).

The fixtures live here, not in a conftest.py: a second conftest.py under tests/ clashes with
the others by name when the doctests collect them.
"""

from __future__ import annotations

import pytest
from test_events import event

from lumos.errors import DataValidationError, LumosUserError
from lumos.events import (
    FIELDS,
    EventLog,
    RedisEventLog,
    SQLiteEventLog,
    WorkerEventLog,
    new_id,
    open_event_log,
    served_lines,
)


@pytest.fixture(params=["disk", "workers", "sqlite", "redis"])
def log_target(request, tmp_path):
    """``(name, open)``: ``open(**kwargs)`` opens the log of one fresh target (``workers``: a
    folder opened as one of the processes of ``lumos serve --workers``)."""
    if request.param == "disk":
        target, options = str(tmp_path / "log"), {}
    elif request.param == "workers":
        target, options = str(tmp_path / "log"), {"worker": True}
    elif request.param == "sqlite":
        target, options = str(tmp_path / "events.sqlite"), {}
    else:
        target, options = request.getfixturevalue("redis_url"), {"stream": f"test:{new_id()}"}
    return request.param, lambda **kw: open_event_log(target, **options, **kw)


@pytest.fixture
def event_log(log_target):
    log = log_target[1]()
    yield log
    log.close()


def test_open_event_log_picks_the_backend(log_target):
    name, open_ = log_target
    with open_() as log:
        kinds = {
            "disk": EventLog,
            "workers": WorkerEventLog,
            "sqlite": SQLiteEventLog,
            "redis": RedisEventLog,
        }
        assert isinstance(log, kinds[name])
        assert not log.closed
    assert log.closed


def test_appends_dedupe_and_a_bad_batch_writes_nothing(event_log):
    assert event_log.append([event(0), event(1), event(1)]) == 2  # a repeat in the batch
    assert event_log.append([event(1), event(2)]) == 1  # a resent event
    with pytest.raises(DataValidationError, match="events 1, field 'type'"):
        event_log.append([event(3), event(4, type="view")])
    assert len(event_log) == 3
    assert event_log.read()["event_id"].tolist() == ["e0", "e1", "e2"]


def test_served_events_are_appended_every_time(event_log):
    lines = served_lines("m1", [("s1", "t1", "c1", 0), ("s2", "t1", "c2", 1)], ts=1735787045)
    assert event_log.append_served(lines) == 2 and event_log.append_served(lines) == 2
    assert event_log.append([event(0)]) == 1 and len(event_log) == 5
    assert event_log.read(type="served")["item_id"].tolist() == ["c1", "c2"] * 2


def test_read_filters_the_same_way(event_log):
    event_log.append(
        [
            event(0),
            event(1, type="action", action="dismiss"),
            event(2, type="action", action="follow", item_type="skill", item_id="python"),
            event(3, type="action", action="click", cohort="pymk"),
            event(4, cohort='say "hi"'),
            event(5, item_id='"action":"dismiss"'),  # the pattern inside a value: not a match
        ]
    )
    ids = lambda frame: frame["event_id"].tolist()  # noqa: E731
    assert ids(event_log.read(action=("dismiss", "follow"))) == ["e1", "e2"]
    assert ids(event_log.read(type="action", action="click")) == ["e3"]
    assert ids(event_log.read(cohort=True)) == ["e3", "e4"]
    assert ids(event_log.read(item_type=["skill"])) == ["e2"]
    assert ids(event_log.read(action="purchase")) == []
    assert list(event_log.read(action="purchase").columns) == list(FIELDS)
    assert ids(event_log.read()) == [f"e{i}" for i in range(6)]
    with pytest.raises(LumosUserError, match="'colour' is not one") as err:
        event_log.read(colour="red")
    assert err.value.code == "bad_argument"
    with pytest.raises(LumosUserError, match="a list of strings, or True"):
        event_log.read(action=3)


def test_both_backends_read_the_same_frame(tmp_path, redis_url):
    batch = [
        event(event_id="a", item_id="café ☕", position=3, channel="email"),
        event(1, type="served", propensity=0.25, model_id="m"),
        event(2, type="action", action="watch", value=12.5, cohort='say "hi"', position=None),
    ]
    with open_event_log(tmp_path / "log") as disk:
        disk.append(batch)
        on_disk = disk.read()
    with open_event_log(redis_url, stream=f"test:{new_id()}") as stream:
        stream.append(batch)
        on_redis = stream.read()
    with open_event_log(f"sqlite:///{tmp_path / 'events.db'}") as sqlite:
        sqlite.append(batch)
        on_sqlite = sqlite.read()
    import pandas as pd

    pd.testing.assert_frame_equal(on_disk, on_redis)
    pd.testing.assert_frame_equal(on_disk, on_sqlite)


def test_read_only_refuses_appends(log_target):
    _, open_ = log_target
    with open_() as writer:
        writer.append([event(0)])
        with open_(readonly=True) as reader:
            assert reader.read()["event_id"].tolist() == ["e0"]
            for write in (lambda: reader.append([event(1)]), lambda: reader.append_served([])):
                with pytest.raises(LumosUserError, match="read-only") as err:
                    write()
                assert err.value.code == "read_only"
