"""Who may do what: the scopes, their keys, the dashboard's session, and the guard in front of
every route.

Three scopes, each with its own keys:

* ``read`` — recommendations, cohorts, insights, the dashboard's pages,
  ``/metrics``, ``/docs`` and ``/openapi.json``. Open when no read key is
  configured (the server then binds to loopback unless told otherwise).
* ``decide`` — offer decisions, which change what the policy remembers and
  learns. Always need a key.
* ``write`` — events. Always need a key.

A key travels in the ``X-API-Key`` header (never the query string) and is
kept at rest as its SHA-256 digest, compared in constant time. The dashboard
asks for a read key once and keeps a signed, expiring, ``HttpOnly``,
``SameSite=Strict`` session cookie; the calls its script makes send the
cookie, and only reads accept it, so no other site can make a browser decide
or write.

:class:`Guard` is pure ASGI and sits in front of everything: it answers 401
(or, for a page, sends the visitor to sign in) before a route reads a byte of
the body, caps every body, and sets the security headers on every response.
Keys may live in a file (``read: [digest, …]``, one list per scope) that is
read again when it changes, so keys rotate without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path

from lumos.errors import ApiError, LumosUserError
from lumos.serve import _limits

SCOPES = ("read", "decide", "write")
COOKIE = "lumos_session"
_DIGEST = re.compile(r"[0-9a-f]{64}")
#: Paths anyone may fetch: liveness and readiness, the stylesheet and script, signing in.
OPEN = ("/healthz", "/readyz", "/favicon.ico", "/login", "/logout")
OPEN_PREFIXES = ("/static/",)
#: Every response carries these.
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def hash_key(key: str) -> str:
    """The SHA-256 hex digest a server keeps for an API key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_digests(digests, *, source: str) -> tuple[str, ...]:
    """Digests as given, each checked to be 64 lower-case hex characters (a SHA-256)."""
    out = []
    for d in digests:
        d = str(d).strip().lower()
        if not _DIGEST.fullmatch(d):
            shown = d if len(d) <= 80 else d[:77] + "..."
            raise LumosUserError(
                f"{source}: {shown!r} is not a SHA-256 hex digest (64 hex characters). Give the "
                'digest of a key, not the key: python -c "import hashlib,sys; '
                'print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" KEY',
                code="bad_argument",
            )
        out.append(d)
    return tuple(dict.fromkeys(out))


def read_keys_file(path) -> dict[str, tuple[str, ...]]:
    """A keys file: YAML or JSON, a list of SHA-256 digests per scope (scopes left out have
    none)."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LumosUserError(
            f"keys file {str(path)!r} cannot be read ({exc.strerror}); give a readable file.",
            code="file_not_found",
            file=str(path),
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LumosUserError(
            f"keys file {str(path)!r} is not YAML: {exc}", code="bad_argument", file=str(path)
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or not set(raw) <= set(SCOPES):
        got = sorted(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise LumosUserError(
            f"keys file {str(path)!r}: expected a mapping of scopes ({', '.join(SCOPES)}) to "
            f"lists of SHA-256 digests; got {got}.",
            code="bad_argument",
            file=str(path),
        )
    out = {}
    for scope in SCOPES:
        given = raw.get(scope) or []
        if not isinstance(given, list):
            raise LumosUserError(
                f"keys file {str(path)!r}, {scope}: expected a list of digests; got {given!r}.",
                code="bad_argument",
                file=str(path),
            )
        out[scope] = check_digests(given, source=f"keys file {str(path)!r}, {scope}")
    return out


class Keys:
    """The digests of each scope's keys: given ones, and a keys file's, re-read when the file
    changes (checked at most once a second; a file that turns bad keeps the keys it had, and
    the error is counted in ``reload_errors``)."""

    def __init__(self, given: dict | None = None, *, file=None):
        self._given = {s: tuple((given or {}).get(s, ())) for s in SCOPES}
        self.file = None if file is None else Path(file)
        self._stamp = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reload_errors = 0
        self._digests = dict(self._given)
        if self.file is not None:
            self._load(read_keys_file(self.file), self._file_stamp())

    def _file_stamp(self):
        st = os.stat(self.file)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self, from_file: dict, stamp) -> None:
        self._digests = {
            s: tuple(dict.fromkeys(self._given[s] + from_file.get(s, ()))) for s in SCOPES
        }
        self._stamp = stamp

    def refresh(self) -> None:
        """Read the keys file again if it changed since it was last read."""
        if self.file is None:
            return
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        with self._lock:
            self._checked = now
            try:
                stamp = self._file_stamp()
                if stamp != self._stamp:
                    self._load(read_keys_file(self.file), stamp)
            except (OSError, LumosUserError):
                self.reload_errors += 1  # keep the keys it had: never open up, never lock out

    def configured(self, scope: str) -> bool:
        self.refresh()
        return bool(self._digests[scope])

    def match(self, scope: str, key: str | None) -> str | None:
        """The digest of ``key`` when it is one of ``scope``'s keys, else None; every stored
        digest is compared, in constant time."""
        self.refresh()
        if key is None:
            return None
        digest = hash_key(key).encode()
        found = None
        for d in self._digests[scope]:
            if hmac.compare_digest(digest, d.encode()):
                found = d
        return found

    def holds(self, scope: str, digest: str) -> bool:
        """Whether ``digest`` is still one of ``scope``'s keys (a session's key, rotated out)."""
        return any(hmac.compare_digest(digest.encode(), d.encode()) for d in self._digests[scope])


class Sessions:
    """The dashboard's sessions: a cookie ``expiry.key-digest.signature``, signed with HMAC
    by a secret of the server's (random per start unless given), valid until it expires and
    while its key is still a read key."""

    def __init__(self, secret: bytes | None = None, max_age: int = 8 * 3600):
        self.secret = secret or secrets.token_bytes(32)
        self.max_age = int(max_age)

    def _sign(self, body: str) -> str:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()

    def issue(self, digest: str, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + self.max_age)
        body = f"{expiry}.{digest}"
        return f"{body}.{self._sign(body)}"

    def check(self, token: str | None, keys: Keys, now: float | None = None) -> bool:
        if not token or len(token) > 200:
            return False
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return False
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2].encode(), self._sign(body).encode()):
            return False
        if int(parts[0]) < (time.time() if now is None else now):
            return False
        return keys.holds("read", parts[1])


def scope_of(method: str, path: str) -> str | None:
    """The scope a request needs; None for what anyone may fetch."""
    if path in OPEN or path.startswith(OPEN_PREFIXES):
        return None
    if method == "POST" and path == "/v1/events":
        return "write"
    if method == "POST" and path.startswith("/v1/members/") and path.endswith("/offer"):
        return "decide"
    return "read"


def is_page(path: str) -> bool:
    """A dashboard page (HTML for a person), as opposed to the API and the metrics."""
    return not path.startswith("/v1/") and path not in ("/metrics", "/openapi.json")


def cookie(headers, name: str = COOKIE) -> str | None:
    """The value of cookie ``name`` in a request's raw headers."""
    for k, v in headers:
        if k == b"cookie":
            for part in v.decode("latin-1").split(";"):
                n, _, value = part.strip().partition("=")
                if n == name:
                    return value
    return None


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another host."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
        or len(target) > 2048
    ):
        return "/accounts"
    return target


class Guard:
    """Pure ASGI, in front of every route: scope checks before a body is read, body caps,
    security headers.

    Parameters
    ----------
    keys : Keys
    sessions : Sessions
    events_body : int
        The most bytes a ``POST /v1/events`` body may hold; any other body holds at most
        :data:`~lumos.serve._limits.OTHER_BODY`.
    on_refused : callable, optional
        Called with the scope of each request refused for want of a key (for ``/metrics``).
    """

    def __init__(self, app, *, keys: Keys, sessions: Sessions, events_body: int, on_refused=None):
        self.app, self.keys, self.sessions = app, keys, sessions
        self.events_body = int(events_body)
        self.on_refused = on_refused

    def allowed(self, scope: str, headers) -> bool:
        """Whether a request with ``headers`` may act in ``scope``."""
        if scope == "read" and not self.keys.configured("read"):
            return True
        key = next((v for k, v in headers if k == b"x-api-key"), None)
        if key is not None and self.keys.match(scope, key.decode("latin-1")) is not None:
            return True
        if scope == "read":  # the dashboard's session; reads only, so no site can write
            return self.sessions.check(cookie(headers), self.keys)
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *HEADERS]}
            await send(message)

        path, method = scope.get("path", ""), scope["method"]
        needs = scope_of(method, path)
        if needs is not None and not self.allowed(needs, scope["headers"]):
            if self.on_refused is not None:
                self.on_refused(needs)
            if needs == "read" and method == "GET" and is_page(path):
                query = scope.get("query_string", b"").decode("latin-1")
                target = safe_next(path + (f"?{query}" if query else ""))
                from urllib.parse import urlencode

                location = "/login?" + urlencode({"next": target})
                return await _reply(secured, 303, b"", [(b"location", location.encode())])
            return await _json(secured, ApiError(401, "unauthorized", _refusal(needs), "X-API-Key"))
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            cap = self.events_body if path == "/v1/events" else _limits.OTHER_BODY
            body = await _read_body(scope, receive, cap)
            if body is None:
                too_big = f"the body is over {cap:,} bytes; send smaller batches."
                return await _json(secured, ApiError(413, "body_too_large", too_big))
            receive = _replay(body, receive)
        await self.app(scope, receive, secured)


def _refusal(scope: str) -> str:
    what = {
        "read": "reading needs a read key",
        "decide": "an offer decision needs a decide key",
        "write": "writing events needs a write key",
    }[scope]
    return f"{what}: send it in the X-API-Key header."


async def _read_body(scope, receive, cap: int) -> bytes | None:
    """The whole body, or None as soon as it is over ``cap`` bytes (a declared length over
    it is refused before anything is read)."""
    for k, v in scope["headers"]:
        if k == b"content-length":
            try:
                if int(v) > cap:
                    return None
            except ValueError:
                return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive):
    """A ``receive`` that hands the app the body already read, then waits as the server's."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _reply(send, status: int, body: bytes, headers) -> None:
    head = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


async def _json(send, error: ApiError) -> None:
    body = {"code": error.code, "message": error.message, "field": error.field}
    data = json.dumps(body).encode()
    await _reply(send, error.status, data, [(b"content-type", b"application/json")])
