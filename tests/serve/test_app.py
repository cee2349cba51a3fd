"""The HTTP API: recommendations with tracking, events, insights, auth, errors and a fuzz run."""

import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from lumos.events import EventLog
from lumos.serve import COLD_START, create_app, hash_key
from lumos.store import LMDBStore, build_records

KEY = "secret-key"


def recs(items, step=1):
    rows = pd.DataFrame({"course_id": items}).iloc[::step]
    return rows.assign(
        score=[1.0 - 0.1 * i for i in range(len(rows))],
        reason="skill",
        reason_text=[f"Because of {x}" for x in rows["course_id"]],
    )


@pytest.fixture
def app(tmp_path):
    items = ["c1", "c2", "c3", "c4", "c5"]
    tables = {
        "glmix": recs(items).assign(member_id="m1"),
        "affinity": recs(items, 2).assign(member_id="m1"),
        COLD_START: recs(["p1", "p2"]).assign(member_id=COLD_START),
    }
    store = LMDBStore(tmp_path / "store")
    store.publish(build_records(tables, version="v7"))
    log = EventLog(tmp_path / "events")
    insights = pd.DataFrame(
        {
            "account_id": ["A1", "A1"],
            "product": [None, "jobs"],
            "score": [0.2, -0.1],
            "class": ["upsell", "churn"],
            "predicted_change": [3.0, -1.0],
            "why_usage": ["Searches rose.", ""],
        }
    )
    app = create_app(
        store=store,
        treatment=lambda m: ("B", "glmix"),
        events=log,
        insights=insights.set_index("account_id"),
        api_key_hashes=[hash_key(KEY)],
        course_skills=pd.DataFrame(
            {"course_id": ["c4", "c9", "c5"], "skill": ["Python", "SQL", "Python"]}
        ),
    )
    yield app, log
    log.close()
    store.close()


def test_recommendations_page_track_and_record_served(app):
    app, log = app
    with TestClient(app) as client:  # leaving it stops the server: served events are flushed
        first = client.get("/v1/members/m1/recommendations?count=2&channel=email").json()
        assert [i["item_id"] for i in first["items"]] == ["c1", "c2"]
        assert first["total"] == 5 and not first["cold_start"] and first["treatment"] == "B"
        nxt = client.get("/v1/members/m1/recommendations?count=2&start=2").json()
        assert [i["item_id"] for i in nxt["items"]] == ["c3", "c4"]
        cold = client.get("/v1/members/stranger/recommendations").json()
        assert cold["cold_start"] and [i["item_id"] for i in cold["items"]] == ["p1", "p2"]
    served = log.read()
    assert (served["type"] == "served").all() and len(served) == 6
    shown = first["items"] + nxt["items"] + cold["items"]
    assert set(served["tracking_id"]) == {i["tracking_id"] for i in shown}
    assert served["channel"].iloc[0] == "email" and served["model_id"].iloc[0] == "glmix"


def test_events_need_a_key_are_idempotent_and_dismissals_filter(app):
    app, log = app
    client = TestClient(app)
    item = client.get("/v1/members/m1/recommendations?count=1").json()["items"][0]
    dismiss = {
        "event_id": "d1",
        "tracking_id": item["tracking_id"],
        "type": "action",
        "action": "dismiss",
        "member_id": "m1",
        "item_id": item["item_id"],
        "ts": 1735787045,
    }
    assert client.post("/v1/events", json={"events": [dismiss]}).status_code == 401
    headers = {"X-API-Key": KEY}
    ok = client.post("/v1/events", json={"events": [dismiss]}, headers=headers).json()
    again = client.post("/v1/events", json={"events": [dismiss]}, headers=headers).json()
    assert ok == {"accepted": 1, "duplicates": 0} and again == {"accepted": 0, "duplicates": 1}
    after = client.get("/v1/members/m1/recommendations").json()
    assert item["item_id"] not in [i["item_id"] for i in after["items"]] and after["total"] == 4
    bad = client.post(
        "/v1/events", json={"events": [{**dismiss, "event_id": "d2", "type": "x"}]}, headers=headers
    )
    assert bad.status_code == 400 and bad.json()["field"] == "type"
    client.close()
    assert (log.read()["type"] == "action").sum() == 1  # the bad batch changed nothing


def test_followed_skills_blend_their_courses_first(app):
    app, _ = app
    with TestClient(app) as client:
        _followed(client)


def _followed(client):
    follow = {
        "event_id": "f1",
        "tracking_id": "t",
        "type": "action",
        "action": "follow",
        "member_id": "m1",
        "item_id": "Python",
        "item_type": "skill",
        "ts": 1735787045,
    }
    plain = client.get("/v1/members/m1/recommendations?count=3").json()["items"]
    assert [i["item_id"] for i in plain] == ["c1", "c2", "c3"]
    client.post("/v1/events", json={"events": [follow]}, headers={"X-API-Key": KEY})
    got = client.get("/v1/members/m1/recommendations?count=3").json()
    assert [i["item_id"] for i in got["items"]] == ["c4", "c5", "c1"]
    assert got["items"][0]["reason_text"] == "Because you follow 'Python'"
    assert got["total"] == 5  # blended, not added twice
    onboarding = client.get("/v1/members/newcomer/recommendations?skills=sql").json()
    assert onboarding["cold_start"] and onboarding["items"][0]["item_id"] == "c9"
    assert onboarding["items"][0]["score"] is None  # not in the served list: no model score


def test_every_well_formed_read_answers_as_the_schema_says(app, tmp_path):
    """Plain requests are answered before FastAPI; odd ones by FastAPI: the same answers."""
    app, _ = app

    def same(a, b):
        strip = lambda body: {  # noqa: E731
            **body,
            "items": [{k: v for k, v in i.items() if k != "tracking_id"} for i in body["items"]],
        }
        assert strip(a) == strip(b)

    with TestClient(app) as client:
        get = lambda q: client.get(f"/v1/members/m1/recommendations{q}")  # noqa: E731
        same(get("?count=3&count=2").json(), get("?count=2").json())  # repeated: FastAPI's
        same(get("?count=2&start=1&unknown=1").json(), get("?start=1&count=2").json())
        same(get("?skills=SQL&skills=Python&count=3").json(), get("?skills=Python&count=3").json())
        for query, field in [
            ("?count=x", "count"),
            ("?start=-1", "start"),
            ("?count=101", "count"),
            ("?count=" + "9" * 5000, "count"),  # past int()'s digit limit: still a 422
        ]:
            wrong = get(query)
            assert wrong.status_code == 422 and wrong.json()["field"] == field, query
        assert get("?channel=" + "x" * 65).json()["field"] == "channel"
        text = client.get("/metrics").text
        assert 'route="/v1/members/{member_id}/recommendations",status="200"} 6.0' in text
    keyed = create_app(
        store=LMDBStore(tmp_path / "store", readonly=True),
        treatment=lambda m: ("A", "affinity"),
        api_key_hashes=[hash_key(KEY)],
        read_keys=True,
    )
    with TestClient(keyed) as client:
        url = "/v1/members/m1/recommendations"
        assert client.get(url).json()["field"] == "X-API-Key"
        assert client.get(url, headers={"X-API-Key": "guess"}).status_code == 401
        got = client.get(url, headers={"X-API-Key": KEY}).json()
        assert [i["item_id"] for i in got["items"]] == ["c1", "c3", "c5"]


def test_clients_cannot_send_served_events(app):
    app, log = app
    with TestClient(app) as client:
        served = {
            "event_id": "s1",
            "tracking_id": "t1",
            "type": "served",
            "member_id": "m1",
            "item_id": "c1",
            "ts": 1735787045,
        }
        got = client.post("/v1/events", json={"events": [served]}, headers={"X-API-Key": KEY})
        assert got.status_code == 400 and got.json()["field"] == "type"
        assert "recorded by the server" in got.json()["message"]
    assert len(log) == 0


def test_insights_health_metrics_and_errors(app):
    app, _ = app
    client = TestClient(app)
    got = client.get("/v1/accounts/A1/insights").json()
    assert got["rows"][0]["narratives"] == {"usage": "Searches rose."}
    assert client.get("/v1/accounts/nope/insights").json()["code"] == "not_found"
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["version"] == "v7"
    wrong = client.get("/v1/members/m1/recommendations?count=0")
    assert wrong.status_code == 422 and wrong.json()["field"] == "count"
    text = client.get("/metrics").text
    assert "lumos_requests_total" in text and "lumos_request_seconds_bucket" in text


def test_no_input_makes_a_server_error(app):
    """Property-based requests against every operation of the OpenAPI schema: never a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app[0])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers={"X-API-Key": KEY})
            assert response.status_code < 500, (case.path, response.text)

        check()


def test_the_fast_path_reads_the_routes_own_limits():
    from lumos.serve._fast import Limits
    from lumos.serve._limits import MAX_START
    from lumos.serve._routers import recommendations

    limits = Limits(recommendations.router(max_count=5).routes[0])
    assert limits.params["count"] == (10, True, 1, 5, None)
    assert limits.params["start"] == (0, True, 0, MAX_START, None)
    assert limits.params["channel"][4] == 64 and limits.params["skills"][4] == 512
    assert limits.parse(b"count=5&channel=email") == {
        "channel": "email",
        "count": 5,
        "start": 0,
        "skills": None,
    }
    for bad in (
        b"count=6",
        b"count=0",
        b"start=10001",
        b"channel=" + b"x" * 65,
        b"count=1&count=2",
    ):
        assert limits.parse(bad) is None, bad  # FastAPI answers these, as the schema says
