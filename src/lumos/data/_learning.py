"""A generated learning platform with known answers, for the course recommender.

Members have a title, industry, company and region, profile skills with
scores (some profiles are empty) and personal interests beyond their profile;
courses have skills (the taxonomy tags only some of them), text, difficulty,
duration and a release date. Members see course impressions on three channels
and click, watch, bookmark or dismiss them. The click probability is a logistic
model whose every part is known — skill affinity, a per-member preference for
difficulty and length, a per-course quality and appeal to seniority, channel,
day of week and courses trending in an industry — so tests can check that
models recover it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lumos._checks import check_number, renamed
from lumos.data._given import codes, given_table

SKILLS = {
    "Software development": [
        "Python",
        "Java",
        "JavaScript",
        "SQL",
        "Git",
        "Docker",
        "Kubernetes",
        "React",
        "Go",
        "Testing",
    ],
    "Data science": [
        "Machine learning",
        "Statistics",
        "Data visualization",
        "Deep learning",
        "Pandas",
        "Spark",
        "A/B testing",
        "Forecasting",
    ],
    "Design": ["UX design", "Figma", "Typography", "Illustration", "Prototyping", "User research"],
    "Marketing": [
        "SEO",
        "Content marketing",
        "Email marketing",
        "Social media",
        "Branding",
        "Marketing analytics",
    ],
    "Sales": ["Negotiation", "Prospecting", "CRM", "Sales management", "Account management"],
    "Leadership": [
        "Coaching",
        "Project management",
        "Strategy",
        "Team building",
        "Public speaking",
        "Decision making",
    ],
    "Finance": ["Accounting", "Excel", "Financial modeling", "Budgeting", "Corporate finance"],
    "HR": ["Recruiting", "Onboarding", "Compensation", "Employee engagement"],
}
TITLES = {  # title: (seniority 1-5, {skill category: weight})
    "Software Engineer": (2, {"Software development": 3.0, "Data science": 0.6}),
    "Senior Software Engineer": (3, {"Software development": 3.0, "Leadership": 0.7}),
    "Data Scientist": (2, {"Data science": 3.0, "Software development": 1.0}),
    "Product Designer": (2, {"Design": 3.0, "Marketing": 0.4}),
    "Marketing Manager": (3, {"Marketing": 3.0, "Leadership": 0.8, "Data science": 0.3}),
    "Account Executive": (2, {"Sales": 3.0, "Marketing": 0.5}),
    "Sales Director": (4, {"Sales": 2.0, "Leadership": 2.0}),
    "Financial Analyst": (2, {"Finance": 3.0, "Data science": 0.6}),
    "HR Business Partner": (3, {"HR": 3.0, "Leadership": 1.0}),
    "Engineering Manager": (4, {"Leadership": 2.2, "Software development": 1.8}),
    "Chief Executive Officer": (5, {"Leadership": 3.0, "Finance": 1.0, "Sales": 0.8}),
}
INDUSTRIES = ("Software", "Finance", "Healthcare", "Retail", "Manufacturing", "Education")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
CHANNELS = {"homepage": 0.0, "email": -0.6, "mobile": -0.2}  # click log-odds by channel
DIFFICULTIES = ("beginner", "intermediate", "advanced")
_SUFFIXES = (
    "Essential Training",
    "for Beginners",
    "in Practice",
    "Deep Dive",
    "Foundations",
    "Tips and Tricks",
    "Masterclass",
    "Quick Start",
)
_WORDS = (
    "learn",
    "practical",
    "examples",
    "projects",
    "skills",
    "career",
    "team",
    "tools",
    "real-world",
    "step by step",
    "best practices",
    "hands-on",
)


@dataclass(frozen=True)
class LearningBook:
    """The tables of :func:`learning`, and the hidden truth that drove them.

    ``truth`` holds ``interest`` (members × skills, the true affinity),
    ``member_coef`` (per member: ``intercept``, ``difficulty``, ``long`` — its
    preference for harder and longer courses), ``course_coef`` (per course:
    ``quality``, ``seniority`` — its appeal to senior members), ``personal``
    (member, skill: interests not on the profile) and ``trending`` (course,
    industry, start day).
    """

    members: pd.DataFrame
    member_skills: pd.DataFrame
    courses: pd.DataFrame
    course_skills: pd.DataFrame
    skills: pd.DataFrame
    interactions: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    truth: dict = field(repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name, in order (``members, member_skills, courses, course_skills,
        skills, interactions``): the argument of
        :meth:`lumos.recommend.CourseRecommender.fit`."""
        names = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")
        return {name: getattr(self, name) for name in names}


def learning(
    n_members: int | None = None,
    n_courses: int = 600,
    days: int = 60,
    random_state: int = 0,
    start="2025-01-01",
    taxonomy_coverage: float = 0.6,
    *,
    members: pd.DataFrame | None = None,
    seed: int | None = None,
) -> LearningBook:
    """A learning platform: members, courses, skills and a log of interactions.

    Parameters
    ----------
    n_members : int, optional
        3000 by default; the number of ``members`` when they are given.
    n_courses : int, default=600
    days : int, default=60
        Days of interactions from ``start``.
    random_state : int, default=0
        The data depend on ``random_state`` and the arguments only (``seed`` is its
        older name).
    start : date-like, default="2025-01-01"
    taxonomy_coverage : float, default=0.6
        Share of courses the skill taxonomy tags (``course_skills``); the
        others have skills only in their text.
    members : DataFrame, optional
        The members to use (a population's ``members``: ``member_id, title,
        industry, company, region``; each title one of :data:`TITLES`, each
        industry one of :data:`INDUSTRIES`) instead of generated ones: their
        ids, and the title, industry and company their skills, preferences and
        trends follow. Without them the book is the same as before.

    Returns
    -------
    LearningBook

    Examples
    --------
    >>> book = learning(200, 80, days=14, random_state=1)
    >>> sorted(book.interactions["type"].unique())
    ['bookmark', 'click', 'dismiss', 'impression', 'watch']
    >>> bool((book.interactions.groupby("type").size()["click"]
    ...       < book.interactions.groupby("type").size()["impression"]))
    True
    """
    given, n_members = given_table(
        members,
        n_members,
        default=3000,
        owner="learning",
        n_name="n_members",
        what="members",
        columns=["member_id", "title", "industry", "company", "region"],
        low=10,
    )
    for name, value, low in (
        ("n_courses", n_courses, 10),
        ("days", days, 7),
    ):
        check_number("learning", name, value, low=low, integer=True)
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="learning")
    rng = np.random.default_rng(random_state)
    skills = pd.DataFrame(
        [
            (f"S{i:03d}", name, cat)
            for i, (cat, name) in enumerate((c, s) for c, names in SKILLS.items() for s in names)
        ],
        columns=["skill_id", "name", "category"],
    )
    K, cats = len(skills), list(SKILLS)
    skill_cat = skills["category"].map(cats.index).to_numpy()

    # members: title × industry cohorts give a prior over skills
    titles = list(TITLES)
    if given is None:
        title = rng.choice(len(titles), n_members, p=_weights(rng, len(titles)))
        industry = rng.choice(len(INDUSTRIES), n_members)
    else:
        known = {"owner": "learning", "what": "members"}
        title = codes(given["title"], titles, column="title", **known)
        industry = codes(given["industry"], INDUSTRIES, column="industry", **known)
    prior = np.zeros((len(titles), len(INDUSTRIES), K))
    for t, (_, weights) in enumerate(TITLES.values()):
        base = np.array([weights.get(cats[c], 0.05) for c in skill_cat])
        tilt = rng.gamma(2.0, 0.5, (len(INDUSTRIES), K))  # industries favour different skills
        prior[t] = base * tilt
    prior /= prior.sum(-1, keepdims=True)
    cohort = prior[title, industry]  # n × K
    interest = cohort * K * rng.gamma(4.0, 0.25, (n_members, K))
    personal = rng.random((n_members, K)) < 1.5 / K  # interests beyond the profile
    interest = interest + 3.0 * personal
    has_profile = rng.random(n_members) < 0.7
    profile = np.zeros((n_members, K), dtype=bool)
    for _ in range(6):  # up to 6 draws from the cohort prior, at most a few distinct skills
        pick = _draw(rng, cohort)
        profile[np.arange(n_members), pick] |= has_profile & (rng.random(n_members) < 0.8)
    profile &= ~personal
    m, k = np.nonzero(profile)
    if given is None:
        member_ids = np.array([f"M{i:06d}" for i in range(n_members)], dtype=object)
    else:
        member_ids = given["member_id"].astype(str).to_numpy(dtype=object)
    member_skills = pd.DataFrame(
        {
            "member_id": member_ids[m],
            "skill_id": skills["skill_id"].to_numpy()[k],
            "score": np.round(rng.uniform(0.3, 1.0, len(m)), 2),
        }
    )
    seniority = np.array([TITLES[t][0] for t in titles])[title]
    if given is None:
        companies = np.array([f"Company {i:03d}" for i in range(max(20, n_members // 40))])
        company_industry = rng.choice(len(INDUSTRIES), len(companies))
        company = np.array(
            [
                rng.choice(np.flatnonzero(company_industry == g))
                if (company_industry == g).any()
                else 0
                for g in range(len(INDUSTRIES))
            ]
        )
        company = company[industry] + 0  # one company per industry at least …
        spread = rng.integers(0, len(companies), n_members)  # … and mostly the others in it
        same = company_industry[spread] == industry
        company_names = companies[np.where(same, spread, company)].astype(object)
        region = rng.choice(REGIONS, n_members, p=[0.45, 0.3, 0.15, 0.1]).astype(object)
    else:
        company_names = given["company"].astype(str).to_numpy(dtype=object)
        region = given["region"].astype(str).to_numpy(dtype=object)
    members = pd.DataFrame(
        {
            "member_id": member_ids,
            "title": np.array(titles, dtype=object)[title],
            "industry": np.array(INDUSTRIES, dtype=object)[industry],
            "company": company_names,
            "region": region,
            "seniority": seniority.astype(np.float64),
        }
    )
    member_coef = pd.DataFrame(
        {
            "member_id": member_ids,
            "intercept": rng.normal(0, 0.5, n_members),
            "difficulty": rng.normal(0, 1.2, n_members),
            "long": rng.normal(0, 1.2, n_members),
        }
    )

    # courses: one to three skills of one category, text that names them
    course_ids = np.array([f"C{i:05d}" for i in range(n_courses)], dtype=object)
    cat = rng.choice(len(cats), n_courses)
    tags = np.zeros((n_courses, K), dtype=bool)
    for j in range(n_courses):  # building the catalog, not a hot path
        pool = np.flatnonzero(skill_cat == cat[j])
        tags[j, rng.choice(pool, min(len(pool), rng.integers(1, 4)), replace=False)] = True
    names = skills["name"].to_numpy()
    first = tags.argmax(1)
    difficulty = rng.choice(3, n_courses, p=[0.45, 0.35, 0.2])
    duration = np.round(np.exp(rng.normal(np.log(3600), 0.7, n_courses)), -1)
    release = pd.Timestamp(start) - pd.to_timedelta(rng.integers(-days, 3 * 365, n_courses), "D")
    text = []
    for j in range(n_courses):
        words = rng.choice(_WORDS, 4, replace=False)
        pool = np.flatnonzero(skill_cat == cat[j])  # the text names most tags, and a stray skill
        said = (tags[j] & (rng.random(K) < 0.7)) | (
            np.isin(np.arange(K), pool) & (rng.random(K) < 0.15)
        )
        tagged = ", ".join(names[said]) or names[first[j]]
        text.append(
            f"Learn {tagged} with {words[0]} {words[1]}: {words[2]} and {words[3]} "
            f"for {cats[cat[j]].lower()} professionals."
        )
    courses = pd.DataFrame(
        {
            "course_id": course_ids,
            "title": _unique(
                [f"{names[first[j]]} {_SUFFIXES[j % len(_SUFFIXES)]}" for j in range(n_courses)]
            ),
            "description": text,
            "category": np.array(cats, dtype=object)[cat],
            "author": [f"Author {i:02d}" for i in rng.integers(0, 60, n_courses)],
            "difficulty": np.array(DIFFICULTIES, dtype=object)[difficulty],
            "duration": duration,
            "release_date": release.normalize(),
        }
    )
    covered = rng.random(n_courses) < taxonomy_coverage
    c, k = np.nonzero(tags & covered[:, None])
    course_skills = pd.DataFrame(
        {"course_id": course_ids[c], "skill_id": skills["skill_id"].to_numpy()[k]}
    )
    course_coef = pd.DataFrame(
        {
            "course_id": course_ids,
            "quality": rng.normal(0, 0.6, n_courses),
            "seniority": rng.normal(0, 0.25, n_courses),
        }
    )

    # trending: a few courses take off in one industry halfway through
    n_trend = max(3, n_courses // 40)
    trending = pd.DataFrame(
        {
            "course_id": rng.choice(course_ids, n_trend, replace=False),
            "industry": rng.choice(INDUSTRIES, n_trend),
            "start_day": rng.integers(days // 3, days, n_trend),
        }
    )
    truth = {
        "interest": interest,
        "member_coef": member_coef,
        "course_coef": course_coef,
        "personal": pd.DataFrame(
            {
                "member_id": member_ids[np.nonzero(personal)[0]],
                "skill_id": skills["skill_id"].to_numpy()[np.nonzero(personal)[1]],
            }
        ),
        "trending": trending,
        "tags": tags,
    }

    interactions = _interactions(
        rng,
        days,
        pd.Timestamp(start),
        interest,
        tags,
        members,
        courses,
        member_coef,
        course_coef,
        trending,
    )
    begin = pd.Timestamp(start)
    return LearningBook(
        members,
        member_skills,
        courses,
        course_skills,
        skills,
        interactions,
        begin,
        begin + pd.Timedelta(days=days),
        truth,
    )


def _unique(titles: list[str]) -> np.ndarray:
    """Titles made unique: a repeat gets a volume number ("Python Foundations 2")."""
    t = pd.Series(titles)
    n = t.groupby(t).cumcount()
    return np.where(n > 0, t + " " + (n + 1).astype(str), t).astype(object)


def _weights(rng, n):
    w = rng.gamma(2.0, 1.0, n)
    return w / w.sum()


def _draw(rng, p: np.ndarray) -> np.ndarray:
    """One index per row of ``p`` (rows sum to 1), vectorized."""
    return (p.cumsum(1) < rng.random((len(p), 1))).sum(1).clip(max=p.shape[1] - 1)


def _interactions(
    rng, days, start, interest, tags, members, courses, member_coef, course_coef, trending
) -> pd.DataFrame:
    n, C = len(members), len(courses)
    affinity = (interest @ tags.T) / np.maximum(tags.sum(1), 1)  # n × C
    affinity = np.clip((affinity - affinity.mean()) / (affinity.std() + 1e-12), -2.5, 2.5)
    difficulty = courses["difficulty"].map({d: i - 1 for i, d in enumerate(DIFFICULTIES)})
    difficulty = difficulty.to_numpy(np.float64)
    long = (np.log(courses["duration"].to_numpy()) - np.log(3600)) / 0.7
    seniority = (members["seniority"].to_numpy() - 2.5) / 1.2
    activity = rng.gamma(1.5, 0.2, n).clip(0.02, 0.9)  # daily chance a member visits
    popularity = np.exp(course_coef["quality"].to_numpy())
    pop_p = popularity / popularity.sum()
    channels, offsets = list(CHANNELS), np.array(list(CHANNELS.values()))
    ids_m, ids_c = members["member_id"].to_numpy(), courses["course_id"].to_numpy()
    industry = members["industry"].to_numpy()
    mc = member_coef[["intercept", "difficulty", "long"]].to_numpy(np.float64)
    cc = course_coef[["quality", "seniority"]].to_numpy(np.float64)
    rows = []
    for day in range(days):  # a loop over days; each day is vectorized over members
        date = start + pd.Timedelta(days=day)
        weekend = date.day_of_week >= 5
        visit = np.flatnonzero(rng.random(n) < activity * (0.5 if weekend else 1.0))
        per = 6
        who = np.repeat(visit, per)
        # impressions: half by popularity, half related to the member's interests, some random
        related = _draw(rng, _softmax(1.5 * affinity[visit]))
        what = np.where(
            rng.random(len(who)) < 0.4,
            rng.choice(C, len(who), p=pop_p),
            np.where(
                rng.random(len(who)) < 0.7, np.repeat(related, per), rng.integers(0, C, len(who))
            ),
        )
        channel = rng.choice(3, len(who), p=[0.6, 0.15, 0.25])
        boost = np.zeros(len(who))
        for _, tr in trending[trending["start_day"] <= day].iterrows():  # a handful
            j = int(np.flatnonzero(ids_c == tr["course_id"])[0])
            boost += 2.0 * ((what == j) & (industry[who] == tr["industry"]))
        logit = (
            -3.0
            + offsets[channel]
            - 0.3 * weekend
            + 1.0 * affinity[who, what]
            + mc[who, 0]
            + mc[who, 1] * difficulty[what]
            + mc[who, 2] * long[what]
            + cc[what, 0]
            + cc[what, 1] * seniority[who]
            + boost
        )
        click = rng.random(len(who)) < 1 / (1 + np.exp(-logit))
        secs = rng.integers(8 * 3600, 22 * 3600, len(who))
        ts = date + pd.to_timedelta(secs, "s")
        rows.append(
            pd.DataFrame(
                {
                    "member_id": ids_m[who],
                    "course_id": ids_c[what],
                    "channel": np.array(channels, dtype=object)[channel],
                    "type": "impression",
                    "seconds": 0.0,
                    "timestamp": ts,
                }
            )
        )
        c = np.flatnonzero(click)
        later = ts[c] + pd.to_timedelta(rng.integers(5, 120, len(c)), "s")
        rows.append(rows[-1].iloc[c].assign(type="click", timestamp=later))
        a = affinity[who[c], what[c]]  # the share of the course watched follows affinity
        mu, sd = (a.mean(), a.std() + 1e-9) if len(a) else (0.0, 1.0)
        frac = 1 / (1 + np.exp(-(0.8 * (a - mu) / sd + rng.normal(0, 1.0, len(c)))))
        duration = courses["duration"].to_numpy()[what[c]]
        rows.append(
            rows[-2]
            .iloc[c]
            .assign(
                type="watch",
                seconds=np.round(frac * duration),
                timestamp=later + pd.Timedelta(minutes=1),
            )
        )
        mark = c[rng.random(len(c)) < 0.08 + 0.1 * (frac > 0.7)]
        rows.append(rows[-3].iloc[mark].assign(type="bookmark"))
        no = np.flatnonzero(~click & (rng.random(len(who)) < 0.03))
        rows.append(rows[-4].iloc[no].assign(type="dismiss"))
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(["timestamp", "member_id"], kind="stable", ignore_index=True)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
