"""A real `lumos serve` on a real redis-server (the store and the event log), through the faults
Redis meets: killed with SIGKILL and started again on its data, connections dropped mid-request.
The server answers 503 with Retry-After for the outage, recovers by itself, and loses no
acknowledged event; served events are recorded once each."""

from __future__ import annotations

import json
import time

import redis
from server_helpers import free_port, get, post, publish_store, start, status, stop

from lumos.events import RedisEventLog
from lumos.serve import hash_key
from redis_helpers import Proxy


def impressions(prefix: str, n: int) -> list[dict]:
    return [
        {"event_id": f"{prefix}{i}", "tracking_id": "t", "type": "impression",
         "member_id": "m1", "item_id": "c1", "ts": time.time() - 5}
        for i in range(n)
    ]  # fmt: skip


def serve_on(url: str) -> tuple[object, str]:
    """``lumos serve`` with its store and its event log on the Redis at ``url``."""
    port = free_port()
    args = ["--store", url, "--events", url, "--write-key-hash", hash_key("w")]
    return start(args, port), f"http://127.0.0.1:{port}"


def answered(response) -> tuple[int, str | None, str]:
    """(status, Retry-After, the error code) of a response."""
    body = json.loads(response.read())
    return response.status, response.headers.get("Retry-After"), body.get("code")


def until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def recorded(url: str) -> tuple[list[str], list[str]]:
    """The event ids in the stream at ``url``: (impressions, served)."""
    with RedisEventLog(url, readonly=True) as log:
        events = log.read()
    by_type = events.groupby("type")["event_id"]
    return [by_type.get_group(t).tolist() if t in by_type.groups else [] for t in
            ("impression", "served")]  # fmt: skip


def test_a_redis_restart_is_answered_503_and_nothing_acknowledged_is_lost(redis_server):
    publish_store(redis_server.url)
    server, base = serve_on(redis_server.url)
    recs = f"{base}/v1/members/m1/recommendations"
    shown = 0  # served events the server recorded: two courses a 200
    try:
        for _ in range(3):
            assert status(recs) == 200
            shown += 2
        acked = impressions("a", 50)
        assert post(f"{base}/v1/events", acked).status == 200
        redis_server.kill()
        for path in (recs, f"{recs}?start=0&start=0"):  # the fast path, and FastAPI's route
            assert answered(get(path)) == (503, "1", "store_unavailable")
        assert answered(post(f"{base}/v1/events", impressions("b", 5))) == (
            503, "5", "log_unavailable",
        )  # fmt: skip
        down = get(f"{base}/readyz")
        assert down.status == 503 and redis_server.url in json.loads(down.read())["message"]
        redis_server.start()  # same port, same data; the server is not touched
        until(lambda: status(f"{base}/readyz") == 200, 2, "not ready 2 s after Redis came back")
        assert status(recs) == 200
        shown += 2
        again = post(f"{base}/v1/events", acked)  # the acknowledged batch survived the crash
        assert json.loads(again.read()) == {"accepted": 0, "duplicates": 50}
        metrics = get(f"{base}/metrics").read().decode()
        faults = [line for line in metrics.splitlines() if line.startswith("lumos_store_faults")]
        assert faults and float(faults[0].split()[1]) >= 3
    finally:
        stop(server)
    sent, served = recorded(redis_server.url)
    assert sorted(sent) == sorted(e["event_id"] for e in acked)  # each once
    assert len(served) == shown and len(set(served)) == shown


def test_connections_dropped_mid_request_recover_by_themselves(redis_server):
    publish_store(redis_server.url)
    proxy = Proxy(redis_server.port)  # the server reaches Redis through it
    server, base = serve_on(proxy.url)
    recs, events = f"{base}/v1/members/m1/recommendations", f"{base}/v1/events"
    direct = redis.Redis.from_url(redis_server.url)
    try:
        assert status(recs) == 200
        assert post(events, impressions("a", 5)).status == 200
        until(lambda: direct.xlen("lumos:events") == 7, 2, "the first served events")
        # a round of served events whose answer is lost: written, then sent again by the
        # served-events writer, which skips what was written
        proxy.cut(b'"type":"served"')
        assert status(recs) == 200
        until(lambda: direct.xlen("lumos:events") == 9 and status(f"{base}/readyz") == 200, 2,
              "the served events sent again")  # fmt: skip
        # a batch of events whose answer is lost: 503, and the client's retry adds nothing
        batch = impressions("b", 5)
        proxy.cut(b'"b3"')
        assert answered(post(events, batch)) == (503, "5", "log_unavailable")
        assert json.loads(post(events, batch).read()) == {"accepted": 0, "duplicates": 5}
        # a read whose answer is lost: read again on a new connection, answered 200
        proxy.cut(b"m2")
        assert status(f"{base}/v1/members/m2/recommendations") == 200  # the cold-start list
        assert proxy.cuts == 3
        # every connection of the server closed by Redis: the next requests reconnect
        assert direct.client_kill_filter(_type="normal") >= 1
        assert status(recs) == 200 and status(f"{base}/readyz") == 200
        assert post(events, impressions("c", 5)).status == 200
    finally:
        stop(server)
        proxy.close()
    sent, served = recorded(redis_server.url)
    assert sorted(sent) == sorted(f"{p}{i}" for p in "abc" for i in range(5))
    assert len(served) == 3 * 2 + 1 and len(set(served)) == len(served)  # m2: one course
    direct.close()
