"""The HTTP API: recommendations and account insights read from the store, events written.

``create_app`` wires the parts, so the same app serves an LMDB store and a
disk event log on a laptop, or Redis for both at scale:

* ``store`` — a :mod:`lumos.store` backend (``get(member_id)`` returns the
  member's compact record, or None; ``version`` the live version);
* ``treatment`` — ``member_id -> (treatment, model_id)``, the experiment
  variant a member is in and the model it serves;
* ``events`` — a sink with ``append(events) -> int`` (:class:`~lumos.events.EventLog`);
* ``insights`` — a DataFrame of account scores indexed by ``account_id``
  (``lumos propensity score`` writes it);
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
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lumos.bandits import FrequencyCap
from lumos.errors import ApiError, LumosError, LumosUserError
from lumos.events import EventLog, new_id, new_ids, served_lines
from lumos.serve._dashboard import add_dashboard
from lumos.serve._html import Lazy
from lumos.serve._offers_page import offer_figures
from lumos.store import COLD_START, list_length, ranked

_RECOMMENDATIONS = "/v1/members/{member_id}/recommendations"
_MAX_START = 10_000


class Item(BaseModel):
    item_id: str
    score: float | None
    reason: str
    reason_text: str
    tracking_id: str
    position: int


class Recommendations(BaseModel):
    member_id: str
    treatment: str
    model_id: str
    cold_start: bool
    start: int
    count: int
    total: int
    items: list[Item]


class EventBatch(BaseModel):
    events: list[dict] = Field(min_length=1, max_length=1000)


class Offer(BaseModel):
    member_id: str
    tracking_id: str
    arm_id: str = Field(description='the arm played: product/creative/channel, or "none"')
    product: str | None
    creative: str | None
    channel: str
    propensity: float = Field(description="the probability the policy had of this decision")
    score: float | None
    capped: bool = Field(description="the member is at the weekly cap on this channel")
    model_id: str


class Accepted(BaseModel):
    accepted: int
    duplicates: int


def hash_key(key: str) -> str:
    """The SHA-256 hex digest the server config stores for an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


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
) -> FastAPI:
    """The Lumos API over a store, an experiment assignment, an event sink and insights.

    The dashboard's Offers page judges ``offers`` on ``offer_log`` (events, or
    a function that reads them; default the ``events`` sink); its Model health
    page shows ``health`` (a :class:`~lumos.evaluate.ModelHealth`, or a function
    that computes one) and an account prioritizer's ``propensity_report``
    (its ``report_``). ``course_titles`` (course id → title) names Learning's cards.
    """

    served = _GroupCommit(events, flush_ms) if events is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app):
        gc.freeze()  # what was loaded stays: collections scan only what requests make
        yield
        if cohorts is not None:
            await cohorts.aclose()
        if offers is not None and offers_path is not None:  # what it learned online survives
            with offer_lock:
                offers.save(offers_path)
        if served is not None:
            served.close()
        for part in (events, store):  # the server owns them: close them when it stops
            if hasattr(part, "close"):
                part.close()

    app = FastAPI(
        title="Lumos", version="1", description=__doc__.split("\n\n")[0], lifespan=lifespan
    )
    keys = frozenset(api_key_hashes)
    dismissed: dict[str, set[str]] = {}  # member → items dismissed, from the event log
    follows: dict[str, list[str]] = {}  # member → skills followed, latest last
    by_skill: dict[str, list[str]] = {}  # skill (lower case) → its courses, in table order
    if course_skills is not None:
        for skill, rows in course_skills.groupby(course_skills["skill"].str.lower(), sort=False):
            by_skill[skill] = list(dict.fromkeys(rows["course_id"]))

    def remember(batch) -> None:
        for e in batch:
            if e.get("type") != "action":
                continue
            if e.get("action") == "dismiss":
                dismissed.setdefault(e["member_id"], set()).add(e["item_id"])
            elif e.get("action") == "follow" and e.get("item_type") == "skill":
                mine = follows.setdefault(e["member_id"], [])
                mine[:] = [*[s for s in mine if s != e["item_id"]][-9:], e["item_id"]]

    if isinstance(events, EventLog):  # only dismissals and follows: a filter before parsing
        for action in (b'"action":"dismiss"', b'"action":"follow"'):
            remember(events.read(contains=action).to_dict("records"))
        if cohorts is not None:  # served cohort items, then actions on them, in that order
            for part in (b'"cohort":"', b'"type":"action"'):
                cohorts.engagement.observe(events.read(contains=part).to_dict("records"))
    elif events is not None:
        everything = events.read().to_dict("records")
        remember(everything)
        if cohorts is not None:
            cohorts.engagement.observe(everything)
    offer_lock = threading.Lock()  # decisions and updates of the offer policy, one at a time
    offers_path = getattr(offers, "path", None)
    if offers is not None and events is not None:  # the cap remembers the offers already shown
        shown = (
            events.read(contains=b'"item_type":"offer"')
            if isinstance(events, EventLog)
            else events.read()
        )
        offers.cap = FrequencyCap.from_events(offers.settings.cap_per_week, shown)
    registry = CollectorRegistry()
    requests = Counter(
        "lumos_requests", "Requests by route and status", ["route", "status"], registry=registry
    )
    latency = Histogram(
        "lumos_request_seconds",
        "Request latency",
        ["route"],
        registry=registry,
        buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    )
    accepted = Counter("lumos_events_accepted", "Events accepted", registry=registry)
    if cohorts is not None:
        cohorts.failed = Counter(
            "lumos_fpr_failures",
            "First-pass rankers left out of a page, by cohort and reason",
            ["cohort", "reason"],
            registry=registry,
        )
        cohorts.fpr_seconds = Histogram(
            "lumos_fpr_seconds",
            "First-pass ranker fetch time",
            ["cohort"],
            registry=registry,
            buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 1.0),
        )
        if served is not None:
            cohorts.record = served.add
    live_version = Gauge(
        "lumos_store_version", "1 for the store's live version", ["version"], registry=registry
    )

    def error(status, code, message, field=None):
        return JSONResponse({"code": code, "message": message, "field": field}, status_code=status)

    def api_error(exc: ApiError):
        return error(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return api_error(exc)

    @app.exception_handler(LumosError)
    async def _lumos_error(request, exc: LumosError):
        return error(400, exc.code, exc.message, getattr(exc, "column", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return error(422, "invalid_request", first.get("msg", "invalid request"), field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return api_error(ApiError(404, "not_found", str(exc.detail)))
        if exc.status_code == 405:
            return api_error(ApiError(405, "method_not_allowed", str(exc.detail)))
        return api_error(ApiError(exc.status_code, "http_error", str(exc.detail)))

    def authorize(request: Request, write: bool) -> None:
        if not (write or read_keys):
            return
        key = request.headers.get("x-api-key")
        if key is None or hash_key(key) not in keys:
            raise ApiError(401, "unauthorized", "a valid X-API-Key header is required", "X-API-Key")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        live = store.version
        if live is None:
            return api_error(ApiError(503, "not_ready", "the store has no published version yet"))
        live_version.clear()
        live_version.labels(str(live)).set(1)
        return {"status": "ready", "version": live}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        return generate_latest(registry).decode()

    def answer(member_id: str, channel, count: int, start: int, skills) -> bytes:
        """The JSON body of a member's recommendations (raises ApiError)."""
        gone = dismissed.get(member_id, ())
        followed = [
            *(s.strip() for s in (skills or "").split(",") if s.strip()),
            *reversed(follows.get(member_id, ())),
        ][:3]
        followed = followed if by_skill else []
        stop = None if gone or followed else start + count  # a plain page: decode only it
        record = store.get(member_id, decode=False)
        arm, model = treatment(member_id)
        rows = ranked(record, model, stop=stop) if record is not None else []
        cold = not rows
        if cold:
            model, record = COLD_START, store.get(COLD_START, decode=False)
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
            keep = _blend(keep, followed, by_skill, gone)
        total = len(keep) if stop is None else list_length(record, model)
        page = keep[start : start + count]
        ids = new_ids(2 * len(page))  # a tracking id per item, an event id per served event
        items = [  # the shape of Item, built as dicts: the response skips re-validation
            {
                "item_id": r["item_id"],
                "score": _finite(r["score"]),
                "reason": r["reason"],
                "reason_text": r["reason_text"],
                "tracking_id": ids[p],
                "position": p + start,
            }
            for p, r in enumerate(page)
        ]
        if served is not None and items:
            served.add(
                served_lines(
                    member_id,
                    [
                        (ids[len(page) + p], it["tracking_id"], it["item_id"], it["position"])
                        for p, it in enumerate(items)
                    ],
                    channel=channel,
                    model_id=model,
                    treatment=arm,
                    ts=time.time(),
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

    @app.get(_RECOMMENDATIONS, response_model=Recommendations)
    async def recommendations(  # async: a store read is microseconds, no thread hop
        request: Request,
        member_id: str,
        channel: str | None = Query(None, max_length=64),
        count: int = Query(10, ge=1, le=max_count),
        start: int = Query(0, ge=0, le=_MAX_START),
        skills: str | None = Query(
            None, max_length=512, description="Skills just followed (onboarding), comma-separated"
        ),
    ):
        authorize(request, write=False)
        body = answer(member_id, channel, count, start, skills)
        return Response(body, media_type="application/json")

    route = next(r for r in app.routes if getattr(r, "path", None) == _RECOMMENDATIONS)
    app.add_middleware(
        _FastRecommendations,
        answer=answer,
        route=route,
        keys=keys if read_keys else None,
        max_count=max_count,
    )
    app.add_middleware(_Measure, requests=requests, latency=latency)  # outermost: sees all

    def need_cohorts():
        if cohorts is None:
            raise ApiError(
                404, "no_cohorts", "this server has no cohorts configured (lumos serve --cohorts)"
            )
        return cohorts

    @app.get("/v1/members/{member_id}/cohorts")
    async def member_cohorts(
        request: Request,
        member_id: str,
        max_items: int = Query(5, ge=1, le=50, description="Items shown per cohort"),
        locale: str | None = Query(None, max_length=16, description="e.g. en, fr-FR"),
        channel: str | None = Query(None, max_length=64),
    ):
        """The member's cohorts, ordered by the second-pass ranker, each with a see-all link."""
        authorize(request, write=False)
        page = await need_cohorts().page(
            member_id, max_items=max_items, locale=locale, channel=channel
        )
        return _json(page)

    @app.get("/v1/members/{member_id}/cohorts/{cohort_id}")
    async def one_cohort(
        request: Request,
        member_id: str,
        cohort_id: str,
        page_token: str | None = Query(None, max_length=512),
        count: int = Query(10, ge=1, le=100),
        locale: str | None = Query(None, max_length=16),
        channel: str | None = Query(None, max_length=64),
    ):
        """One cohort, a page at a time (``next_page_token``); no item is on two pages."""
        authorize(request, write=False)
        service = need_cohorts()
        page = await service.cohort(
            member_id, cohort_id, page_token=page_token, count=count, locale=locale, channel=channel
        )
        return _json(page)

    @app.post("/v1/members/{member_id}/offer", response_model=Offer)
    def offer(request: Request, member_id: str, channel: str = Query(min_length=1)):
        """Which product, creative and channel to offer the member now — or no offer.

        The policy decides among the channel's arms and "no offer" (members at
        their weekly cap on that channel get "no offer"); the decision is logged
        as a served event with its propensity and a new tracking id. Post the
        member's purchase with that tracking id to /v1/events and the policy
        learns from it.
        """
        authorize(request, write=False)
        if offers is None:
            raise ApiError(
                404, "no_offers", "this server has no offer model (lumos serve --offers)"
            )
        now = time.time()
        with offer_lock:
            try:
                decision = offers.decide([member_id], channel, now=now)
            except LumosUserError as exc:
                raise ApiError(400, exc.code, exc.message, "channel") from None
            tracking = new_id()
            offers.served([tracking], decision, now=now)
        row = decision.iloc[0]
        if served is not None:
            served.add(
                served_lines(
                    member_id,
                    [(new_id(), tracking, row["arm_id"], 0)],
                    channel=channel,
                    model_id=offers.settings.model_id,
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
            score=_finite(row["score"]),
            capped=bool(row["capped"]),
            model_id=offers.settings.model_id,
        )

    @app.get("/v1/accounts/{account_id}/insights")
    def account_insights(request: Request, account_id: str) -> dict:
        authorize(request, write=False)
        if insights is None or account_id not in insights.index:
            raise ApiError(
                404, "not_found", f"no insights for account {account_id!r}", "account_id"
            )
        rows = insights.loc[[account_id]]
        out = []
        for _, row in rows.iterrows():  # an account's few rows (itself and its products)
            why = {c[4:]: row[c] for c in rows.columns if c.startswith("why_") and row[c]}
            out.append(
                {
                    "product": None if pd.isna(row.get("product")) else row.get("product"),
                    "score": _finite(row.get("score")),
                    "class": row.get("class"),
                    "predicted_change": _finite(row.get("predicted_change")),
                    "narratives": why,
                }
            )
        return {"account_id": account_id, "rows": out}

    @app.post("/v1/events", response_model=Accepted)
    def post_events(request: Request, batch: EventBatch):
        authorize(request, write=True)
        if events is None:
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
        n = events.append(batch.events)
        remember(batch.events)
        if cohorts is not None:
            cohorts.engagement.observe(batch.events)
        if offers is not None:  # conversions of offers shown; a full mini-batch updates
            with offer_lock:
                offers.observe(batch.events)
        accepted.inc(n)
        return Accepted(accepted=n, duplicates=len(batch.events) - n)

    offer_page = None
    if offers is not None:
        if offer_log is None and hasattr(events, "read"):
            offer_log, offer_log_name = events.read, "the event log"
        offer_page = Lazy(
            functools.partial(offer_figures, offers, offer_log, offer_lock),
            offer_log_name,
            max_age=600,
        )
    health_page = None
    if health is not None:
        health_page = Lazy(health if callable(health) else lambda: health, health_name)
    add_dashboard(
        app,
        insights=insights,
        store=store,
        treatment=treatment,
        cohorts=cohorts,
        offers=offer_page,
        health=health_page,
        propensity=propensity_report,
        titles=course_titles,
    )
    return app


class _FastRecommendations:
    """Pure ASGI, in front of FastAPI: a well-formed recommendations request is answered here.

    The hot read skips FastAPI's routing, dependency solving and validation,
    which cost more CPU than the answer itself. Only a request whose
    parameters all pass the route's own checks is answered here, by the same
    ``answer`` the route calls; anything else — a bad or repeated parameter,
    a missing read key, an error — goes on to FastAPI, which answers it as
    the schema says. The latency histogram sees both (the route is set on the
    scope for :class:`_Measure`).
    """

    _PREFIX, _SUFFIX = "/v1/members/", "/recommendations"
    _LIMITS = (("channel", 64), ("skills", 512))

    def __init__(self, app, *, answer, route, keys, max_count):
        self.app, self.answer, self.route = app, answer, route
        self.keys, self.max_count = keys, max_count

    def _params(self, scope):
        """``(channel, count, start, skills)``, or None when FastAPI should judge them."""
        got = {}
        for key, value in parse_qsl(scope["query_string"].decode("latin-1"), True):
            if key in got:
                return None
            got[key] = value
        for key, limit in self._LIMITS:
            if len(got.get(key, "")) > limit:
                return None
        count, start = got.get("count", "10"), got.get("start", "0")
        for number in (count, start):
            if not (number.isascii() and number.isdigit() and len(number) <= 6):
                return None
        count, start = int(count), int(start)
        if not (1 <= count <= self.max_count and 0 <= start <= _MAX_START):
            return None
        return got.get("channel"), count, start, got.get("skills")

    def _authorized(self, scope) -> bool:
        if self.keys is None:
            return True
        key = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
        return key is not None and hash_key(key.decode("latin-1")) in self.keys

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and path.startswith(self._PREFIX)
            and path.endswith(self._SUFFIX)
        ):
            member = path[len(self._PREFIX) : -len(self._SUFFIX)]
            params = self._params(scope)
            if member and "/" not in member and params is not None and self._authorized(scope):
                try:
                    body = self.answer(member, *params)
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


class _Measure:
    """Pure ASGI middleware: a latency histogram and a request counter per route."""

    def __init__(self, app, *, requests, latency):
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(path).observe(time.perf_counter() - started)
            self.requests.labels(path, str(status[0])).inc()


class _GroupCommit:
    """Served events, written together every ``flush_ms`` by one thread (one fsync for all).

    They record what the server showed, so the response does not wait for
    them; events clients send are durable before their answer.
    """

    def __init__(self, sink, flush_ms: float):
        self.sink, self.wait = sink, flush_ms / 1000
        self.pending, self.lock = [], threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="served-events")
        self.thread.start()

    def add(self, lines: list[str]) -> None:
        with self.lock:
            self.pending.extend(lines)

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if batch:
            self.sink.append_served(batch)

    def _run(self) -> None:
        while not self.stopped.wait(self.wait):
            try:
                self.flush()
            except ValueError:  # the sink was closed under a server that was never stopped
                if getattr(self.sink, "closed", False):
                    return
                raise

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.flush()


def _blend(rows: list[dict], followed: list[str], by_skill: dict, gone) -> list[dict]:
    """Put up to 2 courses of each followed skill first ("Because you follow 'Python'")."""
    scores = {r["item_id"]: r["score"] for r in rows}
    first, taken = [], set()
    for skill in followed:
        for course in [c for c in by_skill.get(skill.lower(), ()) if c not in gone][:2]:
            if course not in taken:
                taken.add(course)
                first.append(
                    {
                        "item_id": course,
                        "score": scores.get(course),
                        "reason": "followed_skill",
                        "reason_text": f"Because you follow '{skill}'",
                    }
                )
    return first + [r for r in rows if r["item_id"] not in taken]


def _json(body) -> Response:
    """A JSON response made by ``json.dumps`` (FastAPI's encoder walks every value in Python)."""
    text = json.dumps(body, separators=(",", ":"), default=_plain, allow_nan=False)
    return Response(text, media_type="application/json")


def _plain(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    return str(value)


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
