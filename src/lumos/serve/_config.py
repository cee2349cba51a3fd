"""A server's configuration as files and URLs, and the loaders that read and check them.

``lumos serve`` is :func:`app_from_config` of a :class:`ServeConfig`; a Python
caller gets the same checks: a table without the columns its page needs, a
predictions file with a bad label, a missing log — each fails here, naming
the file and column, before the server starts.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lumos._checks import check_number, require_columns
from lumos.errors import LumosUserError


@dataclass
class ServeConfig:
    """Where a server's parts live; only ``store`` is required.

    Parameters
    ----------
    store : str
        An LMDB folder, or a Redis URL (``redis://host:port/db``).
    experiments, experiment : str, optional
        An experiments YAML and the experiment whose variants' payloads name the
        model each member is served; members outside it get ``default_model``.
    default_model : str, default="glmix"
    events : str, optional
        The event log: a folder, or a Redis URL.
    insights : str, optional
        Account scores from ``lumos propensity score`` (.parquet, .csv, .jsonl).
    course_skills : str, optional
        A ``course_id, skill`` table: courses of skills a member just followed come first.
    courses : str, optional
        A ``course_id, title`` table: the Learning page shows titles.
    cohorts : str, optional
        A cohorts YAML (``/v1/members/{id}/cohorts``).
    offers : str, optional
        An offer model folder (``lumos offers retrain``): ``POST /v1/members/{id}/offer``.
    offer_log : str, optional
        The events the Offers page judges the offer model on (an event log or a
        file of events); default the ``events`` log.
    offer_state : str, optional
        Where the processes serving ``offers`` keep one set of caps and one policy:
        a SQLite file (one machine) or a Redis URL (many); default none, each
        process its own — unless ``workers`` is more than one: then
        :meth:`default_offer_state`.
    offer_state_interval : float, default=5.0
        Seconds between a process's looks for a newer shared policy.
    prioritizer : str, optional
        An account prioritizer folder (``lumos propensity train``): Model health
        shows its validation report.
    health, health_label, health_score, health_groups : optional
        Held-out predictions for the Model health page: a 0/1 label column, a
        probability column, and the columns whose groups' gaps are measured.
    read_key_hashes, decide_key_hashes, write_key_hashes : sequence of str
        SHA-256 hex digests of the keys of each scope: ``read`` (recommendations,
        cohorts, insights, the dashboard, metrics, docs; open without read keys),
        ``decide`` (offer decisions) and ``write`` (events).
    keys_file : str, optional
        A YAML file of digests per scope (``read: [...]``, ``decide: [...]``,
        ``write: [...]``), read again when it changes: keys rotate without a restart.
    api_key_hashes : sequence of str
        Write and decide keys (the older single list).
    read_keys : bool, default=False
        ``api_key_hashes`` are read keys too.
    events_body : int, default=1,000,000
        The most bytes a ``POST /v1/events`` body may hold.
    events_horizon : str, optional
        The earliest ``ts`` an event may carry (ISO 8601; default 2000-01-01).
    events_skew : float, default=300
        The seconds an event's ``ts`` may run ahead of the server's clock.
    session_hours : float, default=8
        How long a dashboard sign-in lasts.
    flush_ms : float, default=20.0
        Served events are written and synced together this often.
    max_count : int, default=100
        The most items one recommendations request may ask for.
    example_member : str, optional
        A member id the dashboard's Learning and My Network pages offer to try
        when no member is given (``lumos demo`` names one that works everywhere).
    workers : int, default=1
        Processes serving the port (:func:`~lumos.serve.run_workers`); with more than
        one, a folder event log is opened by each as one of its writers
        (:class:`~lumos.events.WorkerEventLog`).
    """

    store: str
    experiments: str | None = None
    experiment: str | None = None
    default_model: str = "glmix"
    events: str | None = None
    insights: str | None = None
    course_skills: str | None = None
    courses: str | None = None
    cohorts: str | None = None
    offers: str | None = None
    offer_log: str | None = None
    offer_state: str | None = None
    offer_state_interval: float = 5.0
    prioritizer: str | None = None
    health: str | None = None
    health_label: str = "label"
    health_score: str = "score"
    health_groups: tuple[str, ...] = ()
    read_key_hashes: tuple[str, ...] = ()
    decide_key_hashes: tuple[str, ...] = ()
    write_key_hashes: tuple[str, ...] = ()
    keys_file: str | None = None
    api_key_hashes: tuple[str, ...] = ()
    read_keys: bool = False
    events_body: int = 1_000_000
    events_horizon: str | None = None
    events_skew: float = 300.0
    session_hours: float = 8.0
    flush_ms: float = 20.0
    max_count: int = 100
    example_member: str | None = None
    workers: int = 1

    def __post_init__(self):
        self.health_groups = tuple(self.health_groups)
        self.api_key_hashes = tuple(self.api_key_hashes)
        for name in ("read_key_hashes", "decide_key_hashes", "write_key_hashes"):
            setattr(self, name, tuple(getattr(self, name)))
        if self.read_keys and not self.api_key_hashes:
            raise LumosUserError(
                "reads need a key but no key is configured; give api_key_hashes "
                "(--api-key-hash, or LUMOS_API_KEY_HASHES).",
                code="bad_argument",
            )
        if self.offer_log is not None and self.offers is None:
            raise LumosUserError(
                "offer_log (--offer-log) judges the offer model: give --offers (offers=) too.",
                code="bad_argument",
            )
        if self.offer_state is not None and self.offers is None:
            raise LumosUserError(
                "offer_state shares the offer model between processes: give --offers "
                "(offers=) too.",
                code="bad_argument",
            )
        check_number("ServeConfig", "offer_state_interval", self.offer_state_interval, low=0)
        if (self.experiments is None) != (self.experiment is None):
            raise LumosUserError(
                "give experiments and experiment together (--experiments FILE --experiment NAME).",
                code="bad_argument",
            )
        check_number("ServeConfig", "flush_ms", self.flush_ms, low=0.1, high=1000)
        check_number("ServeConfig", "max_count", self.max_count, low=1, integer=True)
        check_number("ServeConfig", "events_body", self.events_body, low=1024, integer=True)
        check_number("ServeConfig", "session_hours", self.session_hours, low=0.01, high=720)
        check_number("ServeConfig", "events_skew", self.events_skew, low=0, high=86_400)
        check_number("ServeConfig", "workers", self.workers, low=1, high=64, integer=True)
        if self.workers > 1 and self.offers is not None and self.offer_state is None:
            self.offer_state = self.default_offer_state()  # one policy, one cap, for all
        if self.events_horizon is not None:
            try:
                self.events_horizon = pd.Timestamp(self.events_horizon, tz="UTC")
            except (ValueError, TypeError):
                raise LumosUserError(
                    f"ServeConfig, events_horizon: {self.events_horizon!r} is not a date; "
                    "give ISO 8601 (2020-01-01).",
                    code="bad_argument",
                ) from None

    def keys(self) -> dict[str, tuple[str, ...]]:
        """The digests given per scope (the keys file's come on top)."""
        return {
            "read": self.read_key_hashes,
            "decide": self.decide_key_hashes,
            "write": self.write_key_hashes,
        }

    def default_offer_state(self) -> str | None:
        """Where processes serving this config share the offer policy and caps:
        ``offer_state`` when given; else the events' Redis when the event log is on
        Redis (the processes may be on many machines); else ``state.sqlite`` in the
        offer model's folder (one machine). None without ``offers``.

        >>> ServeConfig(store="s", offers="offers").default_offer_state()
        'offers/state.sqlite'
        >>> ServeConfig(store="s", offers="o", events="redis://h:6379/0").default_offer_state()
        'redis://h:6379/0'
        """
        from lumos._targets import is_redis

        if self.offers is None:
            return None
        if self.offer_state is not None:
            return self.offer_state
        if self.events is not None and is_redis(self.events):
            return self.events
        return str(Path(self.offers) / "state.sqlite")

    def replace(self, **changes) -> ServeConfig:
        return dataclasses.replace(self, **changes)


def app_from_config(config: ServeConfig):
    """The app :func:`~lumos.serve.create_app` makes of the parts ``config`` names, every
    file read and checked first."""
    from lumos.experiments import Experiments, ModelRouter
    from lumos.serve._app import create_app
    from lumos.store import open_store

    experiments = Experiments.load(config.experiments) if config.experiments else None
    router = ModelRouter(experiments, config.experiment, config.default_model)
    options = {}
    if config.offer_log is not None:
        options |= load_offer_log(config.offer_log)
    if config.prioritizer is not None:
        options["propensity_report"] = load_prioritizer_report(config.prioritizer)
    if config.health is not None:
        options |= load_health(
            config.health, config.health_label, config.health_score, config.health_groups
        )
    insights = load_insights(config.insights) if config.insights else None
    skills = load_course_skills(config.course_skills) if config.course_skills else None
    titles = load_course_titles(config.courses) if config.courses else None
    offers = None
    if config.offers:
        from lumos.bandits import OfferModel

        offers = OfferModel.load(config.offers)
        if config.offer_state is not None:  # a bad target fails now, before anything is open
            offers.share(config.offer_state, interval=config.offer_state_interval)
    store = open_store(config.store, readonly=True)
    events = cohorts = None
    try:
        if config.events:
            from lumos.events import open_event_log

            horizon = config.events_horizon
            events = open_event_log(
                config.events,
                notify=say_warning,
                horizon=None if horizon is None else horizon.to_pydatetime(),
                skew=config.events_skew,
                worker=config.workers > 1,
            )
        if config.cohorts:
            from lumos.cohorts import CohortService, load_config

            cohorts = CohortService(
                load_config(config.cohorts), experiments=router.experiments, store=store
            )
    except BaseException:
        for part in (events, store):
            if part is not None:
                part.close()
        raise
    return create_app(
        store=store,
        treatment=router,
        events=events,
        insights=insights,
        course_skills=skills,
        api_key_hashes=config.api_key_hashes,
        read_keys=config.read_keys,
        keys=config.keys(),
        keys_file=config.keys_file,
        events_body=config.events_body,
        session_hours=config.session_hours,
        max_count=config.max_count,
        flush_ms=config.flush_ms,
        cohorts=cohorts,
        offers=offers,
        course_titles=titles,
        example_member=config.example_member,
        **options,
    )


def say_warning(message: str) -> None:
    """A warning the server gives once, at start (lines of its event log set aside)."""
    import sys

    print(f"warning: {message}", file=sys.stderr, flush=True)


def load_insights(path) -> pd.DataFrame:
    """The account scores ``lumos propensity score`` writes, indexed by ``account_id``."""
    from lumos.data import read_table

    table = read_table(path, what="insights")
    require_columns(
        table,
        ["account_id"],
        source=f"insights file {str(path)!r}",
        hint="give the table `lumos propensity score` writes.",
        file=str(path),
    )
    return table.set_index("account_id")


def load_course_skills(path) -> pd.DataFrame:
    """A ``course_id, skill`` table, as strings."""
    from lumos.data import read_table

    skills = read_table(path, what="course skills")
    require_columns(
        skills,
        ["course_id", "skill"],
        source=f"course skills file {str(path)!r}",
        hint="give course_id and skill (a name members follow).",
        file=str(path),
    )
    return skills.astype({"course_id": str, "skill": str})


def load_course_titles(path) -> dict[str, str]:
    """Course id → title, from a ``course_id, title`` table."""
    from lumos.data import read_table

    titles = read_table(path, what="courses")
    require_columns(
        titles,
        ["course_id", "title"],
        source=f"courses file {str(path)!r}",
        hint="give course_id and title.",
        file=str(path),
    )
    return dict(zip(titles["course_id"].astype(str), titles["title"].astype(str), strict=True))


def load_offer_log(source) -> dict:
    """The Offers page's events: checked now (a wrong path fails at start, not on the first
    visit), read on each visit."""
    from lumos.events import is_events_file, read_events

    name = "offer_log (--offer-log)"
    is_events_file(source, name=name)
    read = functools.partial(read_events, source, name=name)
    return {"offer_log": read, "offer_log_name": str(source)}


def load_prioritizer_report(folder) -> pd.DataFrame:
    """An account prioritizer's validation report (its ``report_``)."""
    from lumos.recommend import AccountPrioritizer

    return AccountPrioritizer.load(folder).report_


def load_health(path, label: str = "label", score: str = "score", groups=()) -> dict:
    """The Model health page's inputs: the predictions, checked now; their figures, later."""
    from lumos.data import read_table
    from lumos.evaluate import check_predictions, model_health

    data = read_table(path, what="predictions")
    groups = list(groups)
    check_predictions(data, label, score, groups, source=str(path))
    compute = functools.partial(model_health, data, label, score, groups=groups, source=str(path))
    return {"health": compute, "health_name": str(path)}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_to_all(host: str) -> LumosUserError:
    """The error of binding beyond this machine with reads open."""
    return LumosUserError(
        f"--host {host} would let anyone who reaches it read every member's "
        "recommendations and the dashboard: no read key is configured. Give read keys "
        "(--read-key-hash, or a --keys-file with read keys), bind to 127.0.0.1, or pass "
        "--insecure-public to serve it open anyway.",
        code="bad_argument",
    )


def check_binding(host: str, app, *, insecure_public: bool = False) -> list[str]:
    """What the server says at start about who may do what, after refusing to bind beyond
    this machine with reads open (unless ``insecure_public``)."""
    keys = app.state.services.keys
    reads = keys.configured("read")
    if not reads and not is_loopback(host) and not insecure_public:
        raise open_to_all(host)
    said = []
    if reads:
        said.append("Reads need a read key (X-API-Key, or a dashboard sign-in at /login).")
    elif is_loopback(host):
        said.append(
            "Reads are open to this machine only (no read key; loopback). Give read keys to "
            "serve other machines."
        )
    else:
        said.append(f"Reads are OPEN to anyone who reaches {host} (--insecure-public).")
    for scope, what in (("decide", "Offer decisions"), ("write", "Events")):
        said.append(
            f"{what} need a {scope} key"
            + ("." if keys.configured(scope) else " (none configured: all are refused).")
        )
    return said
