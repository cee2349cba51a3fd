"""The supervised course model: GLMix on the demo's clicks, and its score as dot products."""

import numpy as np
import pandas as pd
import pytest

from lumos.data.demo import learning
from lumos.errors import LumosUserError
from lumos.models import SkillAffinity, SkillTagger
from lumos.recommend import CourseRecommender
from lumos.recommend._supervised import (
    GLMixScorer,
    fit_course_glmix,
    glmix_factors,
    training_rows,
)


@pytest.fixture(scope="module")
def fitted():
    book = learning(2000, 400, days=60, random_state=1)
    tagger = SkillTagger().fit(book.courses, book.course_skills)
    affinity = SkillAffinity(tagger=tagger).fit(book.tables)
    rows = training_rows(book.interactions, book.members, book.courses, affinity)
    return book, affinity, rows, fit_course_glmix(rows)


def test_per_member_coefficients_match_the_planted_ones(fitted):
    book, _, _, model = fitted
    mine = model.random_effect_frame("member_id")
    truth = book.truth["member_coef"].set_index("member_id").reindex(mine.index)
    many = mine["rows"] >= 50
    assert many.sum() > 500
    for feature, planted in (("difficulty_level", "difficulty"), ("log_duration", "long")):
        assert np.corrcoef(mine.loc[many, feature], truth.loc[many, planted])[0, 1] >= 0.9


def test_factors_reproduce_the_glmix_score(fitted):
    book, affinity, rows, model = fitted
    U, V = GLMixScorer(model, affinity).factors(book.members, book.courses)
    pairs = rows.sample(3000, random_state=0).assign(
        channel_email=0.0, channel_mobile=0.0, weekend=0.0
    )
    m = pd.Index(book.members["member_id"]).get_indexer(pairs["member_id"])
    c = pd.Index(book.courses["course_id"]).get_indexer(pairs["course_id"])
    got = np.einsum("ij,ij->i", U[m], V[c])
    np.testing.assert_allclose(got, model.decision_function(pairs), atol=1e-9)
    placed = "random effect 'member_id' is neither 'user' nor 'course_id'"
    with pytest.raises(LumosUserError, match=placed):
        glmix_factors(
            model, pd.DataFrame({"user": []}), pd.DataFrame({"course_id": []}), member_id="user"
        )


def test_recommender_with_the_glmix_scorer_beats_affinity_on_later_clicks(fitted):
    book, affinity, rows, _ = fitted
    cut = book.start + pd.Timedelta(days=45)
    model = fit_course_glmix(rows[rows["timestamp"] < cut])
    later = rows[rows["timestamp"] >= cut]
    U, V = GLMixScorer(model, affinity).factors(book.members, book.courses)
    m = pd.Index(book.members["member_id"]).get_indexer(later["member_id"])
    c = pd.Index(book.courses["course_id"]).get_indexer(later["course_id"])
    from sklearn.metrics import roc_auc_score

    glmix = roc_auc_score(later["label"], np.einsum("ij,ij->i", U[m], V[c]))
    cold = roc_auc_score(later["label"], later["affinity"])
    assert glmix > cold + 0.03
    rec = CourseRecommender(as_of=cut, top_k=5, scorer=GLMixScorer(model, affinity))
    rec.fit(book.tables)
    top = rec.recommend(book.members["member_id"].iloc[:3])
    assert len(top) == 15 and (top.groupby("member_id")["score"].diff().dropna() <= 0).all()


def test_rows_from_dated_snapshots(tmp_path):
    from lumos.features import FeatureRepository
    from lumos.recommend._supervised import write_snapshot

    book = learning(300, 80, days=14, random_state=2)
    affinity = SkillAffinity().fit(book)
    repo = FeatureRepository(tmp_path)
    write_snapshot(repo, book.start, book.members, book.courses, affinity)
    cols = ["seniority", "difficulty_level", "log_duration", "affinity"]
    keys = ["member_id", "course_id", "channel", "timestamp"]
    direct = training_rows(book.interactions, book.members, book.courses, affinity)
    dated = training_rows(book.interactions, book.members, book.courses, repository=repo)
    pd.testing.assert_frame_equal(
        direct.sort_values(keys)[cols].reset_index(drop=True),
        dated.sort_values(keys)[cols].reset_index(drop=True),
    )
    # a promotion recorded on day 7 reaches the rows from day 7 on, and no earlier row
    day7 = book.start + pd.Timedelta(days=7)
    write_snapshot(
        repo,
        day7,
        book.members.assign(seniority=book.members["seniority"] + 10),
        book.courses,
        affinity,
    )
    later = training_rows(book.interactions, book.members, book.courses, repository=repo)
    after = later["timestamp"] >= day7
    assert (later.loc[after, "seniority"] > 10).all()
    assert (later.loc[~after, "seniority"] <= 5).all() and (~after).any()


def test_a_model_per_channel(fitted):
    book, affinity, rows, _ = fitted
    email = training_rows(book.interactions, book.members, book.courses, affinity, channel="email")
    assert set(email["channel"]) == {"email"} and len(email) == (rows["channel"] == "email").sum()
    rec = CourseRecommender(as_of=book.end, top_k=3, scorer="glmix", channel="email")
    rec.fit(book.tables)
    assert rec.glmix_.entity_rows_["member_id"].sum() <= len(email)


def test_click_predictions_judge_the_glmix_on_later_impressions(fitted):
    from sklearn.metrics import roc_auc_score

    from lumos.features import click_labels

    book = fitted[0]
    cut = book.start + pd.Timedelta(days=45)
    rec = CourseRecommender(as_of=cut, scorer="glmix").fit(book.tables)
    table = rec.click_predictions(book.interactions)
    later = click_labels(book.interactions)
    later = later[later["timestamp"] >= cut]
    glmix, alone = (table[table["model"] == m] for m in ("glmix", "global"))
    assert len(glmix) == len(alone) == len(later) and table["score"].between(0, 1).all()
    assert glmix["label"].sum() == later["label"].sum()
    # the per-member and per-course models are worth something on clicks they never saw
    assert (
        roc_auc_score(glmix["label"], glmix["score"])
        > roc_auc_score(alone["label"], alone["score"]) + 0.03
    )
    window = rec.click_predictions(book.interactions, start=cut, end=cut + pd.Timedelta(days=5))
    assert window["timestamp"].lt(cut + pd.Timedelta(days=5)).all() and len(window) < len(table)
    cold = CourseRecommender(as_of=cut).fit(book.tables)
    with pytest.raises(
        LumosUserError, match="needs a CourseRecommender fitted with scorer='glmix'"
    ):
        cold.click_predictions(book.interactions)
