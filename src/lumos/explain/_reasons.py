"""Reasons for recommendations: "Because of your skill 'Python'", "Trending in your industry".

Context annotation as LinkedIn Learning does it ("Learning to be Relevant",
§3.4): every reason scores every member-course pair; within each member the
scores of one reason are replaced by inverted ranks (the best pair 1, the
second 1/2, … — rank-based scaling, so reasons of different units compare),
and each pair keeps the reason with the highest scaled score. Ties between
reasons go to the earlier one in :data:`REASONS`.

======================= ===================================================
reason                  raw score of a (member, course) pair
======================= ===================================================
``skill``               the best product of the member's profile score and
                        the course's tag weight over shared skills
``watched``             the highest co-engagement cosine between the course
                        and a course the member engaged with
``trending_title``      the course's engagement lift among members of the
``trending_industry``   member's title / industry / company: engagements in
``trending_company``    the last ``trend_days`` over those expected from the
                        ``baseline_days`` before (+1 smoothing), when at
                        least ``min_trend`` engagements are recent
``trending``            the same lift over all members
``popular``             engagements in the last ``baseline_days``
``new``                 1 / (days since release + 1), for courses released
                        in the last ``new_days``
======================= ===================================================

A reason with a raw score of 0 (or none) never applies to a pair. A pair no
reason applies to is "Recommended for you". Engagements are clicks, watches
and bookmarks strictly before ``as_of``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from lumos._checks import check_fitted, check_number, tables_argument
from lumos.data import id_positions, validate_table
from lumos.errors import LumosUserError
from lumos.models import course_skill_matrix

REASONS = {
    "skill": "Because of your skill '{detail}'",
    "watched": "Because you watched '{detail}'",
    "trending_title": "Trending among {detail}s",
    "trending_industry": "Trending in your industry",
    "trending_company": "Trending at {detail}",
    "trending": "Trending on the platform",
    "popular": "Popular with learners",
    "new": "New this month",
}
FALLBACK = "Recommended for you"
#: The tables :meth:`CourseReasons.fit` reads, by name.
REASON_TABLES = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")
_ENGAGED = ("click", "watch", "bookmark")


class CourseReasons:
    """Score, scale and pick the reason for each recommended (member, course) pair.

    Parameters
    ----------
    as_of : date-like
        Only interactions before it count; ``new`` measures from it.
    trend_days : int, default=7
    baseline_days : int, default=28
    min_trend : int, default=3
    new_days : int, default=30
    reasons : list of str, optional
        The reasons to use, a subset of :data:`REASONS` (default: all).

    Examples
    --------
    >>> from lumos.data.demo import learning
    >>> book = learning(200, 60, days=21, random_state=0)
    >>> why = CourseReasons(as_of=book.end).fit(book.tables)
    >>> pairs = pd.DataFrame({"member_id": ["M000001"] * 3, "course_id": ["C00001", "C00002",
    ...                                                                    "C00003"]})
    >>> list(why.annotate(pairs).columns)
    ['member_id', 'course_id', 'reason', 'reason_text', 'reason_score']
    """

    def __init__(
        self,
        *,
        as_of,
        trend_days: int = 7,
        baseline_days: int = 28,
        min_trend: int = 3,
        new_days: int = 30,
        reasons=None,
    ):
        self.as_of = as_of
        self.trend_days = trend_days
        self.baseline_days = baseline_days
        self.min_trend = min_trend
        self.new_days = new_days
        self.reasons = reasons

    def fit(self, tables=None, *more, tagged=None, **named) -> CourseReasons:
        """Precompute each reason's tables from the platform's tables.

        ``tables`` maps ``members``, ``member_skills``, ``courses``,
        ``course_skills``, ``skills`` and ``interactions`` to their tables (a
        ``LearningBook``'s ``tables``, or the book itself); the six one by one
        still work for a release, with a ``DeprecationWarning``. ``tagged``
        (``course_id, skill_id[, probability]``, e.g. a
        :class:`~lumos.models.SkillTagger`'s output) widens the taxonomy for
        the ``skill`` reason.
        """
        if len(more) == len(REASON_TABLES) and tagged is None:  # the older seventh positional
            *more, tagged = more
        tables = tables_argument(
            tables, more, named, names=REASON_TABLES, owner="CourseReasons.fit"
        )
        members, member_skills, courses = (tables[n] for n in REASON_TABLES[:3])
        course_skills, skills, interactions = (tables[n] for n in REASON_TABLES[3:])
        chosen = list(REASONS) if self.reasons is None else list(self.reasons)
        unknown = [r for r in chosen if r not in REASONS]
        if unknown or not chosen:
            raise LumosUserError(
                f"The 'reasons' parameter of CourseReasons must name reasons "
                f"among {', '.join(REASONS)}. Got {self.reasons!r}.",
                code="bad_argument",
            )
        for name in ("trend_days", "baseline_days", "min_trend", "new_days"):
            check_number("CourseReasons", name, getattr(self, name), low=1, integer=True)
        self.reasons_ = chosen
        self.as_of_ = pd.Timestamp(self.as_of)
        members = validate_table("members", members)
        courses = validate_table("courses", courses)
        skills = validate_table("skills", skills)
        self.members_ = pd.Index(members["member_id"])
        self.courses_ = pd.Index(courses["course_id"])
        self.course_titles_ = courses["title"].to_numpy(dtype=object)
        self.skill_names_ = skills["name"].to_numpy(dtype=object)

        # skill: profile scores × course tags (the taxonomy, widened by the tagger's tags)
        prof = validate_table("member_skills", member_skills)
        m = id_positions(prof["member_id"].to_numpy(), self.members_, "member_skills", "member_id")
        s = id_positions(
            prof["skill_id"].to_numpy(), pd.Index(skills["skill_id"]), "member_skills", "skill_id"
        )
        self.profile_ = sparse.csr_matrix(
            (prof["score"].to_numpy(), (m, s)), shape=(len(members), len(skills))
        )
        tags = course_skill_matrix(courses, course_skills, skills)
        if tagged is not None and len(tagged):
            c = id_positions(tagged["course_id"].to_numpy(), self.courses_, "tagged", "course_id")
            k = id_positions(
                tagged["skill_id"].to_numpy(), pd.Index(skills["skill_id"]), "tagged", "skill_id"
            )
            w = tagged["probability"].to_numpy() if "probability" in tagged else np.ones(len(c))
            extra = sparse.csr_matrix((w, (c, k)), shape=tags.shape)
            tags = tags.maximum(extra)
        self.tags_ = tags.tocsr()

        # engagements before as_of
        log = validate_table("interactions", interactions)
        log = log[log["type"].isin(_ENGAGED) & (log["timestamp"] < self.as_of_)]
        em = self.members_.get_indexer(log["member_id"])
        ec = self.courses_.get_indexer(log["course_id"])
        ok = (em >= 0) & (ec >= 0)
        em, ec, when = em[ok], ec[ok], log["timestamp"].to_numpy()[ok]
        E = sparse.csr_matrix((np.ones(len(em)), (em, ec)), shape=(len(members), len(courses)))
        E.data[:] = 1.0
        self.engaged_ = E
        norm = np.sqrt(np.asarray(E.sum(0)).ravel())
        En = E @ sparse.diags(np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0))
        sim = (En.T @ En).toarray()
        np.fill_diagonal(sim, 0.0)
        self.similar_ = sim

        # trends and popularity
        days = (self.as_of_ - pd.DatetimeIndex(when)).total_seconds().to_numpy() / 86400
        recent = days <= self.trend_days
        base = (days > self.trend_days) & (days <= self.trend_days + self.baseline_days)
        self.popular_ = np.bincount(ec[days <= self.baseline_days], minlength=len(courses))
        self.trends_ = {}
        for name, column in (
            ("trending_title", "title"),
            ("trending_industry", "industry"),
            ("trending_company", "company"),
            ("trending", None),
        ):
            if column is None:
                code, values = np.zeros(len(members), dtype=np.int64), np.array(["all"])
            else:
                code, values = pd.factorize(members[column])
            g = code[em]
            n = len(values)
            r = np.bincount(g[recent] * len(courses) + ec[recent], minlength=n * len(courses))
            b = np.bincount(g[base] * len(courses) + ec[base], minlength=n * len(courses))
            expected = b * (self.trend_days / self.baseline_days)
            lift = np.where(r >= self.min_trend, (r + 1.0) / (expected + 1.0), 0.0)
            lift = np.where(lift > 1.0, lift, 0.0).reshape(n, len(courses))  # rising only
            self.trends_[name] = (code, np.asarray(values, dtype=object), lift)
        age = (self.as_of_ - courses["release_date"]).dt.days.to_numpy()
        fresh = (age >= 0) & (age < self.new_days)
        self.new_ = np.divide(1.0, age + 1.0, out=np.zeros(len(age)), where=fresh)
        return self

    def scores(self, member_ids, course_ids) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores (pairs × reasons) and each reason's detail text (pairs × reasons)."""
        check_fitted(self, "reasons_")
        m = id_positions(np.asarray(member_ids, dtype=object), self.members_, "pairs", "member_id")
        c = id_positions(np.asarray(course_ids, dtype=object), self.courses_, "pairs", "course_id")
        raw = np.zeros((len(m), len(self.reasons_)))
        detail = np.full((len(m), len(self.reasons_)), "", dtype=object)
        for j, name in enumerate(self.reasons_):
            if name == "skill":
                raw[:, j], at = _best_product(self.profile_, self.tags_, m, c)
                detail[:, j] = np.where(at >= 0, self.skill_names_[np.maximum(at, 0)], "")
            elif name == "watched":
                raw[:, j], at = _best_similar(self.engaged_, self.similar_, m, c)
                detail[:, j] = np.where(at >= 0, self.course_titles_[np.maximum(at, 0)], "")
            elif name == "popular":
                raw[:, j] = self.popular_[c]
            elif name == "new":
                raw[:, j] = self.new_[c]
            else:
                code, values, lift = self.trends_[name]
                raw[:, j] = lift[code[m], c]
                detail[:, j] = values[code[m]]
        return raw, detail

    def annotate(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """The best reason of each (member_id, course_id) row of ``pairs``.

        Returns ``pairs`` with ``reason`` (a key of :data:`REASONS`, or
        ``"none"``), ``reason_text`` and ``reason_score`` (the inverted rank,
        in (0, 1]; 0 when no reason applies).
        """
        for col in ("member_id", "course_id"):
            if col not in pairs:
                raise LumosUserError(f"pairs needs a {col!r} column.", code="missing_column")
        raw, detail = self.scores(pairs["member_id"].to_numpy(), pairs["course_id"].to_numpy())
        member = self.members_.get_indexer(pairs["member_id"])
        scaled = np.column_stack([inverted_rank(member, raw[:, j]) for j in range(raw.shape[1])])
        best = np.argmax(scaled, axis=1)  # the first of equal scores: REASONS' order
        score = scaled[np.arange(len(best)), best]
        names = np.array(self.reasons_, dtype=object)
        texts = np.array([REASONS[r] for r in self.reasons_], dtype=object)
        pick = detail[np.arange(len(best)), best]
        text = np.array(
            [t.format(detail=d) for t, d in zip(texts[best], pick, strict=True)], dtype=object
        )
        none = score <= 0
        out = pairs.copy()
        out["reason"] = np.where(none, "none", names[best])
        out["reason_text"] = np.where(none, FALLBACK, text)
        out["reason_score"] = score
        return out


def inverted_rank(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """1/k for the k-th highest positive score within each group (ties share a rank); 0 else.

    Examples
    --------
    >>> inverted_rank(np.array([0, 0, 0, 1]), np.array([0.2, 0.9, 0.2, 0.0])).tolist()
    [0.5, 1.0, 0.5, 0.0]
    """
    order = np.lexsort((-score, group))
    g, s = group[order], score[order]
    start = np.r_[True, g[1:] != g[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(g)), 0))
    new = start | np.r_[True, s[1:] != s[:-1]]
    rank = np.maximum.accumulate(np.where(new, np.arange(len(g)), 0)) - first + 1
    out = np.empty(len(g))
    out[order] = np.where(s > 0, 1.0 / rank, 0.0)
    return out


def _best_product(P: sparse.csr_matrix, T: sparse.csr_matrix, m, c):
    """Per pair: max over skills of P[m, s]·T[c, s], and the argmax skill (-1 if none)."""
    rows = P[m]  # pairs × skills, sparse: the member's profile skills
    counts = np.diff(rows.indptr)
    pair = np.repeat(np.arange(len(m)), counts)
    skill = rows.indices
    value = rows.data * np.asarray(T[c[pair], skill]).ravel()
    return _group_max(pair, value, skill, len(m))


def _best_similar(E: sparse.csr_matrix, S: np.ndarray, m, c):
    """Per pair: max over the member's engaged courses w ≠ c of S[c, w], and that w."""
    rows = E[m]
    pair = np.repeat(np.arange(len(m)), np.diff(rows.indptr))
    other = rows.indices
    value = S[c[pair], other]
    return _group_max(pair, value, other, len(m))


def _group_max(pair, value, what, n):
    best, at = np.zeros(n), np.full(n, -1)
    keep = value > 0
    pair, value, what = pair[keep], value[keep], what[keep]
    order = np.lexsort((-value, pair))  # per pair, the largest first
    first = order[np.r_[True, pair[order][1:] != pair[order][:-1]]] if len(order) else order
    best[pair[first]], at[pair[first]] = value[first], what[first]
    return best, at


def carousels(annotated: pd.DataFrame, *, score: str = "score", per_carousel: int = 10):
    """Group each member's recommendations by reason text, best carousel first.

    ``annotated`` has ``member_id``, ``reason_text`` and a ``score`` column;
    returns ``member_id, carousel, rank, course_id, …`` with carousels ordered
    by their best score and courses by score within them.
    """
    if score not in annotated:
        raise LumosUserError(
            f"annotated needs a {score!r} column to order carousels.", code="missing_column"
        )
    top = annotated.groupby(["member_id", "reason_text"], sort=False)[score].transform("max")
    df = annotated.assign(_top=top).sort_values(
        ["member_id", "_top", "reason_text", score],
        ascending=[True, False, True, False],
        kind="stable",
    )  # a carousel's rows together, the best carousel first
    df["rank"] = df.groupby(["member_id", "reason_text"], sort=False).cumcount() + 1
    first = (df["rank"] == 1).astype(int)
    df["carousel"] = first.groupby(df["member_id"], sort=False).cumsum()
    df = df[df["rank"] <= per_carousel]
    return df.drop(columns="_top").reset_index(drop=True)
