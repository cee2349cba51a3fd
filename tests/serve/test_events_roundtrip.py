"""What POST /v1/events accepts, the log reads back after a restart; what it refuses gets a 400
naming the field; a bad line in the log never stops the server from starting."""

import itertools
import json
import math
import re
import time

import hypothesis
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumos.events import FIELDS, EventLog, validate_event
from lumos.serve import COLD_START, create_app, hash_key
from lumos.store import LMDBStore, build_records

KEY = "secret-key"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A store folder with one version, opened read-only by each server."""
    folder = tmp_path_factory.mktemp("store")
    rows = pd.DataFrame({"course_id": ["p1"], "score": [1.0], "reason": "x", "reason_text": "x"})
    with LMDBStore(folder) as store:
        store.publish(build_records({COLD_START: rows.assign(member_id=COLD_START)}, version="v1"))
    return folder


class Server:
    """A server over the event log in ``folder``; ``restart()`` stops it and starts another."""

    def __init__(self, store_folder, folder, **log_options):
        self.store_folder, self.folder, self.log_options = store_folder, folder, log_options
        self.client = None
        self.start()

    def start(self):
        self.log = EventLog(self.folder, **self.log_options)
        app = create_app(
            store=LMDBStore(self.store_folder, readonly=True),
            treatment=lambda m: ("A", "glmix"),
            events=self.log,
            api_key_hashes=[hash_key(KEY)],
        )
        self.client = TestClient(app).__enter__()

    def stop(self):
        self.client.__exit__(None, None, None)  # closes the log and the store

    def restart(self):
        self.stop()
        self.start()

    def post(self, events):
        body = json.dumps({"events": events})  # ASCII: a lone surrogate travels as its escape
        headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
        return self.client.post("/v1/events", content=body.encode("ascii"), headers=headers)


@pytest.fixture
def server(published, tmp_path):
    s = Server(published, tmp_path / "events")
    yield s
    s.stop()


def event(i=0, **fields):
    base = {
        "event_id": f"e{i}",
        "tracking_id": "t1",
        "type": "impression",
        "member_id": "m1",
        "item_id": "c1",
        "ts": time.time() - 60,
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"position": 2**70}, "position"),
        ({"item_id": "\ud800x"}, "item_id"),
        ({"ts": "2099-06-01T00:00:00Z"}, "ts"),
        ({"value": float("nan")}, "value"),
        ({"member_id": "m" * 257}, "member_id"),
    ],
)
def test_what_the_log_cannot_keep_is_a_400_naming_the_field(server, change, field):
    refused = server.post([event(0), event(1, **change)])
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["code"] == "bad_event" and body["field"] == field
    assert body["message"].startswith(f"events 1, field {field!r}")
    server.restart()  # nothing of the batch was written, and the log opens
    assert len(server.log) == 0 and server.log.quarantined == 0


def test_a_second_ahead_is_taken_and_the_log_reopens(server):
    ok = server.post([event(0, ts=time.time() + 1, position=2**63 - 1)])
    assert ok.json() == {"accepted": 1, "duplicates": 0}
    server.restart()
    assert server.log.read()["event_id"].tolist() == ["e0"]


def test_an_odd_id_is_a_duplicate_after_a_restart(server):
    odd = event(0, event_id="é\\\x01")
    assert server.post([odd]).json() == {"accepted": 1, "duplicates": 0}
    server.restart()
    assert server.post([odd]).json() == {"accepted": 0, "duplicates": 1}
    assert server.log.read()["event_id"].tolist() == ["é\\\x01"]


def test_a_bad_line_in_the_log_does_not_stop_a_start(published, tmp_path):
    with EventLog(tmp_path) as log:
        log.append([event(0)])
    with open(tmp_path / "segment-00000001.jsonl", "ab") as f:
        f.write(b'{"event_id":"e9","position":1180591620717411303424}\n{"event_id":"\\ud800x"}\n')
    told = []
    s = Server(published, tmp_path, notify=told.append)
    try:
        assert s.log.quarantined == 2 and "2 lines could not be read" in told[0]
        assert s.client.get("/health").status_code == 200
        assert s.post([event(1)]).json() == {"accepted": 1, "duplicates": 0}
        assert s.log.read()["event_id"].tolist() == ["e0", "e1"]
    finally:
        s.stop()


# -- every event, valid-ish and hostile, through the real app and back ----------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_char = st.characters(codec=None, categories=None)  # every code point, surrogates too


def mostly(valid, hostile):
    """``valid`` 19 times in 20, else ``hostile``: most batches pass, every kind of bad is
    tried."""
    return st.integers(0, 19).flatmap(lambda k: hostile if k == 0 else valid)


texts = mostly(
    st.one_of(
        st.sampled_from(["c1", "é\\\x01", 'q"uote', "\x00", "😀", "\\u00e9", " x "]),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).filter(str.strip),
        st.just("x" * 256),
    ),
    st.one_of(
        st.text(any_char, min_size=1, max_size=8),
        st.text(surrogates, min_size=1, max_size=2),
        st.just("x" * 257),
        st.just(""),
        st.integers(),
    ),
)
numbers = st.one_of(
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
)
stamps = mostly(
    st.one_of(
        st.floats(-600, 290).map(lambda d: time.time() + d),
        st.floats(946684800, 1.7e9),
        st.sampled_from(["2025-01-02T03:04:05Z", "2000-01-01T00:00:00+00:00"]),
    ),
    st.one_of(
        st.sampled_from(["2099-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "9999-12-31", "x"]),
        st.floats(-3e9, 5e9),
        st.integers(0, 10**30),
        numbers,
    ),
)
valid_numbers = {
    "position": st.integers(0, 50),
    "value": st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(-1e300, 1e300)),
    "propensity": st.floats(1e-6, 1),
}
serial = itertools.count()


@st.composite
def events(draw):
    tail, head = draw(texts), f"{next(serial)}:"  # unique per event, and as long as drawn
    out = {
        "event_id": head + tail[len(head) * (len(tail) > 250) :] if isinstance(tail, str) else tail,
        "tracking_id": draw(texts),
        "type": draw(mostly(st.sampled_from(["impression", "action"]), st.just("view"))),
        "member_id": draw(texts),
        "item_id": draw(texts),
        "ts": draw(stamps),
    }
    if out["type"] == "action" or draw(st.booleans()):
        out["action"] = draw(st.sampled_from(["click", "dismiss", "follow", "watch"]))
    for field in ("channel", "cohort", "item_type", "model_id", "treatment"):
        if draw(st.integers(0, 3)) == 0:
            out[field] = draw(texts)
    for field in ("position", "value", "propensity"):
        if draw(st.integers(0, 2)) == 0:
            out[field] = draw(mostly(valid_numbers[field], numbers))
    return out


def comparable(record: dict) -> dict:
    """An event as the log's frame gives it: nothing missing but None, numbers as floats."""
    out = {}
    for field in FIELDS:
        value = record[field]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[field] = None
        elif field in ("position", "propensity", "value", "ts"):
            out[field] = float(value)
        else:
            out[field] = value
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(events(), min_size=1, max_size=3))
def test_accepted_events_come_back_refused_ones_name_a_field(server, batch):
    before = len(server.log)
    answer = server.post(batch)
    batch = json.loads(
        json.dumps(batch)
    )  # as the server reads it: "\\ud800\\udc00" is one character
    if answer.status_code == 200:
        hypothesis.event("accepted")
        expected, seen = [], set()
        for e in batch:
            if e["event_id"] not in seen:  # a repeat in a batch is a duplicate
                seen.add(e["event_id"])
                expected.append(validate_event(e, now=time.time() + 3600))
        assert answer.json() == {
            "accepted": len(expected),
            "duplicates": len(batch) - len(expected),
        }
    else:
        body = answer.json()
        hypothesis.event(f"refused: {body['field']}")
        assert answer.status_code == 400 and body["code"] == "bad_event", answer.text
        row = int(re.match(r"events (\d+), field ", body["message"])[1])
        assert body["field"] in batch[row] or body["field"] == "action"
        expected = []
    server.restart()  # the log opens, quarantines nothing, and reads back what it took
    assert server.log.quarantined == 0
    got = server.log.read().iloc[before:].to_dict("records")
    assert [comparable(r) for r in got] == [comparable(e) for e in expected]
