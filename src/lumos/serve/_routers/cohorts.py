"""``/v1/members/{member_id}/cohorts``: a member's discovery cohorts, and one cohort by pages."""

from __future__ import annotations

import json

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from lumos.errors import ApiError
from lumos.serve._limits import CHANNEL, ID, LOCALE, TOKEN
from lumos.serve._services import services

router = APIRouter()


def need_cohorts(request: Request):
    """The app's :class:`~lumos.cohorts.CohortService`, or 404 when it has none."""
    cohorts = services(request).cohorts
    if cohorts is None:
        raise ApiError(
            404, "no_cohorts", "this server has no cohorts configured (lumos serve --cohorts)"
        )
    return cohorts


@router.get("/v1/members/{member_id}/cohorts")
async def member_cohorts(
    request: Request,
    member_id: str = Path(max_length=ID),
    max_items: int = Query(5, ge=1, le=50, description="Items shown per cohort"),
    locale: str | None = Query(None, max_length=LOCALE, description="e.g. en, fr-FR"),
    channel: str | None = Query(None, max_length=CHANNEL),
):
    """The member's cohorts, ordered by the second-pass ranker, each with a see-all link."""
    page = await need_cohorts(request).page(
        member_id, max_items=max_items, locale=locale, channel=channel
    )
    return json_response(page)


@router.get("/v1/members/{member_id}/cohorts/{cohort_id}")
async def one_cohort(
    request: Request,
    member_id: str = Path(max_length=ID),
    cohort_id: str = Path(max_length=ID),
    page_token: str | None = Query(None, max_length=TOKEN),
    count: int = Query(10, ge=1, le=100),
    locale: str | None = Query(None, max_length=LOCALE),
    channel: str | None = Query(None, max_length=CHANNEL),
):
    """One cohort, a page at a time (``next_page_token``); no item is on two pages."""
    page = await need_cohorts(request).cohort(
        member_id, cohort_id, page_token=page_token, count=count, locale=locale, channel=channel
    )
    return json_response(page)


def json_response(body) -> Response:
    """A JSON response made by ``json.dumps`` (FastAPI's encoder walks every value in Python)."""
    text = json.dumps(body, separators=(",", ":"), default=_plain, allow_nan=False)
    return Response(text, media_type="application/json")


def _plain(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    return str(value)
