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
  to ``/v1/events``; with a ``path`` attribute, it is saved there on shutdown;
  with an ``offer_state``, its caps and policy are shared by every process
  serving it (:mod:`lumos.bandits._offer_shared`).

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
request that fails validation changes nothing. Who may do what is
:mod:`lumos.serve._access`: ``read``, ``decide`` and ``write`` keys (``keys``,
a ``keys_file`` re-read when it changes; ``api_key_hashes`` are write and
decide keys, and read keys too with ``read_keys=True``), checked with the body
caps and the security headers in front of every route.

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

from lumos._checks import check_number
from lumos.errors import LumosUserError
from lumos.serve import _limits, _routers
from lumos.serve._access import SCOPES, Guard, Keys, Sessions, check_digests
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
    keys: dict | None = None,
    keys_file=None,
    events_body: int = _limits.EVENTS_BODY,
    session_hours: float = 8.0,
    max_count: int = 100,
    flush_ms: float = 20.0,
    cohorts=None,
    offers=None,
    offer_state=None,
    offer_state_interval: float = 5.0,
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
    ``keys`` maps a scope (``read``, ``decide``, ``write``) to the SHA-256 digests of its
    keys; ``events_body`` caps a ``POST /v1/events`` body in bytes; a dashboard session
    lasts ``session_hours``. ``offer_state`` (a SQLite file or a Redis URL, or an
    :class:`~lumos.bandits.OfferState`) keeps the offer model's caps and policy in
    one place for every process serving it (``lumos serve --workers N``, or
    machines); each looks for a newer policy every ``offer_state_interval`` seconds.
    :func:`~lumos.serve.app_from_config` reads all of these from files.
    """
    access = build_keys(api_key_hashes, read_keys, keys, keys_file)
    check_number("create_app", "events_body", events_body, low=1024, integer=True)
    check_number("create_app", "session_hours", session_hours, low=0.01, high=24 * 30)
    services = Services.build(
        store=store,
        treatment=treatment,
        events=events,
        insights=insights,
        course_skills=course_skills,
        keys=access,
        sessions=Sessions(max_age=int(session_hours * 3600)),
        max_count=max_count,
        flush_ms=flush_ms,
        cohorts=cohorts,
        offers=offers,
        offer_state=offer_state,
        offer_state_interval=offer_state_interval,
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
        title="Lumos",
        version="1",
        description=__doc__.split("\n\n")[0],
        lifespan=lifespan,
        docs_url=None,  # /docs is a page of Lumos's own: nothing fetched from a CDN
        redoc_url=None,
        redirect_slashes=False,  # a redirect never copies the Host header into Location
    )
    app.state.services = services
    add_error_handlers(app)
    for resource in _routers.RESOURCES:
        app.include_router(resource.router)
    reads = recommendations.router(max_count)
    app.include_router(reads)
    add_pages(app)
    app.add_middleware(FastRecommendations, services=services, route=reads.routes[0])
    app.add_middleware(
        Guard,
        keys=access,
        sessions=services.sessions,
        events_body=events_body,
        on_refused=services.metrics.refused,
    )  # before any route reads a byte
    app.add_middleware(Measure, metrics=services.metrics)  # outermost: sees all
    return app


def build_keys(api_key_hashes=(), read_keys=False, keys=None, keys_file=None) -> Keys:
    """The keys of each scope: ``keys`` (scope → digests), the legacy ``api_key_hashes``
    (write and decide keys; read keys too with ``read_keys``) and a keys file's."""
    given = {scope: () for scope in SCOPES}
    legacy = check_digests(api_key_hashes, source="api_key_hashes")
    given["write"] += legacy
    given["decide"] += legacy
    if read_keys:
        given["read"] += legacy
    for scope, digests in (keys or {}).items():
        if scope not in SCOPES:
            raise LumosUserError(
                f"keys: {scope!r} is not a scope; give {', '.join(SCOPES)}.", code="bad_argument"
            )
        given[scope] += check_digests(digests, source=f"keys, {scope}")
    access = Keys(given, file=keys_file)
    if read_keys and not access.configured("read"):
        raise LumosUserError(
            "reads need a key but no key is configured; give api_key_hashes, read keys or a "
            "keys file with read keys.",
            code="bad_argument",
        )
    return access
