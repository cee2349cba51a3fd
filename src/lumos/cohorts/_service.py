"""One first-pass ranker as its own HTTP service, answering in its own shape.

``GET /v1/recommendations?member_id=&count=`` →
``{"elements": [{"urn": "group:G0001", "relevance": 3.0, "why": {…}, "extra": {…}}]}``
— what the ``rest`` plugin fetches and transforms; ``GET /healthz``. A bad
parameter is a 422 ``{code, message, field}``. ``delay_ms`` adds a random wait
per request (a downstream's own latency, for benchmarks and tests).

It is a bare ASGI app, not FastAPI: a downstream answers many requests per
page, and FastAPI's routing and validation cost more CPU than the ranker.
"""

from __future__ import annotations

import asyncio
import json
import random
from urllib.parse import parse_qsl

from lumos.errors import LumosUserError


def ranker_service(config, cohort_id: str, *, delay_ms: tuple[float, float] = (0, 0)):
    """The ASGI app of one cohort's first-pass ranker, from a cohorts YAML (``config``):
    that ranker alone, in process (``lumos cohorts fpr-service``)."""
    from lumos.cohorts._config import load_config
    from lumos.cohorts._midtier import CohortService

    parsed = load_config(config)
    if cohort_id not in parsed.cohorts:
        raise LumosUserError(
            f"{cohort_id!r} is not a cohort of {config} ({', '.join(parsed.cohorts)}); "
            "give one of them.",
            code="unknown_cohort",
        )
    parsed.cohorts = {cohort_id: parsed.cohorts[cohort_id]}
    parsed.ranking.order = []
    return fpr_service_app(CohortService(parsed), cohort_id, delay_ms=delay_ms)


def fpr_service_app(service, cohort_id: str, *, delay_ms: tuple[float, float] = (0, 0)):
    """An ASGI app serving the in-process ranker ``cohort_id`` of a CohortService."""
    ranker = service.rankers[cohort_id]
    low, high = delay_ms

    async def reply(send, status: int, body) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def invalid(send, field: str, message: str) -> None:
        await reply(send, 422, {"code": "invalid_request", "message": message, "field": field})

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/healthz":
            return await reply(send, 200, {"status": "ok"})
        if path != "/v1/recommendations" or scope["method"] != "GET":
            return await reply(send, 404, {"code": "not_found", "message": path, "field": None})
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        member_id, count = query.get("member_id", ""), query.get("count", "50")
        if not 0 < len(member_id) <= 256:
            return await invalid(send, "member_id", "member_id is required (1-256 characters)")
        if not (count.isascii() and count.isdigit() and len(count) <= 3 and 1 <= int(count) <= 500):
            return await invalid(send, "count", f"count must be an integer 1-500; got {count!r}")
        if high > 0:
            await asyncio.sleep(random.uniform(low, high) / 1000)
        member, _ = service.member(member_id)
        request = ranker.request(member)
        if isinstance(request, dict):
            request = {**request, "count": int(count)}
        results = ranker.transform(await ranker.fetch(request, None), member)
        elements = [
            {
                "urn": f"{r.item_type}:{r.item_id}",
                "relevance": r.score,
                "why": r.context,
                "extra": r.metadata,
            }
            for r in results[: int(count)]
        ]
        await reply(send, 200, {"elements": elements})

    return app
