"""The recommendations route's fast path: a well-formed request answered before FastAPI.

The hot read skips FastAPI's routing, dependency solving and validation,
which cost more CPU than the answer itself. Only a request whose parameters
all pass the route's own declared checks — read from the route itself, so the
two never disagree — is answered here, by the same ``answer`` the route
calls; anything else (a bad or repeated parameter, an id over its limit, an
error) goes on to FastAPI, which answers it as the schema says; a store that cannot
answer is answered here (503), so a Redis outage costs one failed read, not two. Keys were
checked before either (:class:`~lumos.serve._access.Guard`). The latency
histogram sees both (the route is set on the scope for the metrics).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import annotated_types as at

from lumos.errors import Unavailable
from lumos.serve._errors import unavailable_response
from lumos.serve._routers.recommendations import PATH, answer


class Limits:
    """The query parameters a route declares: ``{name: (default, is_int, low, high, max_len)}``,
    and the longest path parameter (``path_max``)."""

    def __init__(self, route):
        self.path_max = min(
            (
                rule.max_length
                for field in route.dependant.path_params
                for rule in field.field_info.metadata
                if isinstance(rule, at.MaxLen)
            ),
            default=None,
        )
        self.params = {}
        for field in route.dependant.query_params:
            info = field.field_info
            low = high = max_len = None
            for rule in info.metadata:
                if isinstance(rule, at.Ge):
                    low = rule.ge
                elif isinstance(rule, at.Le):
                    high = rule.le
                elif isinstance(rule, at.MaxLen):
                    max_len = rule.max_length
            is_int = info.annotation is int
            self.params[field.alias] = (info.default, is_int, low, high, max_len)

    def parse(self, query_string: bytes) -> dict | None:
        """The parameters by name, or None when FastAPI should judge them."""
        got = {}
        for key, value in parse_qsl(query_string.decode("latin-1"), True):
            if key in got:
                return None
            got[key] = value  # an undeclared parameter is ignored, as FastAPI ignores it
        out = {}
        for name, (default, is_int, low, high, max_len) in self.params.items():
            value = got.get(name)
            if value is None:
                out[name] = default
            elif is_int:
                if not (value.isascii() and value.isdigit() and len(value) <= 6):
                    return None
                value = int(value)
                if (low is not None and value < low) or (high is not None and value > high):
                    return None
                out[name] = value
            else:
                if max_len is not None and len(value) > max_len:
                    return None
                out[name] = value
        return out


class FastRecommendations:
    """Pure ASGI, in front of FastAPI: answers a well-formed recommendations request."""

    _PREFIX, _SUFFIX = PATH.split("{member_id}")

    def __init__(self, app, *, services, route):
        self.app, self.services, self.route = app, services, route
        self.limits = Limits(route)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and path.startswith(self._PREFIX)
            and path.endswith(self._SUFFIX)
        ):
            member = path[len(self._PREFIX) : -len(self._SUFFIX)]
            params = self.limits.parse(scope["query_string"])
            short = self.limits.path_max is None or len(member) <= self.limits.path_max
            if member and "/" not in member and params is not None and short:
                try:
                    body = answer(self.services, member, **params)
                except Unavailable as exc:  # the store is down: 503, not asked twice
                    scope["route"] = self.route
                    await unavailable_response(exc)(scope, receive, send)
                    return
                except Exception:  # FastAPI answers it as the schema says
                    body = None
                if body is not None:
                    scope["route"] = self.route
                    head = [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ]
                    await send({"type": "http.response.start", "status": 200, "headers": head})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
