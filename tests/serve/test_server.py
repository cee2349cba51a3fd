"""`lumos serve` as a real process: HTTP reads, and no acknowledged event lost to SIGKILL."""

import json
import os
import signal
import urllib.request

import pytest
from server_helpers import free_port, publish_store, start

from lumos.events import open_event_log
from lumos.serve import hash_key


def _post(port, body, key):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/events",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": key},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def store(tmp_path):
    return publish_store(tmp_path / "store")


@pytest.mark.parametrize("target", ["events", "events.sqlite"])  # the two embedded engines
def test_every_acknowledged_event_survives_a_killed_server(store, tmp_path, target):
    port, key = free_port(), "k-123"
    args = ["--store", store, "--events", tmp_path / target, "--api-key-hash", hash_key(key)]
    server = start(args, port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/members/m1/recommendations") as r:
        page = json.loads(r.read())
    assert [i["item_id"] for i in page["items"]] == ["c1", "c2"]
    acked = []
    for b in range(30):
        batch = [
            {
                "event_id": f"{b}-{i}",
                "tracking_id": page["items"][0]["tracking_id"],
                "type": "impression",
                "member_id": "m1",
                "item_id": "c1",
                "ts": 1735787045,
            }
            for i in range(20)
        ]
        assert _post(port, {"events": batch}, key)["accepted"] == 20
        acked += [e["event_id"] for e in batch]
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    with open_event_log(tmp_path / target) as log:
        logged = set(log.read()["event_id"])
    assert set(acked) <= logged and len(logged) == len(acked) + 2  # and the two served events
    again = start(args, port)  # restarts on the same log; a resent batch is a duplicate
    try:
        assert _post(port, {"events": batch}, key) == {"accepted": 0, "duplicates": 20}
    finally:
        again.terminate()
        again.wait(timeout=10)
