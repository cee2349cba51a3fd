"""Servers sharing one offer policy (an offer state): real server processes on loopback, on a
SQLite file and on a real redis-server; the decisions name the policy version they used."""

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from fastapi.testclient import TestClient
from server_helpers import answering, free_port, publish_store, stop

from lumos.bandits import OfferModel, open_offer_state
from lumos.data.demo import offers
from lumos.errors import LumosUserError
from lumos.events import read_events
from lumos.serve import ServeConfig, app_from_config, hash_key

KEY = "secret-key"
H = {"X-API-Key": KEY}  # a decide and write key
SERVE = """
import sys
from lumos.serve import ServeConfig, app_from_config, run_server
config = ServeConfig(**__import__("json").loads(sys.argv[1]))
run_server(app_from_config(config), port=int(sys.argv[2]))
"""


@pytest.fixture(params=["file", "redis"])
def parts(request, tmp_path):
    """A store, an offer model (a mini-batch of one) and the state's target, on each backend."""
    namespace = f"test-{uuid.uuid4().hex}"
    book = offers(300, 2000, random_state=2)
    settings = {"batch": 1, "cap_per_week": 2, "random_state": 0, "model_id": namespace}
    model = OfferModel(book.arms, book.members, settings)
    model.retrain(book.events)
    model.save(tmp_path / "offers")
    if request.param == "file":
        target = str(tmp_path / "offers" / "state.sqlite")
    else:
        target = request.getfixturevalue("redis_url")
    return publish_store(tmp_path / "store"), tmp_path / "offers", target, namespace


def serve(config: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, json.dumps(config), str(port)], env=os.environ
    )
    return answering(proc, port, tries=600)


def post(port: int, path: str, body=None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data or b"",
        method="POST",
        headers={**H, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_a_conversion_posted_to_one_server_changes_the_policy_the_other_decides_with(
    parts, tmp_path
):
    store, folder, target, namespace = parts
    ports = free_port(), free_port()
    configs = [
        {
            "store": str(store),
            "offers": str(folder),
            "events": str(tmp_path / f"events-{i}"),
            "offer_state": target,
            "offer_state_interval": 0.5,
            "api_key_hashes": [hash_key(KEY)],
        }
        for i in range(2)
    ]
    a = serve(configs[0], ports[0])
    try:
        b = serve(configs[1], ports[1])
        try:
            first = post(ports[1], "/v1/members/om000001/offer?channel=email")
            version = first["policy_version"]
            assert version >= 1 and first["model_id"] == f"{namespace}@v{version}"
            offer = post(ports[0], "/v1/members/om000002/offer?channel=email")
            purchase = {
                "event_id": "p1",
                "tracking_id": offer["tracking_id"],
                "type": "action",
                "action": "purchase",
                "member_id": "om000002",
                "item_id": offer["arm_id"],
                "ts": time.time(),
            }
            assert post(ports[0], "/v1/events", {"events": [purchase]})["accepted"] == 1
            later = first
            for i in range(300):  # the other server takes the learned policy within its interval
                later = post(ports[1], f"/v1/members/om{i + 10:06d}/offer?channel=feed")
                if later["policy_version"] > version:
                    break
                time.sleep(0.1)
            assert later["policy_version"] == version + 1
            assert later["model_id"] == f"{namespace}@v{version + 1}"
        finally:
            stop(b)
    finally:
        stop(a)
    served = read_events(tmp_path / "events-1")
    row = served[served["tracking_id"] == later["tracking_id"]].iloc[0]
    assert row["model_id"] == f"{namespace}@v{version + 1}"  # the served event names it too
    # the servers saved the shared policy, not each its own: the version that learned it
    state = open_offer_state(target, namespace=namespace)
    assert state.snapshot() == (version + 1, (folder / "policy.npz").read_bytes())
    state.close()


def test_an_app_without_a_state_decides_with_its_own_policy_as_before(parts):
    store, folder, _, namespace = parts
    app = app_from_config(
        ServeConfig(store=str(store), offers=str(folder), api_key_hashes=(hash_key(KEY),))
    )
    with TestClient(app) as client:
        offer = client.post("/v1/members/om000001/offer?channel=email", headers=H).json()
    assert offer["model_id"] == namespace and offer["policy_version"] is None


def test_an_offer_state_is_checked_before_the_server_starts(parts, tmp_path):
    store, folder, _, _ = parts
    with pytest.raises(LumosUserError) as caught:
        app_from_config(
            ServeConfig(store=str(store), offers=str(folder), offer_state="redis://127.0.0.1:1/0")
        )
    assert caught.value.code == "state_unavailable"
    with pytest.raises(LumosUserError, match="give --offers") as caught:
        ServeConfig(store=str(store), offer_state=str(tmp_path / "state.sqlite"))
    assert caught.value.code == "bad_argument"
    config = ServeConfig(store=str(store), offers=str(folder))
    assert config.default_offer_state() == str(folder / "state.sqlite")


@pytest.mark.slow
def test_lumos_serve_with_two_workers_keeps_one_cap_and_one_policy(tmp_path):
    book = offers(300, 2000, random_state=2)
    model = OfferModel(book.arms, book.members, {"cap_per_week": 2, "random_state": 0})
    model.retrain(book.events)
    model.save(tmp_path / "offers")
    store, port = publish_store(tmp_path / "store"), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lumos.cli", "serve", "--store", store, "--offers",
         tmp_path / "offers", "--events", tmp_path / "events", "--workers", "2",
         "--api-key-hash", hash_key(KEY), "--port", str(port)],
    )  # fmt: skip
    try:
        answering(proc, port, tries=600)
        shown = {}
        for i in range(40):  # new connections each time: both workers decide
            member = f"om{i % 8 + 1:06d}"
            answer = post(port, f"/v1/members/{member}/offer?channel=email")
            assert answer["policy_version"] >= 1
            if answer["arm_id"] != "none":  # an offer shown, not "no offer" nor capped
                shown[member] = shown.get(member, 0) + 1
    finally:
        stop(proc)
    assert shown and max(shown.values()) <= 2  # the weekly cap of 2, across both workers
    assert (tmp_path / "offers" / "state.sqlite").exists()  # --workers shares it by default
