"""``GET /v1/members/{member_id}/recommendations``: a member's list, a page at a time.

Each item gets a tracking id and a ``served`` event; items the member
dismissed are left out; up to two courses of each skill the member just
followed come first; a member without a list for their treatment's model gets
the cold-start list. The route's query limits are read by the fast path
(:mod:`lumos.serve._fast`) too, so both answer the same requests.
"""

from __future__ import annotations

import json
import math
import time

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from lumos.errors import ApiError
from lumos.events import new_ids, served_lines
from lumos.serve._limits import CHANNEL, ID, MAX_START, SKILLS
from lumos.serve._schemas import Recommendations
from lumos.serve._services import Services, services
from lumos.store import COLD_START, list_length, ranked

PATH = "/v1/members/{member_id}/recommendations"


def answer(s: Services, member_id: str, channel, count: int, start: int, skills) -> bytes:
    """The JSON body of a member's recommendations (raises ApiError)."""
    gone = s.memory.dismissed.get(member_id, ())
    followed = s.memory.followed(member_id, skills)
    stop = None if gone or followed else start + count  # a plain page: decode only it
    record = s.store.get(member_id, decode=False)
    arm, model = s.treatment(member_id)
    rows = ranked(record, model, stop=stop) if record is not None else []
    cold = not rows
    if cold:
        model, record = COLD_START, s.store.get(COLD_START, decode=False)
        rows = ranked(record, model, stop=stop) if record is not None else []
        if not rows:
            raise ApiError(
                404,
                "no_recommendations",
                f"no recommendations for member {member_id!r}",
                "member_id",
            )
    keep = [r for r in rows if r["item_id"] not in gone] if gone else rows
    if followed:
        keep = s.memory.blend(keep, followed, gone)
    total = len(keep) if stop is None else list_length(record, model)
    page = keep[start : start + count]
    ids = new_ids(2 * len(page))  # a tracking id per item, an event id per served event
    items = [  # the shape of Item, built as dicts: the response skips re-validation
        {
            "item_id": r["item_id"],
            "score": finite(r["score"]),
            "reason": r["reason"],
            "reason_text": r["reason_text"],
            "tracking_id": ids[p],
            "position": p + start,
        }
        for p, r in enumerate(page)
    ]
    if s.served is not None and items:
        served = [
            (ids[len(page) + p], it["tracking_id"], it["item_id"], it["position"])
            for p, it in enumerate(items)
        ]
        s.served.add(
            served_lines(
                member_id, served, channel=channel, model_id=model, treatment=arm, ts=time.time()
            )
        )
    body = {
        "member_id": member_id,
        "treatment": arm,
        "model_id": model,
        "cold_start": cold,
        "start": start,
        "count": len(items),
        "total": total,
        "items": items,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def router(max_count: int) -> APIRouter:
    """The route, its ``count`` capped at ``max_count`` (a setting of the server)."""
    routes = APIRouter()

    @routes.get(PATH, response_model=Recommendations)
    async def recommendations(  # async: a store read is microseconds, no thread hop
        request: Request,
        member_id: str = Path(max_length=ID),
        channel: str | None = Query(None, max_length=CHANNEL),
        count: int = Query(10, ge=1, le=max_count),
        start: int = Query(0, ge=0, le=MAX_START),
        skills: str | None = Query(
            None,
            max_length=SKILLS,
            description="Skills just followed (onboarding), comma-separated",
        ),
    ):
        s = services(request)
        body = answer(s, member_id, channel, count, start, skills)
        return Response(body, media_type="application/json")

    return routes


def finite(value) -> float | None:
    """``value`` as a float, or None when missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
