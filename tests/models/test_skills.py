"""Cold start in skill space: tagger, member skills, affinity and the paper's ladder."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lumos.data.demo import learning
from lumos.errors import DataValidationError, LumosUserError
from lumos.models import SkillAffinity, SkillTagger, member_skills, tagging_report


@pytest.fixture(scope="module")
def book():
    return learning(1500, 300, days=28, random_state=3)


def test_tagger_widens_the_taxonomy_with_fair_precision(book):
    tagged = book.course_skills["course_id"].unique()
    held = set(np.random.default_rng(0).choice(tagged, len(tagged) // 4, replace=False))
    train = book.course_skills[~book.course_skills["course_id"].isin(held)]
    tagger = SkillTagger().fit(book.courses, train)
    pred = tagger.predict(book.courses)
    truth = book.course_skills[book.course_skills["course_id"].isin(held)]
    report = tagging_report(truth, pred[pred["course_id"].isin(held)], book.skills)
    assert report["recall"] > 0.7 and report["precision"] > 0.35
    widened = tagging_report(book.course_skills, pred, book.skills, courses=book.courses)
    assert widened["course_coverage"] > 0.95 > len(tagged) / len(book.courses)


def test_cohort_skills_cover_empty_profiles(book):
    alone = member_skills(book.members, book.member_skills, book.skills, cohort_weight=0)
    mixed = member_skills(book.members, book.member_skills, book.skills)
    assert 0.6 < alone.any(1).mean() < 0.8 and mixed.any(1).all()
    has = alone.any(1)
    np.testing.assert_allclose(mixed[has] - alone[has], (mixed - alone)[has])  # δ1 = 1


def test_the_ladder_climbs_in_click_auc(book):
    i = book.interactions
    shown = i[i["type"] == "impression"].drop_duplicates(["member_id", "course_id"])
    clicked = i[i["type"] == "click"][["member_id", "course_id"]].drop_duplicates()
    y = shown.merge(clicked.assign(y=1), how="left", on=["member_id", "course_id"])["y"]
    y = y.fillna(0).to_numpy()
    tagger = SkillTagger().fit(book.courses, book.course_skills)
    aucs = []
    for kwargs in ({"cohort_weight": 0.0}, {}, {"tagger": tagger}):
        model = SkillAffinity(**kwargs).fit(book.tables)
        score = model.score(shown["member_id"].to_numpy(), shown["course_id"].to_numpy())
        aucs.append(roc_auc_score(y, score))
    assert aucs[0] < aucs[1] < aucs[2] and aucs[2] > 0.68
    assert model.coverage()["course_coverage"] == 1.0


def test_errors(book):
    model = SkillAffinity().fit(book.tables)
    with pytest.raises(DataValidationError, match="'M9' is not a known id"):
        model.score(["M9"], ["C00001"])
    with pytest.raises(LumosUserError, match="not fitted"):
        SkillTagger().predict(book.courses)
    with pytest.raises(LumosUserError, match="'threshold' parameter"):
        SkillTagger(threshold=1.5).fit(book.courses, book.course_skills)
    bad = pd.concat(
        [
            book.member_skills,
            pd.DataFrame({"member_id": ["M000001"], "skill_id": ["S999"], "score": [0.5]}),
        ],
        ignore_index=True,
    )
    with pytest.raises(DataValidationError, match=r"member_skills row .*'S999' is not a known"):
        member_skills(book.members, bad, book.skills)
    with pytest.raises(LumosUserError, match="'cohort_weight' parameter of member_skills must be"):
        member_skills(book.members, book.member_skills, book.skills, cohort_weight=-1)


def test_profile_skills_and_positional_tables_still_work_with_a_warning(book):
    new = member_skills(book.members, book.member_skills, book.skills)
    with pytest.warns(DeprecationWarning, match="'profile_skills' is now 'member_skills'"):
        old = member_skills(book.members, profile_skills=book.member_skills, skills=book.skills)
    np.testing.assert_array_equal(old, new)
    fitted = SkillAffinity().fit(book)  # the book itself: its tables by attribute
    five = (book.members, book.member_skills, book.courses, book.course_skills, book.skills)
    with pytest.warns(DeprecationWarning, match="SkillAffinity.fit takes the tables as one"):
        positional = SkillAffinity().fit(*five)
    with pytest.warns(DeprecationWarning, match="one by one will be removed"):
        named = SkillAffinity().fit(
            members=book.members,
            profile_skills=book.member_skills,
            courses=book.courses,
            course_skills=book.course_skills,
            skills=book.skills,
        )
    for model in (positional, named):
        np.testing.assert_array_equal(model.member_vectors_, fitted.member_vectors_)
    with pytest.raises(LumosUserError, match=r"not fit\(\*book.tables\)"):
        SkillAffinity().fit(*book.tables)
