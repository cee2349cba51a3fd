"""``POST /v1/events``: impressions and actions, durable before the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from lumos.errors import ApiError
from lumos.serve._schemas import Accepted, EventBatch
from lumos.serve._services import services

router = APIRouter()


@router.post("/v1/events", response_model=Accepted)
def post_events(request: Request, batch: EventBatch):
    """Append a batch (at most 1,000 events) to the log; a resent event is a duplicate.
    Needs a write key.

    Served events are the server's to record; dismissals, follows, cohort
    engagement and offer conversions take effect at once.
    """
    s = services(request)  # the write key was checked before the body was read
    if s.events is None:
        raise ApiError(503, "no_event_sink", "this server has no event sink configured")
    for i, event in enumerate(batch.events):
        if event.get("type") == "served":
            raise ApiError(
                400,
                "bad_event",
                f"events {i}, field 'type': served events are recorded by the server as it "
                "returns recommendations; send impression and action events.",
                "type",
            )
    n = s.events.append(batch.events)
    s.observe(batch.events)
    s.metrics.accepted.inc(n)
    return Accepted(accepted=n, duplicates=len(batch.events) - n)
