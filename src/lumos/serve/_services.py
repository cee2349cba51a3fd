"""What the routes share: one :class:`Services` object, built once per app and read from
``app.state.services``; the members' recent actions; API keys."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from dataclasses import dataclass, field

import pandas as pd

from lumos._bounded import LRU
from lumos.serve._access import Keys, Sessions, hash_key
from lumos.serve._metrics import Metrics
from lumos.serve._served import ServedWriter

__all__ = ["Lazy", "MemberMemory", "Services", "hash_key", "services"]


class Lazy:
    """A page's figures: ``compute()``, kept, and redone when older than ``max_age`` seconds
    (never, by default).

    A server computes them on a thread of their own: :meth:`start` computes them
    at once and again every ``max_age`` seconds, and :meth:`peek` returns the
    latest without ever waiting — ``None`` until the first is ready — so no
    visitor waits for them. :meth:`get` waits instead (computing on the caller's
    thread when no one has, or when they are stale). An error computing them is
    kept, and raised by :meth:`peek` and :meth:`get`, until the next
    computation. Thread-safe: one computation at a time.
    """

    def __init__(self, compute, name: str, *, max_age: float | None = None):
        self._compute, self.name, self.max_age = compute, name, max_age
        self._lock = threading.Lock()  # held while computing
        self._latest = None  # (figures, error, when), replaced whole
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    @classmethod
    def done(cls, figures, name: str) -> Lazy:
        """Figures already computed."""
        lazy = cls(lambda: figures, name)
        lazy._latest = (figures, None, time.monotonic())
        return lazy

    def _stale(self) -> bool:
        latest = self._latest
        if latest is None:
            return True
        return self.max_age is not None and time.monotonic() - latest[2] > self.max_age

    def _refresh(self) -> None:
        """Compute (the caller holds the lock) and keep the figures or the error."""
        try:
            self._latest = (self._compute(), None, time.monotonic())
        except Exception as exc:  # kept for the page to show; the next refresh tries again
            self._latest = (None, (exc, exc.__traceback__), time.monotonic())

    @staticmethod
    def _outcome(latest):
        figures, error, _ = latest
        if error is not None:  # raised afresh each time: its traceback does not grow
            raise error[0].with_traceback(error[1])
        return figures

    def get(self):
        """The figures, computed now if there are none or they are stale (waits for them)."""
        with self._lock:
            if self._stale():
                self._refresh()
            return self._outcome(self._latest)

    def peek(self):
        """The latest figures, or ``None`` while the first are computed; never waits.
        Starts the background thread if no one has."""
        latest = self._latest
        if latest is None or self._stale():
            self.start()
        return None if latest is None else self._outcome(latest)

    def start(self) -> None:
        """Compute on a thread of their own, now and every ``max_age`` seconds, until
        :meth:`stop` (calling it again does nothing)."""
        with self._starting:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name=f"figures of {self.name}")
            self._thread.daemon = True  # a computation under way does not hold up exit
            self._thread.start()

    def _run(self) -> None:
        with self._lock:
            if self._stale():  # unless get() has just computed them
                self._refresh()
        while self.max_age is not None and not self._stop.wait(self.max_age):
            with self._lock:
                self._refresh()

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the background thread, letting a computation under way finish (for up to
        ``timeout`` seconds)."""
        self._stop.set()
        with self._starting:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


#: The most dismissals remembered per member (the latest are kept).
DISMISSED = 1_000


class MemberMemory:
    """What members did lately that changes their next list: items dismissed, skills followed.

    ``course_skills`` (``course_id, skill``) gives each skill's courses, which a
    member who follows the skill sees first. It remembers at most ``members``
    members (the least recently active forgotten first) and each member's latest
    :data:`DISMISSED` dismissals.
    """

    def __init__(self, course_skills: pd.DataFrame | None = None, members: int = 100_000):
        self.dismissed: LRU = LRU(members)  # member → {item: None}, items dismissed, in order
        self.follows: LRU = LRU(members)  # member → skills followed, latest last
        self.by_skill: dict[str, list[str]] = {}  # skill (lower case) → courses, in table order
        if course_skills is not None:
            for skill, rows in course_skills.groupby(
                course_skills["skill"].str.lower(), sort=False
            ):
                self.by_skill[skill] = list(dict.fromkeys(rows["course_id"]))

    def remember(self, batch) -> None:
        for e in batch:
            if e.get("type") != "action":
                continue
            if e.get("action") == "dismiss":
                gone = self.dismissed.touch(e["member_id"]) or {}
                gone.pop(e["item_id"], None)
                gone[e["item_id"]] = None
                while len(gone) > DISMISSED:
                    del gone[next(iter(gone))]
                self.dismissed[e["member_id"]] = gone
            elif e.get("action") == "follow" and e.get("item_type") == "skill":
                mine = self.follows.touch(e["member_id"]) or []
                self.follows[e["member_id"]] = [
                    *[s for s in mine if s != e["item_id"]][-9:],
                    e["item_id"],
                ]

    @property
    def size(self) -> int:
        """Members remembered (dismissals and follows)."""
        return len(self.dismissed) + len(self.follows)

    def followed(self, member_id: str, skills: str | None) -> list[str]:
        """Up to three skills to put first: those of the request, then the latest followed."""
        if not self.by_skill:
            return []
        asked = (s.strip() for s in (skills or "").split(",") if s.strip())
        return [*asked, *reversed(self.follows.get(member_id, ()))][:3]

    def blend(self, rows: list[dict], followed: list[str], gone) -> list[dict]:
        """Put up to 2 courses of each followed skill first ("Because you follow 'Python'")."""
        scores = {r["item_id"]: r["score"] for r in rows}
        first, taken = [], set()
        for skill in followed:
            courses = [c for c in self.by_skill.get(skill.lower(), ()) if c not in gone][:2]
            for course in courses:
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


@dataclass(eq=False)
class Services:
    """Everything a route reads: the store, the experiment assignment, the event log, the
    models and tables served, and the server's own state (metrics, the served writer).

    Build it with :meth:`build`; :func:`~lumos.serve.create_app` does.
    """

    store: object
    treatment: object
    events: object = None
    insights: pd.DataFrame | None = None
    book: pd.DataFrame | None = None  # the Accounts page's table, made once from insights
    cohorts: object = None
    offers: object = None
    keys: Keys = field(default_factory=Keys)
    sessions: Sessions = field(default_factory=Sessions)
    max_count: int = 100
    metrics: Metrics = field(default_factory=Metrics)
    memory: MemberMemory = field(default_factory=MemberMemory)
    served: ServedWriter | None = None
    offer_lock: threading.Lock = field(default_factory=threading.Lock)
    offer_page: Lazy | None = None
    health_page: Lazy | None = None
    propensity: pd.DataFrame | None = None
    titles: dict = field(default_factory=dict)
    example_member: str | None = None  # the member the empty member forms offer to try

    @classmethod
    def build(
        cls,
        *,
        store,
        treatment,
        events=None,
        insights=None,
        course_skills=None,
        keys: Keys | None = None,
        sessions: Sessions | None = None,
        max_count=100,
        flush_ms=20.0,
        cohorts=None,
        offers=None,
        offer_state=None,
        offer_state_interval=5.0,
        offer_log=None,
        offer_log_name="the offer log",
        health=None,
        health_name="the predictions",
        propensity_report=None,
        course_titles=None,
        example_member=None,
    ) -> Services:
        """The services over these parts, with what the event log already says applied:
        dismissals and follows, cohort engagement, and the offers each member was shown.

        ``offer_state`` (an :class:`~lumos.bandits.OfferState` or its target) shares the
        offer model's caps and policy with the other processes serving it; they look
        for a newer policy every ``offer_state_interval`` seconds."""
        from lumos.serve._pages.accounts import accounts_book
        from lumos.serve._pages.offers import offer_figures

        s = cls(
            store=store,
            treatment=treatment,
            events=events,
            insights=insights,
            book=None if insights is None else accounts_book(insights),
            cohorts=cohorts,
            offers=offers,
            keys=keys or Keys(),
            sessions=sessions or Sessions(),
            max_count=max_count,
            memory=MemberMemory(course_skills),
            propensity=propensity_report,
            titles=course_titles or {},
            example_member=example_member,
        )
        if events is not None:
            s.served = ServedWriter(events, flush_ms)
            if hasattr(events, "on_others"):  # one of several workers: what the others took
                events.on_others = s.observe_others
            s.memory.remember(
                events.read(type="action", action=("dismiss", "follow")).to_dict("records")
            )
            if cohorts is not None:  # served cohort items, then actions on them, in that order
                for part in (events.read(cohort=True), events.read(type="action")):
                    cohorts.engagement.observe(part.to_dict("records"))
        if cohorts is not None:
            cohorts.connect(
                record=s.served.add if s.served is not None else None,
                on_failure=s.metrics.ranker_failed,
                on_fetch=s.metrics.ranker_fetched,
            )
        if offers is not None:
            if offer_state is not None:  # one cap and one policy for every process serving it
                offers.share(offer_state, interval=offer_state_interval)
            if events is not None:  # the cap remembers the offers already shown
                offers.remember_shown(events.read(item_type="offer"))
            if offer_log is None and events is not None:
                offer_log, offer_log_name = events.read, "the event log"
            figures = functools.partial(offer_figures, offers, offer_log, s.offer_lock)
            s.offer_page = Lazy(figures, offer_log_name, max_age=600)
        if health is not None:
            s.health_page = (
                Lazy(health, health_name) if callable(health) else Lazy.done(health, health_name)
            )
        return s

    def start(self) -> None:
        """Compute the Offers and Model health figures in the background, now."""
        for figures in (self.offer_page, self.health_page):
            if figures is not None:
                figures.start()

    def held(self) -> dict[str, int]:
        """How many entries each table the server keeps per caller holds (each is bounded)."""
        out = {"member_memory": self.memory.size}
        if self.served is not None:
            out["served_pending"] = len(self.served.pending)
        if self.cohorts is not None:
            out |= self.cohorts.held
        if self.offers is not None:
            out |= self.offers.held
        return out

    def observe(self, batch: list[dict]) -> None:
        """What an accepted batch of events changes: dismissals, follows, cohort engagement,
        and the offer policy's conversions (a full mini-batch updates it)."""
        self.observe_others(batch)
        if self.offers is not None:
            with self.offer_lock:
                self.offers.observe(batch)

    def observe_others(self, batch: list[dict]) -> None:
        """What another worker's accepted batch changes here: dismissals, follows, cohort
        engagement (the offer policy learns from its own share of the conversions)."""
        self.memory.remember(batch)
        if self.cohorts is not None:
            self.cohorts.engagement.observe(batch)

    async def close(self) -> None:
        """Stop: the pages' background figures, save what the offer policy learned, flush the
        served events, close the parts."""
        for figures in (self.offer_page, self.health_page):
            if figures is not None:
                await asyncio.to_thread(figures.stop)
        if self.cohorts is not None:
            await self.cohorts.aclose()
        path = getattr(self.offers, "path", None)
        if self.offers is not None and path is not None:  # what it learned online survives
            with self.offer_lock:  # shared: the latest policy, saved once whoever saves it
                self.offers.save(path)
        if getattr(self.offers, "shared", None) is not None:
            self.offers.shared.close()
        if self.served is not None:
            self.served.close()
        for part in (self.events, self.store):  # the server owns them: close them when it stops
            if hasattr(part, "close"):
                part.close()


def services(request) -> Services:
    """The app's :class:`Services` (``app.state.services``)."""
    return request.app.state.services
