"""The web dashboard: server-rendered pages over the same data the API serves.

``/`` (the Accounts book), ``/accounts``, ``/learning``, ``/network`` and its
"See all" pages, ``/offers`` and ``/health`` (Model health), ``/login`` (a
read key for a session, when the server has read keys), ``/docs`` (the API's
reference), and ``/static/``
for the one stylesheet, script and icon, served by Lumos itself: no build step
and nothing fetched from elsewhere. Pages are plain HTML that works with a
keyboard and without JavaScript (sorting, filtering and paging are links and a
GET form); the script only opens an account's narratives in a pop-up (a modal
``dialog``), read from ``GET /v1/accounts/{id}/insights`` — the page shows
what the API says.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from lumos.serve._pages import accounts, docs, health, learning, login, network, offers

STATIC = Path(__file__).parent / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
def home():
    return RedirectResponse("/accounts", status_code=307)


@router.get("/favicon.ico", include_in_schema=False)
def favicon():
    return RedirectResponse("/static/favicon.svg", status_code=308)


for _page in (accounts, learning, network, offers, health, login, docs):
    router.include_router(_page.router)


def add_pages(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files to ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
