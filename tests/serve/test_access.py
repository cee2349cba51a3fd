"""Who may do what: read, decide and write keys, the dashboard's session, body caps, the
security headers, the loopback rule, and key rotation from a keys file."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from lumos.bandits import OfferModel
from lumos.data.demo import offers
from lumos.errors import LumosUserError
from lumos.events import EventLog
from lumos.serve import create_app, hash_key
from lumos.serve._access import COOKIE, Keys, Sessions
from lumos.serve._config import check_binding, is_loopback
from lumos.store import COLD_START, LMDBStore, build_records

READ, DECIDE, WRITE = "r-key", "d-key", "w-key"
KEYS = {"read": [hash_key(READ)], "decide": [hash_key(DECIDE)], "write": [hash_key(WRITE)]}
#: What the server shows: every page and read route, each answering 200 to a keyed caller.
READS = (
    "/accounts",
    "/learning?member=m1",
    "/network?member=m1",
    "/network/people?member=m1",
    "/offers",
    "/health",
    "/docs",
    "/openapi.json",
    "/metrics",
    "/v1/members/m1/recommendations",
    "/v1/accounts/A1/insights",
)


@pytest.fixture(scope="module")
def offer_model(tmp_path_factory):
    book = offers(200, 1500, random_state=1)
    model = OfferModel(book.arms, book.members, {"batch": 1, "random_state": 0})
    model.retrain(book.events)
    return model


def make_app(folder, offer_model=None, **kw):
    lists = pd.DataFrame(
        {
            "member_id": "m1",
            "course_id": ["c1", "c2"],
            "score": [0.9, 0.8],
            "reason": "skill",
            "reason_text": "Because of your skill 'Python'",
        }
    )
    store = LMDBStore(folder / "store")
    if store.version is None:
        store.publish(
            build_records({"glmix": lists, COLD_START: lists.assign(member_id=COLD_START)})
        )
    insights = pd.DataFrame(
        {"account_id": ["A1"], "score": [0.2], "class": ["upsell"], "predicted_change": [3.0]}
    ).set_index("account_id")
    return create_app(
        store=store,
        treatment=lambda m: ("A", "glmix"),
        events=EventLog(folder / "events"),
        insights=insights,
        offers=offer_model,
        **kw,
    )


def event(i=0, member="m1"):
    return {
        "event_id": f"e{i}",
        "tracking_id": "t",
        "type": "impression",
        "member_id": member,
        "item_id": "c1",
        "ts": time.time() - 60,
    }


def test_with_read_keys_nothing_the_server_shows_answers_without_one(tmp_path):
    app = make_app(tmp_path, keys=KEYS)
    with TestClient(app, follow_redirects=False) as c:
        for path in READS:
            bare = c.get(path)
            if path.startswith(("/v1/", "/metrics", "/openapi.json")):
                assert bare.status_code == 401, path
                assert bare.json()["field"] == "X-API-Key", path
            else:  # a page asks the visitor to sign in, and comes back after
                assert bare.status_code == 303, path
                assert bare.headers["location"].startswith("/login?next=%2F"), path
            for wrong in ({"X-API-Key": "guess"}, {"X-API-Key": WRITE}, {"X-API-Key": DECIDE}):
                assert c.get(path, headers=wrong).status_code in (303, 401), (path, wrong)
            assert c.get(f"{path}{'&' if '?' in path else '?'}key={READ}").status_code in (
                303,
                401,
            )  # never from the query string
            keyed = c.get(path, headers={"X-API-Key": READ})
            assert keyed.status_code in (200, 404), (path, keyed.status_code)  # 404: no cohorts
    served = EventLog(tmp_path / "events", readonly=True).read(type="served")  # once flushed
    assert len(served) == 2  # the one keyed recommendations call; the refused wrote nothing


def test_the_dashboard_asks_once_and_keeps_a_signed_session(tmp_path):
    app = make_app(tmp_path, keys=KEYS)
    with TestClient(app, follow_redirects=False) as c:
        form = c.get("/login?next=/learning%3Fmember%3Dm1")
        assert form.status_code == 200 and 'type="password"' in form.text
        wrong = c.post("/login", data={"key": "guess", "next": "/learning?member=m1"})
        assert "not a read key" in wrong.text and "set-cookie" not in wrong.headers
        also_wrong = c.post("/login", data={"key": WRITE})  # a write key is no read key
        assert "not a read key" in also_wrong.text and "set-cookie" not in also_wrong.headers
        signed = c.post("/login", data={"key": READ, "next": "/learning?member=m1"})
        assert signed.status_code == 303 and signed.headers["location"] == "/learning?member=m1"
        cookie = signed.headers["set-cookie"]
        for part in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"):
            assert part in cookie
        assert c.get("/learning?member=m1").status_code == 200  # the client keeps the cookie
        assert c.get("/v1/accounts/A1/insights").status_code == 200  # the page script's call
        # a session reads; it never decides or writes: no other site can make a browser do so
        assert c.post("/v1/members/om000001/offer?channel=email").status_code == 401
        assert c.post("/v1/events", json={"events": [event()]}).status_code == 401
        # elsewhere: only this server's paths
        away = c.post("/login", data={"key": READ, "next": "//evil.example/x"})
        assert away.headers["location"] == "/accounts"
        c.get("/logout")
        assert c.get("/accounts").status_code == 303
        forged = f"{int(time.time()) + 3600}.{hash_key(READ)}.{'0' * 64}"
        c.cookies.set(COOKIE, forged)
        assert c.get("/accounts").status_code == 303
        other_site = c.post(
            "/login", data={"key": READ}, headers={"Origin": "https://evil.example"}
        )
        assert other_site.status_code == 403


def test_sessions_expire_and_end_with_their_key(tmp_path):
    keys = Keys({"read": [hash_key(READ), hash_key("other")]})
    sessions = Sessions(max_age=60)
    token = sessions.issue(hash_key(READ), now=1000.0)
    assert sessions.check(token, keys, now=1030.0)
    assert not sessions.check(token, keys, now=1061.0)  # expired
    assert not sessions.check(token[:-1] + "x", keys, now=1030.0)  # tampered
    assert not Sessions(max_age=60).check(token, keys, now=1030.0)  # another server's secret
    assert not sessions.check(token, Keys({"read": [hash_key("other")]}), now=1030.0)  # rotated


def test_decisions_and_events_always_need_their_own_key(tmp_path, offer_model):
    app = make_app(tmp_path, offer_model=offer_model, keys=KEYS)
    offer = "/v1/members/om000001/offer?channel=email"
    with TestClient(app) as c:
        for key in (None, READ, WRITE, "", hash_key(DECIDE)):
            headers = {} if key is None else {"X-API-Key": key}
            assert c.post(offer, headers=headers).status_code == 401, key
        assert c.post(offer, headers={"X-API-Key": DECIDE}).status_code == 200
        for key in (None, READ, DECIDE, hash_key(WRITE)):
            headers = {} if key is None else {"X-API-Key": key}
            got = c.post("/v1/events", json={"events": [event()]}, headers=headers)
            assert got.status_code == 401, key
        ok = c.post("/v1/events", json={"events": [event()]}, headers={"X-API-Key": WRITE})
        assert ok.status_code == 200
    # with no keys at all, reads are open but decisions and writes are not
    open_app = make_app(tmp_path / "open", offer_model=offer_model)
    with TestClient(open_app) as c:
        assert c.get("/v1/members/m1/recommendations").status_code == 200
        assert c.post(offer).status_code == 401
        assert c.post("/v1/events", json={"events": [event()]}).status_code == 401


def test_an_unknown_member_gets_an_answer_and_leaves_no_state(tmp_path, offer_model):
    app = make_app(tmp_path, offer_model=offer_model, keys=KEYS)
    h = {"X-API-Key": DECIDE}
    with TestClient(app) as c:
        before = dict(c.app.state.services.held())
        for i in range(300):
            got = c.post(f"/v1/members/stranger{i}/offer?channel=email", headers=h)
            assert got.status_code == 200 and got.json()["cold_start"]
        assert c.app.state.services.held() == before
        known = c.post("/v1/members/om000001/offer?channel=email", headers=h).json()
        assert not known["cold_start"]
        assert c.app.state.services.held()["offer_pending"] == before["offer_pending"] + 1
        metrics = c.get("/metrics", headers={"X-API-Key": READ}).text
        assert 'lumos_held_entries{table="offer_pending"}' in metrics
        assert 'lumos_refused_total{scope="decide"}' not in metrics  # none refused yet
    served = EventLog(tmp_path / "events", readonly=True).read(item_type="offer")
    assert served["member_id"].tolist() == ["om000001"]


def test_bodies_are_capped_and_refused_before_they_are_read(tmp_path):
    app = make_app(tmp_path, keys=KEYS, events_body=4096)
    with TestClient(app) as c:
        big = {"events": [event(i) for i in range(100)]}
        unkeyed = c.post("/v1/events", json=big)
        assert unkeyed.status_code == 401  # the key first: an anonymous body is never read
        keyed = c.post("/v1/events", json=big, headers={"X-API-Key": WRITE})
        assert keyed.status_code == 413 and keyed.json()["code"] == "body_too_large"
        assert "4,096 bytes" in keyed.json()["message"]
        small = c.post("/v1/events", json={"events": [event()]}, headers={"X-API-Key": WRITE})
        assert small.status_code == 200
        chunked = c.post(
            "/v1/events",
            content=(b"x" * 1024 for _ in range(10)),  # no Content-Length: counted as read
            headers={"X-API-Key": WRITE, "Content-Type": "application/json"},
        )
        assert chunked.status_code == 413


def test_every_response_carries_the_security_headers_and_no_host_redirect(tmp_path):
    app = make_app(tmp_path)
    with TestClient(app, follow_redirects=False) as c:
        for path in ("/accounts", "/v1/members/m1/recommendations", "/nope", "/static/lumos.css"):
            got = c.get(path)
            assert got.headers["content-security-policy"].startswith("default-src 'self'")
            assert got.headers["x-frame-options"] == "DENY"
            assert got.headers["x-content-type-options"] == "nosniff"
            assert got.headers["referrer-policy"] == "no-referrer"
        slashed = c.get("/accounts/", headers={"Host": "evil.example"})
        assert slashed.status_code == 404 and "location" not in slashed.headers
        docs = c.get("/docs")
        assert docs.status_code == 200 and "cdn" not in docs.text.lower()
        assert "<script" not in docs.text.replace('<script src="/static/lumos.js"', "")
        assert "POST /v1/members/{member_id}/offer" in docs.text and "decide key" in docs.text
        assert "at most 256 characters" in docs.text  # the limits, from the routes


def test_ids_and_values_have_limits_the_fast_path_shares(tmp_path):
    app = make_app(tmp_path)
    with TestClient(app) as c:
        long = "m" * 257
        for path in (
            f"/v1/members/{long}/recommendations",
            f"/v1/members/{long}/cohorts",
            f"/v1/accounts/{long}/insights",
            "/v1/members/m1/recommendations?channel=" + "c" * 65,
        ):
            got = c.get(path)
            assert got.status_code == 422, path
        assert c.get(f"/v1/members/{'m' * 256}/recommendations").status_code == 200
    assert len(EventLog(tmp_path / "events", readonly=True).read(type="served")) == 2


def test_no_read_keys_binds_to_loopback_only(tmp_path):
    app = make_app(tmp_path)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    said = check_binding("127.0.0.1", app)
    assert "open to this machine only" in said[0]
    with pytest.raises(LumosUserError, match="--insecure-public"):
        check_binding("0.0.0.0", app)
    assert "OPEN" in check_binding("0.0.0.0", app, insecure_public=True)[0]
    keyed = make_app(tmp_path / "keyed", keys=KEYS)
    assert "need a read key" in check_binding("0.0.0.0", keyed)[0]


def test_keys_rotate_from_a_file_without_a_restart(tmp_path):
    file = tmp_path / "keys.yaml"
    file.write_text(f"read: [{hash_key('old')}]\nwrite: [{hash_key(WRITE)}]\n")
    app = make_app(tmp_path, keys_file=file)
    with TestClient(app) as c:
        url = "/v1/members/m1/recommendations"
        assert c.get(url, headers={"X-API-Key": "old"}).status_code == 200
        time.sleep(1.1)  # the file is looked at no more than once a second
        file.write_text(f"read: [{hash_key('new')}]\nwrite: [{hash_key(WRITE)}]\n")
        assert c.get(url, headers={"X-API-Key": "new"}).status_code == 200
        assert c.get(url, headers={"X-API-Key": "old"}).status_code == 401
        time.sleep(1.1)
        file.write_text("read: [not-a-digest]\n")  # a bad edit keeps the keys it had
        assert c.get(url, headers={"X-API-Key": "new"}).status_code == 200
        assert c.app.state.services.keys.reload_errors == 1


def test_bad_keys_are_named():
    with pytest.raises(LumosUserError, match="not a SHA-256 hex digest"):
        create_app(store=None, treatment=lambda m: ("A", "x"), keys={"read": ["secret"]})
    with pytest.raises(LumosUserError, match="'admin' is not a scope"):
        create_app(store=None, treatment=lambda m: ("A", "x"), keys={"admin": [hash_key("k")]})


def test_the_event_time_window_is_the_servers_to_configure(tmp_path):
    from lumos.serve import ServeConfig, app_from_config

    make_app(tmp_path).state.services.store.close()  # publishes the store, then lets it go
    config = ServeConfig(
        store=str(tmp_path / "store"),
        events=str(tmp_path / "late"),
        write_key_hashes=(hash_key(WRITE),),
        events_horizon="2020-01-01",
        events_skew=0,
    )
    h = {"X-API-Key": WRITE}
    with TestClient(app_from_config(config)) as c:
        old = c.post("/v1/events", json={"events": [{**event(), "ts": "2019-12-31"}]}, headers=h)
        assert old.status_code == 400 and old.json()["field"].endswith("ts")
        ahead = {**event(1), "ts": time.time() + 60}
        assert c.post("/v1/events", json={"events": [ahead]}, headers=h).status_code == 400
        ok = {**event(2), "ts": "2020-06-01"}
        assert c.post("/v1/events", json={"events": [ok]}, headers=h).status_code == 200
    with pytest.raises(LumosUserError, match="is not a date"):
        ServeConfig(store="s", events_horizon="soon")
