"""The HTTP API: recommendations, cohorts, offers and account insights, events written.

``create_app`` wires the parts, so the same app serves an LMDB store and a
disk event log on a laptop, or Redis for both at scale:

* ``store`` — a :mod:`lumos.store` backend (``get(member_id)`` returns the
  member's compact record, or None; ``version`` the live version);
* ``treatment`` — ``member_id -> (treatment, model_id)``, the experiment
  variant a member is in and the model it serves;
* ``events`` — an event log (:func:`~lumos.events.open_event_log`);
* ``insights`` — a DataFrame of account scores indexed by ``account_id``
  (``lumos propensity score`` writes it);
* ``cohorts`` — a :class:`~lumos.cohorts.CohortService`;
* ``offers`` — a :class:`~lumos.bandits.OfferModel` that decides offers
  (``POST /v1/members/{id}/offer``) and learns from the conversions posted
  to ``/v1/events``; with a ``path`` attribute, it is saved there on shutdown.

A recommendation response mints a tracking id per item and records a
``served`` event for it (group-committed every ``flush_ms`` by one thread);
items the member dismissed (``dismiss`` actions, read from the event log at
start and from every accepted batch) are left out; up to two courses of each
skill the member just followed (``follow`` actions on an ``item_type`` of
``skill``, or the ``skills`` query parameter at onboarding; given
``course_skills``) come first; a member without a list
for their treatment's model gets the ``cold_start`` record's list, flagged
``cold_start``.

Every error is JSON ``{"code", "message", "field"}`` with its status; a
request that fails validation changes nothing. Write endpoints need an API key
(``X-API-Key``) whose SHA-256 is among ``api_key_hashes``; reads too when
``read_keys=True``.

The app is wiring only: one router per resource (:mod:`lumos.serve._routers`
and the dashboard's pages) reads the one :class:`~lumos.serve._services.Services`
object kept in ``app.state.services``.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable

import pandas as pd
from fastapi import FastAPI

from lumos.serve import _routers
from lumos.serve._errors import add_error_handlers
from lumos.serve._fast import FastRecommendations
from lumos.serve._metrics import Measure
from lumos.serve._pages import add_pages
from lumos.serve._routers import recommendations
from lumos.serve._services import Services


def create_app(
    *,
    store,
    treatment: Callable[[str], tuple[str, str]],
    events=None,
    insights: pd.DataFrame | None = None,
    course_skills: pd.DataFrame | None = None,
    api_key_hashes=(),
    read_keys: bool = False,
    max_count: int = 100,
    flush_ms: float = 20.0,
    cohorts=None,
    offers=None,
    offer_log=None,
    offer_log_name: str = "the offer log",
    health=None,
    health_name: str = "the predictions",
    propensity_report: pd.DataFrame | None = None,
    course_titles: dict | None = None,
    example_member: str | None = None,
) -> FastAPI:
    """The Lumos API over a store, an experiment assignment, an event log and insights.

    The dashboard's Offers page judges ``offers`` on ``offer_log`` (events, or
    a function that reads them; default the ``events`` log); its Model health
    page shows ``health`` (a :class:`~lumos.evaluate.ModelHealth`, or a function
    that computes one) and an account prioritizer's ``propensity_report``
    (its ``report_``). Both pages' figures are computed in the background from start-up
    (Offers' again every ten minutes); until they are ready the page says so and reloads
    itself. ``course_titles`` (course id → title) names Learning's cards;
    ``example_member`` is the member the Learning and My Network pages offer to try.
    :func:`~lumos.serve.app_from_config` reads all of these from files.
    """
    services = Services.build(
        store=store,
        treatment=treatment,
        events=events,
        insights=insights,
        course_skills=course_skills,
        api_key_hashes=api_key_hashes,
        read_keys=read_keys,
        max_count=max_count,
        flush_ms=flush_ms,
        cohorts=cohorts,
        offers=offers,
        offer_log=offer_log,
        offer_log_name=offer_log_name,
        health=health,
        health_name=health_name,
        propensity_report=propensity_report,
        course_titles=course_titles,
        example_member=example_member,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app):
        gc.freeze()  # what was loaded stays: collections scan only what requests make
        services.start()  # the Offers and Model health figures, computed in the background
        yield
        await services.close()

    app = FastAPI(
        title="Lumos", version="1", description=__doc__.split("\n\n")[0], lifespan=lifespan
    )
    app.state.services = services
    add_error_handlers(app)
    for resource in _routers.RESOURCES:
        app.include_router(resource.router)
    reads = recommendations.router(max_count)
    app.include_router(reads)
    add_pages(app)
    app.add_middleware(FastRecommendations, services=services, route=reads.routes[0])
    app.add_middleware(Measure, metrics=services.metrics)  # outermost: sees all
    return app
