"""A generated professional social network with known structure, for discovery cohorts.

Members work at a company, studied at a school and live in a region; each has
a primary topic (from the company's line of work) that sets their title, and
hidden interests over the topics. Connections are planted: every edge is drawn
from one context — the same company, school or region, or anyone — with a
partner chosen in proportion to a heavy-tailed activity, so the network has
strong homophily and a few hubs. Members join groups, attend events in their
region and follow newsletters and hashtags of the topics they care about, and
join groups their connections are in. Everything hidden is returned in
``truth``, so tests can check that "People You May Know" and cohort features
find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd

from lumos._checks import check_number, renamed
from lumos.data._given import codes, given_table
from lumos.data._learning import _unique
from lumos.data._social_words import (
    _EVENT_FORMS,
    _FIRST,
    _GROUP_FORMS,
    _LAST,
    _NEWSLETTER_FORMS,
    _PREFIXES,
    _SUFFIXES,
    HASHTAGS,
    MIXING,
    REGIONS,
    SCHOOLS,
    TITLES,
    TOPICS,
)
from lumos.errors import LumosUserError


@dataclass(frozen=True)
class SocialBook:
    """The tables of :func:`social`, and the hidden truth that drove them.

    ``truth`` holds ``topics`` (the column order of ``interests``),
    ``interests`` (members × topics, each row sums to 1), ``activity`` (per
    member: the heavy-tailed weight behind degree and engagement),
    ``communities`` (per member: ``member_id``, ``company``, ``school``,
    ``region`` and the hidden primary ``topic``), ``edge_context`` (per
    undirected edge, ``member_id`` < ``other_id``: the ``context`` it was
    planted in, one of :data:`MIXING`) and ``mixing`` (:data:`MIXING`).
    """

    members: pd.DataFrame
    connections: pd.DataFrame
    groups: pd.DataFrame
    group_members: pd.DataFrame
    events: pd.DataFrame
    event_attendees: pd.DataFrame
    newsletters: pd.DataFrame
    hashtags: pd.DataFrame
    follows: pd.DataFrame
    truth: dict = field(repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name, in order; table ``x`` validates as ``social_x``."""
        names = (
            "members",
            "connections",
            "groups",
            "group_members",
            "events",
            "event_attendees",
            "newsletters",
            "hashtags",
            "follows",
        )
        return {name: getattr(self, name) for name in names}


def social(
    n_members: int | None = None,
    *,
    random_state: int = 0,
    start="2025-01-01",
    members: pd.DataFrame | None = None,
    seed: int | None = None,
) -> SocialBook:
    """A professional social network: members, connections, groups, events, newsletters, hashtags.

    Parameters
    ----------
    n_members : int, optional
        At least 2; 2000 by default, the number of ``members`` when they are
        given. There are ``max(5, n_members // 40)`` companies, 20 schools, 8
        regions and 8 topics.
    random_state : int, default=0
        The data depend on ``random_state`` and the arguments only (``seed`` is its
        older name).
    start : date-like, default="2025-01-01"
        Members joined and connected before ``start``; events start in the 90
        days after it.
    members : DataFrame, optional
        The members to use (a population's ``members``: ``member_id, name,
        title, company``; each title one of :data:`TITLES`) instead of
        generated ones: their ids, names and titles, and the companies they
        work at, whose colleagues connect. A member's primary topic is their
        title's. Without them the network is the same as before.

    Returns
    -------
    SocialBook
        Every member has at least one connection; ``connections`` holds both
        directions of every edge, with no self-edges and no duplicates.

    Examples
    --------
    >>> book = social(300, random_state=1)
    >>> list(book.tables)[:4]
    ['members', 'connections', 'groups', 'group_members']
    >>> book.members.iloc[0][["member_id", "image_url"]].tolist()
    ['U000001', 'https://img.example/u/U000001.png']
    >>> e = book.connections
    >>> bool((e["member_id"] != e["other_id"]).all())  # no self-edges
    True
    >>> bool(book.members["member_id"].isin(e["member_id"]).all())  # nobody alone
    True
    >>> sorted(book.follows["entity_type"].unique())
    ['hashtag', 'newsletter']
    """
    given = None
    if members is not None:
        given, n_members = given_table(
            members,
            n_members,
            default=2000,
            owner="social",
            n_name="n_members",
            what="members",
            columns=["member_id", "name", "title", "company"],
            low=2,
        )
    n_members = 2000 if n_members is None else n_members
    if not isinstance(n_members, Integral) or isinstance(n_members, bool) or n_members < 2:
        raise LumosUserError(
            f"n_members must be an int >= 2 (a network needs two members). Got {n_members!r}.",
            code="bad_argument",
        )
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="social")
    check_number("social", "random_state", random_state, integer=True)
    try:
        begin = pd.Timestamp(start)
    except (TypeError, ValueError):
        begin = pd.NaT
    if begin is pd.NaT:
        raise LumosUserError(
            f"start must be a date such as '2025-01-01'. Got {start!r}.", code="bad_argument"
        )
    rng = np.random.default_rng(int(random_state))
    n, T = int(n_members), len(TOPICS)
    t0 = np.datetime64(begin.tz_localize(None) if begin.tz else begin, "s")

    # members: company (heavy-tailed sizes) → primary topic → title; region; school
    titles = list(TITLES)
    title_topic = np.array([TOPICS.index(p) for p, _ in TITLES.values()])
    if given is None:
        n_comp = max(5, n // 40)
        comp_topic = rng.permutation(np.arange(n_comp) % T)
        comp_region = rng.choice(len(REGIONS), n_comp, p=_norm(list(REGIONS.values())))
        company = rng.choice(n_comp, n, p=_norm(rng.lognormal(0, 1.0, n_comp)))
        topic = np.where(rng.random(n) < 0.7, comp_topic[company], rng.integers(0, T, n))
        title = _pick(rng, title_topic, np.ones(len(titles)), topic, T)
    else:  # the given companies and titles; a member's topic is their title's
        company, company_names = pd.factorize(given["company"].astype(str))
        n_comp = len(company_names)
        comp_region = rng.choice(len(REGIONS), n_comp, p=_norm(list(REGIONS.values())))
        title = codes(given["title"], titles, owner="social", what="members", column="title")
        topic = title_topic[title]
    region = np.where(
        rng.random(n) < 0.75,
        comp_region[company],
        rng.choice(len(REGIONS), n, p=_norm(list(REGIONS.values()))),
    )
    school_region = np.arange(len(SCHOOLS)) % len(REGIONS)
    school_pop = rng.lognormal(0, 0.6, len(SCHOOLS))
    school = np.where(
        rng.random(n) < 0.6,
        _pick(rng, school_region, school_pop, region, len(REGIONS)),
        rng.choice(len(SCHOOLS), n, p=_norm(school_pop)),
    )
    activity = 1 + rng.pareto(1.8, n)  # heavy tail: degree and engagement follow it
    engage = np.sqrt(np.clip(activity / activity.mean(), 0.2, 9))

    secondary = np.array([-1 if s is None else TOPICS.index(s) for _, s in TITLES.values()])
    interests = rng.gamma(0.3, 1.0, (n, T))
    interests[np.arange(n), topic] += rng.gamma(6.0, 0.5, n)
    has2 = secondary[title] >= 0
    interests[np.flatnonzero(has2), secondary[title][has2]] += rng.gamma(3.0, 0.4, has2.sum())
    interests /= interests.sum(1, keepdims=True)

    regions = np.array(list(REGIONS), dtype=object)
    if given is None:
        ids, companies = _ids("U", 6, n), _companies(rng, comp_topic)
    else:
        ids = given["member_id"].astype(str).to_numpy(dtype=object)
        companies = np.asarray(company_names, dtype=object)
    joined_age = np.minimum(rng.exponential(4 * 365 * 86400, n), 15 * 365 * 86400) + 86400
    joined = t0 - joined_age.astype("timedelta64[s]")
    if given is None:
        first_names = np.asarray(_FIRST, dtype=object)[rng.integers(0, len(_FIRST), n)]
        last_names = np.asarray(_LAST, dtype=object)[rng.integers(0, len(_LAST), n)]
    else:  # "Ada Lovelace": first "Ada", last "Lovelace" (a one-word name is both)
        parts = given["name"].astype(str).str.split(" ", n=1)
        first_names = parts.str[0].to_numpy(dtype=object)
        last_names = parts.str[-1].to_numpy(dtype=object)
    members = pd.DataFrame(
        {
            "member_id": ids,
            "name": (
                first_names + " " + last_names
                if given is None
                else given["name"].astype(str).to_numpy(dtype=object)
            ),
            "title": np.asarray(titles, dtype=object)[title],
            "company": companies[company],
            "school": np.asarray(SCHOOLS, dtype=object)[school],
            "region": regions[region],
            "image_url": "https://img.example/u/" + ids + ".png",
            "joined": joined,
        }
    )

    a, b, context = _edges(
        rng,
        activity,
        {
            "company": (company, n_comp),
            "school": (school, len(SCHOOLS)),
            "region": (region, len(REGIONS)),
        },
    )
    lo = np.maximum(joined[a], joined[b]).astype(np.int64)
    since = (lo + rng.random(len(a)) * (t0.astype(np.int64) - lo)).astype("datetime64[s]")
    src, dst = np.concatenate([a, b]), np.concatenate([b, a])
    order = np.lexsort((dst, src))
    connections = pd.DataFrame(
        {
            "member_id": ids[src[order]],
            "other_id": ids[dst[order]],
            "since": np.concatenate([since, since])[order],
        }
    )
    adjacency = (np.bincount(src, minlength=n), dst[order])  # degree, neighbours by member

    # groups: by interest, and groups a connection is in
    n_groups = max(2 * T, n // 100)
    group_topic = rng.permutation(np.arange(n_groups) % T)
    group_pop = rng.lognormal(0, 1.0, n_groups)
    group_region = rng.choice(len(REGIONS), n_groups)
    who = np.repeat(np.arange(n), rng.poisson(1.2 * engage))
    joined_groups = _pick(rng, group_topic, group_pop, _draw(rng, interests[who]), T)
    asker = np.flatnonzero(rng.random(n) < 0.4)  # joins a group of a random connection
    their = _neighbour(rng, _csr(who, joined_groups, n), _neighbour(rng, adjacency, asker))
    ok = their >= 0
    gm_member = np.concatenate([who, asker[ok]])
    gm_group = np.concatenate([joined_groups, their[ok]])
    gm_group, gm_member = _unique_pairs(gm_group, gm_member, n)
    group_ids = _ids("G", 4, n_groups)
    groups = pd.DataFrame(
        {
            "group_id": group_ids,
            "name": _names(rng, _GROUP_FORMS, group_topic, r=regions[group_region]),
            "topic": np.asarray(TOPICS, dtype=object)[group_topic],
        }
    )
    group_members = pd.DataFrame({"group_id": group_ids[gm_group], "member_id": ids[gm_member]})

    # events: in the 90 days after start, attended in one's region on topics of interest
    n_events = max(2 * T, n // 200)
    event_topic = rng.permutation(np.arange(n_events) % T)
    event_region = rng.choice(len(REGIONS), n_events, p=_norm(list(REGIONS.values())))
    event_pop = rng.lognormal(0, 0.7, n_events)
    who = np.repeat(np.arange(n), rng.poisson(0.5 * engage))
    want = _draw(rng, interests[who])
    went = _pick(
        rng, event_region * T + event_topic, event_pop, region[who] * T + want, len(REGIONS) * T
    )
    away = rng.random(len(who)) < 0.1  # travels to one anywhere; else none nearby: stays home
    went = np.where(away, _pick(rng, event_topic, event_pop, want, T), went)
    went, who = _unique_pairs(went[went >= 0], who[went >= 0], n)
    starts = t0 + (
        rng.integers(0, 90, n_events) * 86400 + rng.integers(9, 19, n_events) * 3600
    ).astype("timedelta64[s]")
    event_ids = _ids("E", 4, n_events)
    events = pd.DataFrame(
        {
            "event_id": event_ids,
            "name": _names(rng, _EVENT_FORMS, event_topic, r=regions[event_region]),
            "topic": np.asarray(TOPICS, dtype=object)[event_topic],
            "region": regions[event_region],
            "starts": starts,
        }
    )
    event_attendees = pd.DataFrame({"event_id": event_ids[went], "member_id": ids[who]})

    # newsletters, written by active members of their topic; hashtags
    n_news = max(T, n // 250)
    news_topic = rng.permutation(np.arange(n_news) % T)
    author = _pick(rng, topic, activity**2, news_topic, T)
    author = np.where(author < 0, rng.integers(0, n, n_news), author)
    first, last = first_names[author], last_names[author]
    news_ids = _ids("N", 4, n_news)
    newsletters = pd.DataFrame(
        {
            "newsletter_id": news_ids,
            "name": _names(rng, _NEWSLETTER_FORMS, news_topic, first=first, last=last),
            "topic": np.asarray(TOPICS, dtype=object)[news_topic],
            "author_id": ids[author],
        }
    )
    tag_names = np.array([h for t in TOPICS for h in HASHTAGS[t]], dtype=object)
    tag_topic = np.repeat(np.arange(T), [len(HASHTAGS[t]) for t in TOPICS])
    hashtags = pd.DataFrame(
        {"hashtag": tag_names, "topic": np.asarray(TOPICS, dtype=object)[tag_topic]}
    )

    follows = []
    for kind, names, of_topic, rate in (
        ("newsletter", news_ids, news_topic, 0.8),
        ("hashtag", tag_names, tag_topic, 2.0),
    ):
        who = np.repeat(np.arange(n), rng.poisson(rate * engage))
        pop = rng.lognormal(0, 0.8, len(names))
        what = _pick(rng, of_topic, pop, _draw(rng, interests[who]), T)
        if kind == "newsletter":  # authors do not follow their own newsletter
            keep = author[what] != who
            who, what = who[keep], what[keep]
        what, who = _unique_pairs(what, who, n)
        follows.append(
            pd.DataFrame({"member_id": ids[who], "entity_type": kind, "entity_id": names[what]})
        )
    follows = pd.concat(follows, ignore_index=True)
    follows = follows.sort_values(["member_id", "entity_type", "entity_id"], ignore_index=True)

    truth = {
        "topics": TOPICS,
        "interests": interests,
        "activity": activity,
        "communities": pd.DataFrame(
            {
                "member_id": ids,
                "company": members["company"],
                "school": members["school"],
                "region": members["region"],
                "topic": np.asarray(TOPICS, dtype=object)[topic],
            }
        ),
        "edge_context": pd.DataFrame({"member_id": ids[a], "other_id": ids[b], "context": context}),
        "mixing": dict(MIXING),
    }
    return SocialBook(
        members,
        connections,
        groups,
        group_members,
        events,
        event_attendees,
        newsletters,
        hashtags,
        follows,
        truth,
    )


def _norm(w) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    return w / w.sum()


def _ids(prefix: str, width: int, count: int) -> np.ndarray:
    """``prefix`` and 1-based numbers padded to ``width`` digits: U000001, U000002, …"""
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)], dtype=object)


def _pick(rng, key: np.ndarray, weights: np.ndarray, want: np.ndarray, n_keys: int) -> np.ndarray:
    """For each key in ``want``, an index ``i`` with ``key[i]`` equal to it, drawn in
    proportion to ``weights``; -1 where no index has that key. Vectorized: one
    ``searchsorted`` into the cumulative weights of the indices sorted by key."""
    order = np.argsort(key, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(weights[order])])
    counts = np.bincount(key, minlength=n_keys)
    ends = np.cumsum(counts)
    s, e = (ends - counts)[want], ends[want]
    u = cum[s] + rng.random(len(want)) * (cum[e] - cum[s])
    pos = np.clip(np.searchsorted(cum, u, side="right") - 1, s, np.maximum(e - 1, s))
    return np.where(e > s, order[np.minimum(pos, len(order) - 1)], -1)


def _draw(rng, p: np.ndarray) -> np.ndarray:
    """One column index per row of ``p`` (rows sum to 1), vectorized."""
    return (p.cumsum(1) < rng.random((len(p), 1))).sum(1).clip(max=p.shape[1] - 1)


def _csr(rows: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``values`` grouped by ``rows`` (0 … n-1): the count per row and the values in row order."""
    return np.bincount(rows, minlength=n), values[np.argsort(rows, kind="stable")]


def _neighbour(rng, csr: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """A random value of each row of ``csr`` in ``rows``; -1 for a row with none."""
    count, values = csr
    if len(values) == 0:
        return np.full(len(rows), -1)
    offset = np.concatenate([[0], np.cumsum(count)])
    k = count[rows]
    pos = offset[rows] + (rng.random(len(rows)) * k).astype(np.int64)
    return np.where(k > 0, values[np.minimum(pos, len(values) - 1)], -1)


def _unique_pairs(x: np.ndarray, member: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(x, member)`` pairs, sorted by ``x`` then ``member``."""
    code = np.unique(x.astype(np.int64) * n + member)
    return code // n, code % n


def _edges(rng, activity: np.ndarray, contexts: dict) -> tuple[np.ndarray, ...]:
    """Undirected edges ``a < b``, sorted and distinct, and the context each was planted in.

    Every member draws a Poisson number of stubs in proportion to its activity;
    each stub picks a context by :data:`MIXING` and a partner in that context
    in proportion to activity (so hubs attract edges: a heavy-tailed degree).
    A member left without an edge gets one in its company, or with anyone.
    """
    n, kinds = len(activity), list(MIXING)
    who = np.repeat(np.arange(n), rng.poisson(5.0 * activity / activity.mean()))
    kind = rng.choice(len(kinds), len(who), p=list(MIXING.values()))
    other = np.empty(len(who), dtype=np.int64)
    for k, name in enumerate(kinds):  # four contexts, each vectorized over its stubs
        sel = kind == k
        key, size = contexts[name] if name != "random" else (np.zeros(n, dtype=np.int64), 1)
        other[sel] = _pick(rng, key, activity, key[who[sel]], size)  # never -1: who is in it
    real = other != who
    degree = np.bincount(who[real], minlength=n) + np.bincount(other[real], minlength=n)
    lone = np.flatnonzero(degree == 0)
    key, size = contexts["company"]
    mate = _pick(rng, key, activity, key[lone], size)
    alone = mate == lone  # the only one of its company, or drew itself: anyone else
    mate[alone] = (lone[alone] + rng.integers(1, n, alone.sum())) % n
    a, b = np.concatenate([who, lone]), np.concatenate([other, mate])
    ctx = np.concatenate([kind, np.where(alone, kinds.index("random"), kinds.index("company"))])
    keep = a != b
    lo, hi, ctx = np.minimum(a, b)[keep], np.maximum(a, b)[keep], ctx[keep]
    _, first = np.unique(lo * n + hi, return_index=True)
    return lo[first], hi[first], np.asarray(kinds, dtype=object)[ctx[first]]


def _companies(rng, comp_topic: np.ndarray) -> np.ndarray:
    """Readable company names that say their line of work: "Cedar Analytics", "Harbor Health"."""
    names = np.empty(len(comp_topic), dtype=object)
    for t, topic in enumerate(TOPICS):  # eight topics
        idx = np.flatnonzero(comp_topic == t)
        combos = np.array([f"{p} {s}" for p in _PREFIXES for s in _SUFFIXES[topic]], dtype=object)
        names[idx] = combos[rng.permutation(len(combos))[np.arange(len(idx)) % len(combos)]]
    return _unique(names)


def _names(rng, forms: tuple[str, ...], topics: np.ndarray, **fields: np.ndarray) -> np.ndarray:
    """A name per catalog entry from a random form ("Women in {t}"), made unique."""
    form = rng.integers(0, len(forms), len(topics))
    names = [
        forms[f].format(t=TOPICS[t].title(), **{k: v[i] for k, v in fields.items()})
        for i, (f, t) in enumerate(zip(form, topics, strict=True))
    ]  # the catalog (groups, events, newsletters), not members: n // 100 entries at most
    return _unique(names)
