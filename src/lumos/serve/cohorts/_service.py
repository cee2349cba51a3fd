"""One first-pass ranker as its own HTTP service, answering in its own shape.

``GET /v1/recommendations?member_id=&count=`` →
``{"elements": [{"urn": "group:G0001", "relevance": 3.0, "why": {…}, "extra": {…}}]}``
— what the ``rest`` plugin fetches and transforms. ``delay_ms`` adds a random
wait per request (a downstream's own latency, for benchmarks and tests).
"""

from __future__ import annotations

import asyncio
import random

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse


def fpr_service_app(service, cohort_id: str, *, delay_ms: tuple[float, float] = (0, 0)) -> FastAPI:
    """A FastAPI app serving the in-process ranker ``cohort_id`` of a CohortService."""
    ranker = service.rankers[cohort_id]
    app = FastAPI(title=f"Lumos first-pass ranker: {cohort_id}")
    low, high = delay_ms

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/recommendations")
    async def recommendations(
        member_id: str = Query(..., min_length=1, max_length=256),
        count: int = Query(50, ge=1, le=500),
    ):
        if high > 0:
            await asyncio.sleep(random.uniform(low, high) / 1000)
        member, _ = service.member(member_id)
        request = ranker.request(member)
        if isinstance(request, dict):
            request = {**request, "count": count}
        results = ranker.transform(await ranker.fetch(request, None), member)
        return JSONResponse(
            {
                "elements": [
                    {
                        "urn": f"{r.item_type}:{r.item_id}",
                        "relevance": r.score,
                        "why": r.context,
                        "extra": r.metadata,
                    }
                    for r in results[:count]
                ]
            }
        )

    return app
