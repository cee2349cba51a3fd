"""Keep-alive HTTP/1.1 GETs of JSON for the mid-tier, parsed by ``httptools``.

A page fetches every first-pass ranker over HTTP, so the client's CPU per
request is on every page's critical path: aiohttp spent about 250 µs of
Python per request here. This client does only what the mid-tier needs —
``GET`` with query parameters, a JSON answer, connections kept alive per
host — on an asyncio protocol whose parsing is ``httptools`` (C, the parser
uvicorn serves with). A plugin that needs more brings its own client.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from urllib.parse import urlencode, urlsplit

import httptools


class HttpError(Exception):
    """A downstream answered with a status of 400 or more, or broke the connection."""


class _Connection(asyncio.Protocol):
    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.body: list[bytes] = []
        self.closed = False
        self.keep_alive = False

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"bad HTTP answer: {exc}"))
            self.transport.close()

    def connection_lost(self, exc):
        self.closed = True
        self._fail(HttpError("the downstream closed the connection"))

    # httptools callbacks
    def on_body(self, body: bytes):
        self.body.append(body)

    def on_message_complete(self):
        self.keep_alive = self.parser.should_keep_alive()  # known only now
        if self.waiter is not None and not self.waiter.done():
            body, self.body = b"".join(self.body), []
            self.waiter.set_result((self.parser.get_status_code(), body))

    def _fail(self, exc):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def request(self, data: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.body = []
        self.transport.write(data)
        return self.waiter


class HttpPool:
    """Connections kept alive per host; ``await pool.get_json(url, params)``.

    Parameters
    ----------
    per_host : int
        The most idle connections kept per host.
    """

    def __init__(self, per_host: int = 64):
        self.per_host = per_host
        self._idle: dict[tuple[str, int], list[_Connection]] = defaultdict(list)

    async def get_json(self, url: str, params: dict | None = None):
        """``GET url?params``; the decoded JSON answer. Raises :class:`HttpError`."""
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 80
        target = parts.path or "/"
        query = "&".join(filter(None, (parts.query, urlencode(params or {}))))
        if query:
            target += "?" + query
        data = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        idle = self._idle[(host, port)]
        while idle and idle[-1].closed:
            idle.pop()
        conn = idle.pop() if idle else await self._connect(host, port)
        try:
            status, body = await conn.request(data)
        except (asyncio.CancelledError, HttpError):
            conn.transport.close()  # an answer may still arrive: never reuse it
            raise
        reused = conn.keep_alive and not conn.closed
        if reused and len(idle) < self.per_host:
            idle.append(conn)
        else:
            conn.transport.close()
        if status >= 400:
            raise HttpError(f"GET {url} answered {status}: {body[:200]!r}")
        return json.loads(body)

    async def _connect(self, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, host, port)
        return conn

    async def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.transport.close()
        self._idle.clear()
