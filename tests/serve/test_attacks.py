"""What an attacker on the network tried, as real requests to a real `lumos serve` on loopback:
an anonymous 100 MB body, a 65,000-character id, events the log could not read back, the
dashboard without a key, and a public bind with reads open."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from click.testing import CliRunner
from server_helpers import free_port, publish_store, rss_mb, start, stop

from lumos.cli import main
from lumos.events import EventLog
from lumos.serve import hash_key

READ, DECIDE, WRITE = "read-k", "decide-k", "write-k"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacked")
    publish_store(folder / "store")
    return folder


def args(folder):
    return [
        "--store",
        folder / "store",
        "--events",
        folder / "events",
        "--read-key-hash",
        hash_key(READ),
        "--decide-key-hash",
        hash_key(DECIDE),
        "--write-key-hash",
        hash_key(WRITE),
    ]


@pytest.fixture(scope="module")
def server(folder):
    port = free_port()
    proc = start(args(folder), port)
    yield port, proc
    stop(proc)


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        got = conn.getresponse()
        return got.status, dict(got.getheaders()), got.read()
    finally:
        conn.close()


def declared_body(port, length: int, key: str | None) -> tuple[int, float]:
    """Send headers declaring a ``length``-byte body and 1 MB of it, then read the answer
    (a server that waits for the whole body never answers in time)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        head = (
            f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n"
        )
        if key is not None:
            head += f"X-API-Key: {key}\r\n"
        started = time.perf_counter()
        s.sendall((head + "\r\n").encode())
        try:
            s.sendall(b"[" * 1_000_000)
        except OSError:
            pass  # the server already answered and closed
        answer = s.recv(4096).decode("latin-1")
        return int(answer.split()[1]), time.perf_counter() - started


def served_events(folder) -> int:
    with EventLog(folder / "events", readonly=True) as log:
        return len(log.read(type="served"))


def test_an_anonymous_100mb_body_is_refused_before_it_is_read(server):
    port, proc = server
    before = rss_mb(proc.pid)
    status, seconds = declared_body(port, 100_000_000, key=None)
    assert status == 401 and seconds < 5
    status, _ = declared_body(port, 100_000_000, key=WRITE)  # a writer's too: capped at 1 MB
    assert status == 413
    assert rss_mb(proc.pid) - before < 20  # nothing of it was kept


def test_a_65000_character_id_is_refused_and_writes_nothing(server, folder):
    port, _ = server
    before = served_events(folder)
    status, _, _ = request(
        port, "GET", f"/v1/members/{'m' * 65_000}/recommendations", headers={"X-API-Key": READ}
    )
    assert 400 <= status < 500
    ok, _, _ = request(port, "GET", "/v1/members/m1/recommendations", headers={"X-API-Key": READ})
    assert ok == 200
    time.sleep(0.3)  # served events are written every 20 ms
    assert served_events(folder) == before + 2  # the two items of the good request only


def test_the_dashboard_and_its_surroundings_need_a_read_key(server):
    port, _ = server
    for path in ("/accounts", "/learning?member=m1", "/network?member=m1", "/docs"):
        status, headers, _ = request(port, "GET", path)
        assert status == 303 and headers["location"].startswith("/login?next="), path
    for path in ("/metrics", "/openapi.json", "/v1/members/m1/recommendations"):
        status, headers, _ = request(port, "GET", path)
        assert status == 401, path
        assert (
            headers["x-frame-options"] == "DENY"
            and "default-src 'self'" in (headers["content-security-policy"])
        )
    status, _, _ = request(port, "GET", "/metrics", headers={"X-API-Key": READ})
    assert status == 200
    status, _, _ = request(port, "POST", "/v1/members/m1/offer?channel=email")
    assert status == 401  # a decision needs a decide key, a page's session or not


BAD = [
    ('"position": 1180591620717411303424', "position"),
    ('"item_id": "\\ud800x"', "item_id"),
    ('"ts": 4070908800', "ts"),  # 2099
]


@pytest.mark.parametrize(("field", "name"), BAD)
def test_an_event_the_log_could_not_read_back_is_refused(server, folder, field, name):
    port, _ = server
    base = {
        "event_id": f"bad-{name}",
        "tracking_id": "t",
        "type": "impression",
        "member_id": "m1",
        "item_id": "c1",
        "ts": int(time.time()) - 60,
        "position": 0,
    }
    text = json.dumps({"events": [base]})
    key = f'"{name}": ' + json.dumps(base[name])
    assert key in text
    body = text.replace(key, field).encode()
    status, _, answer = request(
        port,
        "POST",
        "/v1/events",
        body,
        {"X-API-Key": WRITE, "Content-Type": "application/json"},
    )
    assert status == 400, answer
    assert json.loads(answer)["field"].endswith(name)


def test_the_server_starts_again_on_what_it_accepted(server, folder):
    port, proc = server
    good = {
        "event_id": "ok-1",
        "tracking_id": "t",
        "type": "action",
        "action": "click",
        "member_id": "é\\\x01",  # after a restart, still one member and a duplicate
        "item_id": "c1",
        "ts": int(time.time()) - 60,
    }
    h = {"X-API-Key": WRITE, "Content-Type": "application/json"}
    status, _, _ = request(port, "POST", "/v1/events", json.dumps({"events": [good]}), h)
    assert status == 200
    stop(proc)
    again = start(args(folder), port)
    try:
        status, _, answer = request(port, "POST", "/v1/events", json.dumps({"events": [good]}), h)
        assert status == 200 and json.loads(answer) == {"accepted": 0, "duplicates": 1}
    finally:
        stop(again)
    runner = CliRunner()
    report = runner.invoke(main, ["report", "funnel", "--events", str(folder / "events")])
    assert report.exit_code == 0, report.output


def test_a_public_bind_with_reads_open_is_refused_before_anything_loads(tmp_path):
    runner = CliRunner()
    got = runner.invoke(main, ["serve", "--store", str(tmp_path / "nowhere"), "--host", "0.0.0.0"])
    assert got.exit_code != 0
    assert "--insecure-public" in got.output and "no read key" in got.output
    assert not (tmp_path / "nowhere").exists()


def test_a_line_the_log_cannot_read_never_stops_a_start(folder, tmp_path):
    events = tmp_path / "events"
    with EventLog(events) as log:
        log.append([{**GOOD, "event_id": "kept"}])
    with open(events / "segment-00000001.jsonl", "ab") as f:  # what an older server wrote
        f.write(b'{"event_id": "x", "position": 1180591620717411303424}\n')
    port = free_port()
    argv = [*args(folder)[:2], "--events", events, *args(folder)[4:]]
    proc = start(argv, port, out=tmp_path / "said.txt")
    try:
        status, _, text = request(port, "GET", "/metrics", headers={"X-API-Key": READ})
        assert status == 200 and "lumos_events_quarantined 1.0" in text.decode()
    finally:
        stop(proc)
    said = (tmp_path / "said.txt").read_text()
    assert said.count("warning: event log") == 1 and "quarantine.jsonl" in said
    with EventLog(events, readonly=True) as log:
        assert "kept" in set(log.read()["event_id"])


GOOD = {
    "tracking_id": "t",
    "type": "impression",
    "member_id": "m1",
    "item_id": "c1",
    "ts": 1767225600,
}
