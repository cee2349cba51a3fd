"""Funnel events: validation, the durable disk log (SIGKILL-safe), Redis Streams, legacy shapes."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from lumos.data import validate_table
from lumos.errors import DataValidationError, LumosUserError
from lumos.events import (
    FIELDS,
    EventLog,
    RedisEventLog,
    by_type,
    new_id,
    new_ids,
    served_lines,
    to_interactions,
    validate_event,
)


def event(i=0, **fields):
    base = {
        "event_id": f"e{i}",
        "tracking_id": "t1",
        "type": "impression",
        "member_id": "m1",
        "item_id": "c1",
        "item_type": "course",
        "channel": "email",
        "position": 0,
        "ts": 1735787045 + i,
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"type": "view"}, "type", "'view' is not one of served, impression, action"),
        ({"type": "action"}, "action", "an action event says which action"),
        ({"member_id": ""}, "member_id", "must be a non-empty string"),
        ({"propensity": 1.5}, "propensity", "a probability in (0, 1]"),
        ({"position": -1}, "position", "an integer >= 0"),
        ({"ts": 1735787045000}, "ts", "not milliseconds"),
        ({"ts": "yesterday"}, "ts", "is not a time"),
        ({"colour": "red"}, "colour", "is not a field of the funnel event"),
    ],
)
def test_bad_events_name_the_field(change, field, message):
    with pytest.raises(DataValidationError) as err:
        validate_event(event(**change), row=3, where="events")
    assert err.value.column == field and err.value.row == 3
    assert message in str(err.value) and "events 3" in str(err.value)


def test_missing_fields_and_ids():
    bad = event()
    del bad["tracking_id"]
    with pytest.raises(DataValidationError, match="'tracking_id': is missing"):
        validate_event(bad)
    assert validate_event(event(ts="2025-01-02T03:04:05Z"))["ts"] == 1735787045.0
    assert len({new_id() for _ in range(1000)}) == 1000


def test_log_appends_dedupes_and_survives_reopen(tmp_path):
    with EventLog(tmp_path / "log") as log:
        assert log.append([event(0), event(1), event(1)]) == 2  # a repeat in the batch
        assert log.append([event(1), event(2)]) == 1  # a resent event
        with pytest.raises(DataValidationError, match="events 1, field 'type'"):
            log.append([event(3), event(4, type="view")])
        assert len(log) == 3  # the bad batch wrote nothing
        with pytest.raises(LumosUserError, match="another process"):
            EventLog(tmp_path / "log")
    with EventLog(tmp_path / "log") as log:
        assert log.append([event(2), event(3)]) == 1 and len(log) == 4
        assert log.read()["event_id"].tolist() == ["e0", "e1", "e2", "e3"]


def test_log_rolls_segments_and_repairs_a_torn_tail(tmp_path):
    with EventLog(tmp_path, segment_bytes=300) as log:
        for i in range(6):
            log.append([event(i)])
    segments = sorted(tmp_path.glob("segment-*.jsonl"))
    assert len(segments) > 1
    with open(segments[-1], "ab") as f:
        f.write(b'{"event_id": "torn", "tr')  # a crash mid-write: never acknowledged
    with EventLog(tmp_path, segment_bytes=300) as log:
        assert len(log) == 6 and log.append([event(6)]) == 1
        assert log.read()["event_id"].tolist() == [f"e{i}" for i in range(7)]


def test_every_acknowledged_event_survives_sigkill(tmp_path):
    writer = textwrap.dedent(f"""
        import sys
        from lumos.events import EventLog
        log = EventLog({str(tmp_path)!r})
        for b in range(100000):
            batch = [{{"event_id": f"b{{b}}-{{i}}", "tracking_id": "t", "type": "impression",
                      "member_id": "m", "item_id": "c", "ts": 1735787045}} for i in range(50)]
            log.append(batch)
            print(b, flush=True)
    """)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
        acked = -1
        for line in proc.stdout:
            acked = int(line)
            if acked >= 20:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        with EventLog(tmp_path) as log:
            ids = set(log.read()["event_id"])
        assert all(f"b{b}-{i}" in ids for b in range(acked + 1) for i in range(50))


def test_redis_stream_is_idempotent(redis_url):
    log = RedisEventLog(redis_url, stream=f"test:{new_id()}")
    assert log.append([event(0), event(1)]) == 2
    assert log.append([event(1), event(2)]) == 1
    with pytest.raises(DataValidationError, match="events 0, field 'type'"):
        log.append([event(9, type="bad")])
    assert len(log) == 3 and log.read()["event_id"].tolist() == ["e0", "e1", "e2"]
    log.close()


def test_served_lines_are_the_logs_own_json():
    ids = new_ids(4)
    assert len(set(ids)) == 4 and all(len(i) == 32 for i in ids)
    items = [(ids[0], ids[1], 'C"1%s\u00e9', 0), (ids[2], ids[3], "C2", 7)]
    lines = served_lines(
        "m%d", items, channel=None, model_id="glmix", treatment="B", ts=1735787045.5
    )
    for line, (e, t, item, position) in zip(lines, items, strict=True):
        want = dict.fromkeys(FIELDS) | {
            "event_id": e,
            "tracking_id": t,
            "type": "served",
            "member_id": "m%d",
            "item_id": item,
            "position": position,
            "model_id": "glmix",
            "treatment": "B",
            "ts": 1735787045.5,
        }
        assert line == json.dumps(want, separators=(",", ":"))
        assert validate_event(json.loads(line)) == want


def test_served_events_are_never_deduplicated_nor_remembered(tmp_path, redis_url):
    lines = served_lines("m1", [("s1", "t1", "c1", 0), ("s2", "t1", "c2", 1)], ts=1735787045)
    with EventLog(tmp_path) as log:
        assert log.append_served(lines) == 2 and log.append_served([]) == 0
        assert log.append([event(0)]) == 1
        assert log.append([event(9, event_id="s1", type="served")]) == 1  # minted ids: no check
        assert len(log) == 4
    with EventLog(tmp_path) as log:
        assert log._seen == {"e0"}  # only what clients send is remembered
        assert log.append([event(0)]) == 0 and log.append_served(lines) == 2
        assert log.read()["type"].tolist() == ["served"] * 2 + ["impression"] + ["served"] * 3
        with EventLog(tmp_path, readonly=True) as reader:  # beside the writer, no lock
            assert len(reader) == 6 and reader.read()["event_id"].iloc[2] == "e0"
            with pytest.raises(LumosUserError, match="opened read-only"):
                reader.append_served(lines)
    stream = RedisEventLog(redis_url, stream=f"test:{new_id()}")
    assert stream.append_served(lines) == 2 and stream.append_served(lines) == 2
    assert stream.append([event(0), event(9, event_id="s1", type="served")]) == 2
    assert stream.append([event(0)]) == 0 and len(stream) == 6
    assert stream.read()["item_id"].tolist()[:2] == ["c1", "c2"]
    stream.close()


def test_events_become_interactions_and_legacy_tables():
    events = [
        event(0, type="served", model_id="glmix", treatment="B", propensity=0.5),
        event(1),
        event(2, type="action", action="click"),
        event(3, type="action", action="watch", value=420.0),
        event(4, type="action", action="follow", item_type="skill", item_id="python"),
    ]
    table = to_interactions([validate_event(e) for e in events])
    assert table["type"].tolist() == ["impression", "click", "watch"]
    assert table["seconds"].tolist() == [0.0, 0.0, 420.0]
    assert len(validate_table("interactions", table)) == 3
    legacy = by_type([validate_event(e) for e in events])
    assert sorted(legacy) == ["click", "follow", "impression", "served", "watch"]
    assert "propensity" in legacy["served"] and "propensity" not in legacy["click"]


def test_reading_the_log_gives_what_json_gives(tmp_path):
    import pandas as pd

    batch = [
        event(event_id="a", item_id="café ☕", position=3, channel="email"),
        event(1, type="served", propensity=0.25, model_id="m"),
        event(2, type="action", action="watch", value=12.5, cohort='say "hi"', position=None),
    ]
    with EventLog(tmp_path / "log") as log:
        log.append(batch)
        lines = [
            json.loads(x)
            for x in (tmp_path / "log").glob("segment-*.jsonl").__next__().read_bytes().splitlines()
        ]
        got = log.read()
        only = log.read(contains=b'"action":"watch"')
    expected = pd.DataFrame(lines, columns=list(FIELDS))
    pd.testing.assert_frame_equal(
        got.astype(object).where(got.notna(), None),
        expected.astype(object).where(expected.notna(), None),
        check_dtype=False,
    )
    assert only["event_id"].tolist() == ["e2"] and only["value"].tolist() == [12.5]
    assert got["action"].iloc[1] is None and got["item_id"].iloc[0] == "café ☕"
