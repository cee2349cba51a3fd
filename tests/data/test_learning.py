"""The learning platform: validation errors, and the generated platform's planted structure."""

import numpy as np
import pandas as pd
import pytest

from lumos.data import validate_table
from lumos.data.demo import learning
from lumos.errors import DataValidationError, LumosUserError

TABLES = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")


@pytest.fixture(scope="module")
def book():
    return learning(600, 150, days=28, random_state=2)


def test_tables_validate(book):
    for name in TABLES:
        table = getattr(book, name)
        assert len(validate_table(name, table)) == len(table)
    assert (book.interactions["timestamp"] >= book.start).all()
    assert (book.interactions["timestamp"] < book.end + pd.Timedelta(days=1)).all()


def test_planted_structure(book):
    truth, i = book.truth, book.interactions
    profile = set(zip(book.member_skills["member_id"], book.member_skills["skill_id"], strict=True))
    personal = set(zip(truth["personal"]["member_id"], truth["personal"]["skill_id"], strict=True))
    assert personal and not profile & personal  # interests beyond the profile
    empty = set(book.members["member_id"]) - set(book.member_skills["member_id"])
    assert 0.2 < len(empty) / len(book.members) < 0.4
    tagged = book.course_skills["course_id"].nunique() / len(book.courses)
    assert 0.45 < tagged < 0.75  # the taxonomy covers some courses only
    imp = i[i["type"] == "impression"]
    clicks = i[i["type"] == "click"]
    weekend = lambda d: d["timestamp"].dt.day_of_week >= 5  # noqa: E731
    ctr_weekend = weekend(clicks).sum() / weekend(imp).sum()
    ctr_week = (~weekend(clicks)).sum() / (~weekend(imp)).sum()
    assert ctr_weekend < ctr_week
    by_channel = clicks.groupby("channel").size() / imp.groupby("channel").size()
    assert by_channel["homepage"] > by_channel["email"]
    # clicks follow the true affinity: clicked pairs have more interest than shown ones
    members = {m: k for k, m in enumerate(book.members["member_id"])}
    courses = {c: k for k, c in enumerate(book.courses["course_id"])}
    tags = truth["tags"]

    def aff(d):
        interest = truth["interest"][d["member_id"].map(members)]
        return (interest * tags[d["course_id"].map(courses)]).sum(1).mean()

    assert aff(clicks) > 1.2 * aff(imp)
    watch = i[i["type"] == "watch"]
    assert (watch["seconds"] > 0).mean() > 0.9


def test_seeded():
    a, b = learning(50, 20, days=7, random_state=5), learning(50, 20, days=7, random_state=5)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    with pytest.raises(LumosUserError, match=r"'n_members' parameter .*must be an int >= 10"):
        learning(3)


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("members", lambda t: t.assign(member_id=t["member_id"].iloc[0]), "appears twice"),
        ("member_skills", lambda t: t.assign(score=1.5), "must be a number in [0, 1]"),
        ("courses", lambda t: t.assign(duration=0.0), "must be a number > 0"),
        ("courses", lambda t: t.drop(columns="title"), "courses table has no column 'title'"),
        ("interactions", lambda t: t.assign(type="view"), "'view' is not one of impression"),
        ("interactions", lambda t: t.assign(seconds=-1.0), "must be a number >= 0"),
        ("interactions", lambda t: t.assign(timestamp="yesterday"), "is not a date"),
        ("skills", lambda t: t.assign(name=np.nan), "is empty"),
    ],
)
def test_bad_tables_name_row_and_column(book, name, change, message):
    with pytest.raises(DataValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_table(name, change(getattr(book, name).head(5)))


def test_tables_by_name(book):
    assert list(book.tables) == list(TABLES)
    assert all(book.tables[name] is getattr(book, name) for name in TABLES)
