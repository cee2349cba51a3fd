"""The fixed attack suite of ``benchmarks/security.py``: what it sends, and how it counts.

* :func:`protected` — every route that needs a key, with the scope it needs;
* :func:`credentials` — the ways to ask for a scope without its key: none,
  wrong, empty, oversized, another scope's, the digest sent as the key, the key
  in the query string or a cookie, forged and garbage session cookies, a real
  read session on a route that decides or writes;
* :data:`TRICKS` — paths that try to slip past the guard (dot segments under
  the open ``/static/``, encodings, trailing slashes, double slashes);
* :func:`hostile_inputs` — ids, parameters and page tokens a route must refuse
  or bound, sent with the right key;
* :func:`hostile_events` — events a log must refuse or read back, as raw bodies;
* :class:`Tally` — every request sent, its 5xx and its 2xx without a valid
  credential; :func:`access_attacks` sends all but the events, :func:`post_events`
  those.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
from collections import Counter

from lumos.serve import hash_key

READ, DECIDE, WRITE = "bench-read-key-1", "bench-decide-key-1", "bench-write-key-1"
KEYS = {"read": READ, "decide": DECIDE, "write": WRITE}
COOKIE = "lumos_session"
KEPT = 20  # findings kept per kind


def event(event_id: str, /, **fields) -> dict:
    """A well-formed impression of a demo member, ``fields`` replacing its own."""
    return {
        "event_id": event_id,
        "tracking_id": "bench-tracking",
        "type": "impression",
        "member_id": "M000001",
        "item_id": "C0001",
        "ts": int(time.time()) - 60,
        "position": 0,
        **fields,
    }


def protected(member: str, account: str, cohort: str) -> list[tuple[str, str, str]]:
    """``(method, path, scope)`` of every route that needs a key: the dashboard's pages, the
    API's reads, /metrics, /docs, /openapi.json, and the routes that decide and write."""
    reads = [
        ("GET", "/"),
        ("GET", "/accounts"),
        ("GET", f"/learning?member={member}"),
        ("GET", f"/network?member={member}"),
        ("GET", f"/network/{cohort}?member={member}"),
        ("GET", "/offers"),
        ("GET", "/health"),
        ("GET", "/docs"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", f"/v1/members/{member}/recommendations"),
        ("GET", f"/v1/members/{member}/cohorts"),
        ("GET", f"/v1/members/{member}/cohorts/{cohort}"),
        ("GET", f"/v1/accounts/{account}/insights"),
        ("HEAD", "/metrics"),
        ("HEAD", "/accounts"),
        ("HEAD", f"/v1/members/{member}/recommendations"),
    ]
    return [
        *((m, p, "read") for m, p in reads),
        ("POST", f"/v1/members/{member}/offer?channel=email", "decide"),
        ("POST", "/v1/events", "write"),
    ]


def _forged(digest: str, secret: bytes) -> str:
    body = f"{int(time.time()) + 3600}.{digest}"
    return f"{body}.{hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()}"


def credentials(scope: str, session: str | None) -> list[tuple[str, dict, str]]:
    """``(name, headers, query)`` of each way to ask for ``scope`` without one of its keys;
    ``session`` is a real read session's cookie value (None when signing in failed)."""
    right, read_digest = KEYS[scope], hash_key(READ)
    far = int(time.time()) + 10 * 365 * 86400
    out = [
        ("no key", {}, ""),
        ("wrong key", {"X-API-Key": "wrong"}, ""),
        ("empty key", {"X-API-Key": ""}, ""),
        ("8 KB key", {"X-API-Key": "k" * 8192}, ""),
        ("the key with its case changed", {"X-API-Key": right.upper()}, ""),
        ("the key's SHA-256 digest as the key", {"X-API-Key": hash_key(right)}, ""),
        *((f"the {s} key", {"X-API-Key": KEYS[s]}, "") for s in KEYS if s != scope),
        *(
            (f"the key in the query (?{name}=)", {}, f"{name}={right}")
            for name in ("api_key", "key", "X-API-Key", "x-api-key", "apikey", "token")
        ),
        ("the key in a cookie", {"Cookie": f"X-API-Key={right}; api_key={right}"}, ""),
        ("garbage session", {"Cookie": f"{COOKIE}=garbage"}, ""),
        ("empty session", {"Cookie": f"{COOKIE}="}, ""),
        ("oversized session", {"Cookie": f"{COOKIE}={'a' * 4000}"}, ""),
        ("session without a signature", {"Cookie": f"{COOKIE}={far}.{read_digest}."}, ""),
        (
            "session signed with a guessed secret",
            {"Cookie": f"{COOKIE}={_forged(read_digest, b'secret')}"},
            "",
        ),
        (
            "session signed with an empty secret",
            {"Cookie": f"{COOKIE}={_forged(read_digest, b'')}"},
            "",
        ),
        (
            "session whose signature is the body's SHA-256",
            {
                "Cookie": f"{COOKIE}={far}.{read_digest}."
                + hashlib.sha256(f"{far}.{read_digest}".encode()).hexdigest()
            },
            "",
        ),
    ]
    if session is not None:
        later = f"{COOKIE}={far}." + session.split(".", 1)[1]
        out.append(("a real session with its expiry pushed out", {"Cookie": later}, ""))
        if scope != "read":  # a session only reads: no site can make a browser decide or write
            out.append(("a real read session", {"Cookie": f"{COOKIE}={session}"}, ""))
    return out


#: Paths that try to reach a protected route past the guard, with no key (``GET``) and with
#: the read key for the routes that decide and write (``POST``).
TRICKS = [
    ("GET", "/static/../metrics"),
    ("GET", "/static/%2e%2e/metrics"),
    ("GET", "/static/..%2fmetrics"),
    ("GET", "/static/../openapi.json"),
    ("GET", "/static/../v1/members/M000001/recommendations"),
    ("GET", "/static/../../../../../../etc/passwd"),
    ("GET", "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("GET", "/static/../../_access.py"),
    ("GET", "/healthz/../metrics"),
    ("GET", "/login/../metrics"),
    ("GET", "/favicon.ico/../metrics"),
    ("GET", "//metrics"),
    ("GET", "/metrics/"),
    ("GET", "/METRICS"),
    ("GET", "/metrics;x"),
    ("GET", "/metrics%00"),
    ("GET", "/%6detrics"),
    ("GET", "/docs/"),
    ("GET", "/openapi.json/"),
    ("GET", "/v1/members/M000001/recommendations/"),
    ("GET", "//v1/members/M000001/recommendations"),
    ("GET", "/v1//members/M000001/recommendations"),
    ("POST", "/v1/events/"),
    ("POST", "//v1/events"),
    ("POST", "/v1/./events"),
    ("POST", "/v1/events;x"),
    ("POST", "/v1/events%2F"),
    ("POST", "/V1/events"),
    ("POST", "/v1/members/M000001/offer/?channel=email"),
    ("POST", "/v1/members/M000001/offer;x?channel=email"),
    ("POST", "/v1/members/M000001/./offer?channel=email"),
    ("POST", "//v1/members/M000001/offer?channel=email"),
    ("POST", "/v1/members/M000001/offer%3F?channel=email"),
]


def hostile_inputs(member: str, cohort: str) -> list[tuple[str, str, str]]:
    """``(method, path, scope)``: ids, parameters and page tokens to refuse or bound, each
    sent with its scope's key (only a 5xx is wrong here)."""
    ids = [
        "m" * 257,
        "m" * 65_000,
        "%00",
        "%FF",
        "%ED%A0%80",  # a lone surrogate, UTF-8-encoded
        "..",
        "%2E%2E",
        "a%2Fb",
        "%F0%9F%92%A9" * 60,
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "__proto__",
        "cold_start",
        "%20",
    ]
    out = []
    for i in ids:
        out += [
            ("GET", f"/v1/members/{i}/recommendations", "read"),
            ("GET", f"/v1/members/{i}/cohorts", "read"),
            ("GET", f"/v1/members/{i}/cohorts/{cohort}", "read"),
            ("GET", f"/v1/members/{member}/cohorts/{i}", "read"),
            ("GET", f"/v1/accounts/{i}/insights", "read"),
            ("POST", f"/v1/members/{i}/offer?channel=email", "decide"),
            ("GET", f"/learning?member={i}", "read"),
            ("GET", f"/network?member={i}", "read"),
            ("GET", f"/network/{i}?member={member}", "read"),
        ]
    recs = f"/v1/members/{member}/recommendations"
    for query in (
        "count=0",
        "count=-1",
        f"count={10**30}",
        "count=abc",
        "count=1e3",
        "count=NaN",
        "start=-1",
        f"start={10**30}",
        "start=10001",
        "count=1&count=2",
        "skills=" + "x" * 600,
        "skills=" + ",".join(["python"] * 200),
        "skills=%00%FF",
        "channel=" + "c" * 100,
        "channel=%FF",
    ):
        out.append(("GET", f"{recs}?{query}", "read"))
    for query in (
        "",
        "channel=",
        "channel=" + "c" * 100,
        "channel=%FF",
        "channel=email&channel=feed",
    ):
        out.append(("POST", f"/v1/members/{member}/offer?{query}", "decide"))
    for token in ("x", "A" * 512, "A" * 600, "e30", "%FF%FE", "..%2F.."):
        out.append(("GET", f"/v1/members/{member}/cohorts/{cohort}?page_token={token}", "read"))
        out.append(("GET", f"/network/{cohort}?member={member}&page_token={token}", "read"))
    for query in ("max_items=0", "max_items=51", "locale=" + "l" * 40, "locale=%FF", "channel=%00"):
        out.append(("GET", f"/v1/members/{member}/cohorts?{query}", "read"))
    for query in (
        "sort=__class__",
        "sort=score&order=sideways",
        "class=%00",
        "product=%FF",
        "q=" + "q" * 5000,
        "q=%3Cscript%3E",
        "min_score=NaN",
        "min_score=1e999",
        "min_score=-inf",
        "page=0",
        f"page={10**30}",
        "page=-5",
    ):
        out.append(("GET", f"/accounts?{query}", "read"))
    for query in ("model=%00", "model=" + "m" * 300, "model=..%2F..%2Fetc"):
        out.append(("GET", f"/health?{query}", "read"))
    return out


def _batch(*events: dict) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def _raw(name: str, field: str, text: str) -> bytes:
    """One event whose ``field`` holds ``text``, raw JSON (a literal ``json.dumps`` won't
    write: a lone surrogate, NaN, a number past 2**63)."""
    body = json.dumps({"events": [event(name, **{field: "@@"})]})
    return body.replace('"@@"', text).encode()


def controls() -> list[tuple[str, bytes, list[str]]]:
    """``(case, body, event ids)``: well-formed batches, accepted and read back."""
    full = [f"c-1k-{i}" for i in range(1000)]
    return [
        ("one event", _batch(event("c-one")), ["c-one"]),
        ("non-ASCII event_id", _batch(event("c-café")), ["c-café"]),
        ("1,000-event batch", _batch(*(event(i) for i in full)), full),
    ]


def hostile_events() -> list[tuple[str, bytes, list[str]]]:
    """``(case, body, event ids)``: batches a log must refuse or be able to read back."""
    big = [f"h-big-{i}" for i in range(1001)]
    return [
        ("position 2**70", _raw("h-pos70", "position", str(2**70)), ["h-pos70"]),
        ("position 2**63", _raw("h-pos63", "position", str(2**63)), ["h-pos63"]),
        ("position -2**63-1", _raw("h-posneg", "position", str(-(2**63) - 1)), ["h-posneg"]),
        ("item_id lone surrogate", _raw("h-sur-item", "item_id", '"\\ud800x"'), ["h-sur-item"]),
        ("member_id lone surrogate", _raw("h-sur-mem", "member_id", '"\\udfffy"'), ["h-sur-mem"]),
        ("event_id lone surrogate", _raw("x", "event_id", '"h-sur-ev\\ud800"'), ["h-sur-ev\ud800"]),
        ("value NaN", _raw("h-nan", "value", "NaN"), ["h-nan"]),
        ("propensity Infinity", _raw("h-inf", "propensity", "Infinity"), ["h-inf"]),
        ("value -Infinity", _raw("h-ninf", "value", "-Infinity"), ["h-ninf"]),
        ("ts 1e999", _raw("h-ts-inf", "ts", "1e999"), ["h-ts-inf"]),
        ("ts NaN", _raw("h-ts-nan", "ts", "NaN"), ["h-ts-nan"]),
        ("ts in 2099", _raw("h-ts2099", "ts", "4070908800"), ["h-ts2099"]),
        ("ts in 1970", _raw("h-ts1970", "ts", "0"), ["h-ts1970"]),
        ("ts -1e18", _raw("h-tsneg", "ts", "-1000000000000000000"), ["h-tsneg"]),
        ("ts 9999-12-31", _raw("h-ts9999", "ts", '"9999-12-31T23:59:59Z"'), ["h-ts9999"]),
        ("ts 0001-01-01", _raw("h-ts0001", "ts", '"0001-01-01T00:00:00Z"'), ["h-ts0001"]),
        ("300-character member_id", _batch(event("h-long-m", member_id="m" * 300)), ["h-long-m"]),
        ("300-character item_id", _batch(event("h-long-i", item_id="i" * 300)), ["h-long-i"]),
        ("300-character event_id", _batch(event("e" * 300)), ["e" * 300]),
        (
            "control characters in ids",
            _batch(event("h-ctl", member_id="a\x00b\x1b[31m\r\n", item_id="c\x07\x7f\u2028")),
            ["h-ctl"],
        ),
        ("event_id with a quote and a backslash", _batch(event('h-"q\\')), ['h-"q\\']),
        ("event_id with a newline", _batch(event("h-nl\nx")), ["h-nl\nx"]),
        ("nested object as item_id", _batch(event("h-obj", item_id={"a": {"b": [1]}})), ["h-obj"]),
        ("list as position", _batch(event("h-list", position=[1, 2])), ["h-list"]),
        ("operator object as member_id", _batch(event("h-op", member_id={"$gt": ""})), ["h-op"]),
        ("bool as position", _batch(event("h-bool", position=True)), ["h-bool"]),
        ("string as position", _batch(event("h-strpos", position="1")), ["h-strpos"]),
        ("empty member_id", _batch(event("h-empty", member_id="")), ["h-empty"]),
        ("served event", _batch(event("h-served", type="served")), ["h-served"]),
        ("unknown type", _batch(event("h-type", type="x" * 100)), ["h-type"]),
        (
            "extra fields",
            _batch(event("h-extra", __proto__={"admin": True}, x="y" * 1000)),
            ["h-extra"],
        ),
        ("1,001-event batch", _batch(*(event(i) for i in big)), big),
        ("deeply nested JSON", b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", []),
        (
            "deeply nested field",
            json.dumps({"events": [event("h-deep", item_id="@@")]})
            .replace('"@@"', "{" + '"a":{' * 5000 + "}" * 5000 + "}")
            .encode(),
            ["h-deep"],
        ),
        (
            "non-UTF-8 bytes",
            _raw("h-latin", "item_id", '"caf\xe9"').replace(b"\xc3\xa9", b"\xe9"),
            ["h-latin"],
        ),
        (
            "invalid UTF-8 in a string",
            _raw("h-bytes", "item_id", '"x@y"').replace(b"@", b"\xff\xfe"),
            ["h-bytes"],
        ),
        ("UTF-8 BOM", b"\xef\xbb\xbf" + _batch(event("h-bom")), ["h-bom"]),
        ("UTF-16 body", _batch(event("h-utf16")).decode().encode("utf-16"), ["h-utf16"]),
        ("a list, not an object", json.dumps([event("h-list-body")]).encode(), ["h-list-body"]),
        ("null", b"null", []),
        ("empty body", b"", []),
        ("empty batch", b'{"events": []}', []),
        (
            "duplicate keys",
            b'{"events": [], "events": [' + json.dumps(event("h-dup")).encode() + b"]}",
            ["h-dup"],
        ),
    ]


class Tally:
    """Every request the suite sent, by phase: 5xx, and 2xx to a request that had no valid
    key or session for its route (the findings, a few of each kept with their request)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent, self.errors, self.open, self.silent = Counter(), Counter(), Counter(), Counter()
        self.findings = {"server_errors": [], "unauthenticated_2xx": []}

    def note(self, phase, method, path, status, *, refused, what="", answer=b""):
        """One request's answer; ``refused``: it carried no valid credential for a
        protected route."""
        with self.lock:
            self.sent[phase] += 1
            self.silent[phase] += status == 0
            kinds = []
            if status >= 500:
                self.errors[phase] += 1
                kinds.append("server_errors")
            if refused and 200 <= status < 300:
                self.open[phase] += 1
                kinds.append("unauthenticated_2xx")
            for kind in kinds:
                if len(self.findings[kind]) < KEPT:
                    self.findings[kind].append(
                        {
                            "phase": phase,
                            "request": f"{method} {path[:300]}",
                            "credential": what,
                            "status": status,
                            "answer": answer[:300].decode("utf-8", "replace"),
                        }
                    )


def request(port, method, path, body=None, headers=None, timeout=60):
    """``(status, headers, body)``; status 0 when the server gave no answer."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        got = conn.getresponse()
        return got.status, dict(got.getheaders()), got.read()
    except (OSError, http.client.HTTPException):
        return 0, {}, b""
    finally:
        conn.close()


def declared_body(port, path, length, headers) -> int:
    """The status of a POST declaring a ``length``-byte body, of which 1 MB is sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        s.sendall((head + "\r\n").encode())
        try:
            s.sendall(b"[" * 1_000_000)
        except OSError:
            pass  # the server answered and closed
        try:
            return int(s.recv(4096).split()[1])
        except (OSError, IndexError, ValueError):
            return 0


def with_query(path: str, query: str) -> str:
    return path if not query else path + ("&" if "?" in path else "?") + query


def sign_in(port: int, key: str, origin: str | None = None) -> tuple[int, str | None]:
    """``POST /login`` with ``key``: its status and the session cookie it set, if any."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin:
        headers["Origin"] = origin
    status, got, _ = request(port, "POST", "/login", f"key={key}&next=/accounts", headers)
    cookie = got.get("set-cookie", "")
    value = cookie.split(";")[0].partition("=")[2] if cookie.startswith("lumos_session=") else ""
    return status, value or None


def access_attacks(port: int, tally: Tally, member: str, account: str, cohort: str) -> dict:
    """Phase 1: every protected route without a valid credential, path tricks, big bodies,
    hostile inputs with the right key. What signing in gave goes to the details."""
    status, session = sign_in(port, READ)
    tally.note("access", "POST", "/login (read key)", status, refused=False)
    sign_ins = {"read key": {"status": status, "session_given": session is not None}}
    for name, key, origin in (
        ("decide key", DECIDE, None),
        ("write key", WRITE, None),
        ("wrong key", "wrong", None),
        ("read key from another site", READ, "http://evil.example"),
    ):
        status, cookie = sign_in(port, key, origin)
        sign_ins[name] = {"status": status, "session_given": cookie is not None}
        tally.note("access", "POST", f"/login ({name})", status, refused=False)
        if cookie is not None:  # a session it should not have given: try it everywhere
            for method, path, _ in protected(member, account, cohort):
                headers = {"Cookie": f"lumos_session={cookie}"}
                s, _, a = request(port, method, path, headers=headers)
                tally.note("access", method, path, s, refused=True, what=name, answer=a)
    routes = protected(member, account, cohort)
    right, n = {}, 0
    for method, path, scope in routes:
        n += 1
        body = _events_body(f"ok-{n}") if path == "/v1/events" else None
        status, _, answer = request(port, method, path, body, {"X-API-Key": KEYS[scope]})
        right[f"{method} {path}"] = status
        tally.note("access", method, path, status, refused=False, answer=answer)
    for method, path, scope in routes:
        for what, headers, query in credentials(scope, session):
            n += 1
            body = _events_body(f"a-{n}") if path == "/v1/events" else None
            target = with_query(path, query)
            status, _, answer = request(port, method, target, body, headers)
            tally.note("access", method, target, status, refused=True, what=what, answer=answer)
    for method, path in TRICKS:
        tries = [("no key", {})] + (
            [("the read key", {"X-API-Key": READ})] if method == "POST" else []
        )
        for what, headers in tries:
            n += 1
            body = _events_body(f"t-{n}") if "events" in path else None
            status, _, answer = request(port, method, path, body, headers)
            tally.note("tricks", method, path, status, refused=True, what=what, answer=answer)
    big = {}
    offer = f"/v1/members/{member}/offer?channel=email"
    for path, key, refused in (
        ("/v1/events", None, True),
        ("/v1/events", "read", True),
        ("/v1/events", "write", False),
        (offer, None, True),
        (offer, "decide", False),
        ("/login", None, False),
    ):
        headers = {"X-API-Key": KEYS[key]} if key else {}
        status = declared_body(port, path, 100_000_000, headers)
        big[f"POST {path} with {f'the {key} key' if key else 'no key'}"] = status
        tally.note("bodies", "POST", path, status, refused=refused, what="100 MB declared")
    for method, path, scope in hostile_inputs(member, cohort):
        status, _, answer = request(port, method, path, headers={"X-API-Key": KEYS[scope]})
        tally.note("inputs", method, path, status, refused=False, answer=answer)
    return {"sign_in": sign_ins, "right_key_statuses": right, "declared_100mb": big}


def _events_body(event_id: str) -> bytes:
    return json.dumps({"events": [event(event_id)]}).encode()


def post_events(port, tally, cases) -> dict:
    """Each case's status and the event ids it had accepted."""
    out = {}
    headers = {"X-API-Key": WRITE, "Content-Type": "application/json"}
    for name, body, ids in cases:
        status, _, answer = request(port, "POST", "/v1/events", body, headers)
        tally.note("events", "POST", f"/v1/events ({name})", status, refused=False, answer=answer)
        try:
            said = json.loads(answer)
        except ValueError:
            said = {}
        accepted = said.get("accepted", 0) if 200 <= status < 300 else 0
        out[name] = {
            "status": status,
            "accepted": accepted,
            "code": said.get("code"),
            "ids": ids if accepted else [],
        }
    return out
