"""``POST /v1/members/{member_id}/offer``: which product, creative and channel to offer now."""

from __future__ import annotations

import time

from fastapi import APIRouter, Path, Query, Request

from lumos.errors import ApiError, LumosUserError
from lumos.events import new_id, served_lines
from lumos.serve._limits import CHANNEL, ID
from lumos.serve._routers.recommendations import finite
from lumos.serve._schemas import Offer
from lumos.serve._services import services

router = APIRouter()


@router.post("/v1/members/{member_id}/offer", response_model=Offer)
def offer(
    request: Request,
    member_id: str = Path(max_length=ID),
    channel: str = Query(min_length=1, max_length=CHANNEL),
):
    """Which product, creative and channel to offer the member now — or no offer.

    The policy decides among the channel's arms and "no offer" (members at
    their weekly cap on that channel get "no offer"); the decision is logged
    as a served event with its propensity and a new tracking id. Post the
    member's purchase with that tracking id to /v1/events and the policy
    learns from it. Needs a decide key.

    A member the model's members table does not hold gets the decision for the
    average member, flagged ``cold_start``, and leaves no trace: nothing is
    logged, capped or learned from it.

    A server whose processes share the offer policy (an offer state) answers with
    the ``policy_version`` that decided, and the decision's ``model_id`` — in the
    answer and its served event — names it: ``offers@v17``.
    """
    s = services(request)
    offers = s.offers
    if offers is None:
        raise ApiError(404, "no_offers", "this server has no offer model (lumos serve --offers)")
    now = time.time()
    known = offers.knows(member_id)
    tracking = new_id()
    with s.offer_lock:
        try:  # shared caps: the slot is reserved under the tracking id as it is decided
            decision = offers.decide(
                [member_id], channel, now=now, tracking_ids=[tracking] if known else None
            )
        except LumosUserError as exc:
            raise ApiError(400, exc.code, exc.message, "channel") from None
        if known:
            offers.served([tracking], decision, now=now)
    row = decision.iloc[0]
    version = int(row["policy_version"]) if "policy_version" in row else None
    model_id = offers.settings.model_id + ("" if version is None else f"@v{version}")
    if s.served is not None and known:
        s.served.add(
            served_lines(
                member_id,
                [(new_id(), tracking, row["arm_id"], 0)],
                channel=channel,
                model_id=model_id,
                ts=now,
                item_type="offer",
                propensity=float(row["propensity"]),
            )
        )
    return Offer(
        member_id=member_id,
        tracking_id=tracking,
        arm_id=row["arm_id"],
        product=row["product"] or None,
        creative=row["creative"] or None,
        channel=channel,
        propensity=float(row["propensity"]),
        score=finite(row["score"]),
        capped=bool(row["capped"]),
        model_id=model_id,
        policy_version=version,
        cold_start=not known,
    )
