"""Reasons for course recommendations: rank scaling, planted reasons, carousels, errors."""

import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import CourseReasons, carousels, inverted_rank

AS_OF = pd.Timestamp("2025-03-01")


def _platform():
    members = pd.DataFrame(
        {
            "member_id": ["ann", "bob", "cat", "dan"] + [f"r{i}" for i in range(6)],
            "title": ["Engineer", "Analyst", "Buyer", "Clerk"] + ["Buyer"] * 6,
            "industry": ["Software", "Finance", "Retail", "Energy"] + ["Retail"] * 6,
            "company": "",
            "region": "NA",
        }
    )
    skills = pd.DataFrame(
        {"skill_id": ["py", "xl"], "name": ["Python", "Excel"], "category": ["Software", "Finance"]}
    )
    courses = pd.DataFrame(
        {
            "course_id": ["py101", "x1", "x2", "hot", "fresh", "old"],
            "title": [
                "Python 101",
                "Excel Basics",
                "Excel Charts",
                "Retail Trends",
                "Fresh",
                "Old",
            ],
            "description": "",
            "category": "General",
            "author": "",
            "difficulty": "beginner",
            "duration": 3600.0,
            "release_date": pd.to_datetime(["2020-01-01"] * 4 + ["2025-02-27", "2020-01-01"]),
        }
    )
    member_skills = pd.DataFrame({"member_id": ["ann"], "skill_id": ["py"], "score": [0.9]})
    course_skills = pd.DataFrame({"course_id": ["py101"], "skill_id": ["py"]})
    rows = []
    for i in range(6):  # x1 and x2 are watched together; retail buyers take up "hot" this week
        rows += [
            (f"r{i}", "x1", "2025-01-10"),
            (f"r{i}", "x2", "2025-01-11"),
            (f"r{i}", "hot", "2025-02-26"),
        ]
    rows += [("bob", "x1", "2025-02-01")]
    log = pd.DataFrame(rows, columns=["member_id", "course_id", "timestamp"])
    log = log.assign(
        channel="homepage", type="watch", seconds=600.0, timestamp=pd.to_datetime(log["timestamp"])
    )
    names = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")
    tables = (members, member_skills, courses, course_skills, skills, log)
    return dict(zip(names, tables, strict=True))


@pytest.fixture(scope="module")
def reasons():
    return CourseReasons(as_of=AS_OF).fit(_platform())


def test_inverted_rank_within_each_member():
    got = inverted_rank(np.array([1, 1, 1, 2, 2]), np.array([3.0, 5.0, 3.0, 0.0, 2.0]))
    assert got.tolist() == [0.5, 1.0, 0.5, 0.0, 1.0]


@pytest.mark.parametrize(
    ("member", "course", "reason", "text"),
    [
        ("ann", "py101", "skill", "Because of your skill 'Python'"),
        ("bob", "x2", "watched", "Because you watched 'Excel Basics'"),
        ("cat", "hot", "trending_title", "Trending among Buyers"),
        ("dan", "fresh", "new", "New this month"),
    ],
)
def test_each_planted_reason_is_found(reasons, member, course, reason, text):
    pairs = pd.DataFrame({"member_id": [member] * 3, "course_id": [course, "old", "py101"]})
    if course == "py101":
        pairs["course_id"] = ["py101", "old", "x1"]
    got = reasons.annotate(pairs).iloc[0]
    assert (got["reason"], got["reason_text"], got["reason_score"]) == (reason, text, 1.0)


def test_industry_trend_when_title_is_left_out():
    why = CourseReasons(as_of=AS_OF, reasons=["trending_industry", "popular"]).fit(_platform())
    got = why.annotate(pd.DataFrame({"member_id": ["cat"], "course_id": ["hot"]}))
    assert got["reason_text"].tolist() == ["Trending in your industry"]
    # nothing before as_of counts: a day earlier, "hot" had no engagements yet
    early = CourseReasons(as_of="2025-02-26", reasons=["trending_industry"]).fit(_platform())
    got = early.annotate(pd.DataFrame({"member_id": ["cat"], "course_id": ["hot"]}))
    assert got["reason"].tolist() == ["none"] and got["reason_text"].tolist() == [
        "Recommended for you"
    ]


def test_carousels_group_by_reason(reasons):
    pairs = pd.DataFrame(
        {
            "member_id": ["ann"] * 4,
            "course_id": ["py101", "fresh", "hot", "x1"],
            "score": [0.9, 0.5, 0.8, 0.1],
        }
    )
    got = carousels(reasons.annotate(pairs))
    assert got["carousel"].tolist() == sorted(got["carousel"])
    assert got.iloc[0]["course_id"] == "py101" and got.iloc[0]["rank"] == 1
    assert got.groupby("carousel")["reason_text"].nunique().eq(1).all()


def test_errors(reasons):
    with pytest.raises(DataValidationError, match="'nobody' is not a known id"):
        reasons.annotate(pd.DataFrame({"member_id": ["nobody"], "course_id": ["x1"]}))
    with pytest.raises(LumosUserError, match="'reasons' parameter"):
        CourseReasons(as_of=AS_OF, reasons=["vibes"]).fit(_platform())
    with pytest.raises(LumosUserError, match="not fitted"):
        CourseReasons(as_of=AS_OF).annotate(pd.DataFrame({"member_id": [], "course_id": []}))
    tables = _platform()
    bad = tables["course_skills"].assign(skill_id="nope")
    with pytest.raises(DataValidationError, match="course_skills row 0, column 'skill_id'"):
        CourseReasons(as_of=AS_OF).fit({**tables, "course_skills": bad})


def test_positional_tables_still_work_with_a_warning(reasons):
    tables = _platform()
    with pytest.warns(DeprecationWarning, match="CourseReasons.fit takes the tables as one"):
        old = CourseReasons(as_of=AS_OF).fit(*tables.values())
    pairs = pd.DataFrame({"member_id": ["ann", "bob"], "course_id": ["py101", "x2"]})
    pd.testing.assert_frame_equal(old.annotate(pairs), reasons.annotate(pairs))
    with pytest.raises(LumosUserError, match=r"not fit\(\*book.tables\)"):
        CourseReasons(as_of=AS_OF).fit(*tables)
