"""Course recommendations: batch top-K against brute force, candidate pools, the whole job."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from lumos.data.demo import learning
from lumos.errors import LumosUserError
from lumos.recommend import CourseRecommender, candidate_pools, top_k


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_top_k_equals_brute_force(dtype):
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=(300, 8)).astype(dtype), rng.normal(size=(120, 8)).astype(dtype)
    mask = rng.random((300, 120)) < 0.2
    mask[0] = False  # a member without candidates
    mask[1] = False
    mask[1, :3] = True  # and one with fewer than k
    idx, score = top_k(U, V, 10, candidates=sparse.csr_matrix(mask), batch_size=64)
    full = np.where(mask, U.astype(np.float64) @ V.T.astype(np.float64), -np.inf)
    want = np.argsort(-full, axis=1, kind="stable")[:, :10]
    ok = np.isfinite(np.take_along_axis(full, want, 1))
    assert (idx[~ok] == -1).all() and (idx[0] == -1).all() and (idx[1, 3:] == -1).all()
    np.testing.assert_allclose(score[ok], np.take_along_axis(full, want, 1)[ok], atol=1e-5)
    assert mask[np.nonzero(idx >= 0)[0], idx[idx >= 0]].all()  # only candidates
    assert score.dtype == dtype
    with pytest.raises(LumosUserError, match="k must be an int >= 1"):
        top_k(U, V, 0)
    with pytest.raises(LumosUserError, match="candidates is"):
        top_k(U, V, 3, candidates=sparse.csr_matrix(mask[:5]))


def test_pools_skip_what_was_engaged_and_cover_everyone():
    rng = np.random.default_rng(1)
    U, V = np.abs(rng.normal(size=(50, 4))), np.abs(rng.normal(size=(40, 4)))
    U[:10] = 0  # members without skills still get the popular pool
    engaged = sparse.csr_matrix(rng.random((50, 40)) < 0.1)
    similar = np.abs(rng.normal(size=(40, 40)))
    cand, report = candidate_pools(
        50,
        precise=(U, V),
        engaged=engaged,
        similar=similar,
        popular=np.arange(40.0),
        sizes={"precise": 5, "similar": 3, "popular": 4},
    )
    c = cand.toarray() > 0
    assert not (c & engaged.toarray()).any()
    assert (c.sum(1) >= 4).all() and (c[:10].sum(1) <= 7).all()
    assert report["mean_candidates"] == pytest.approx(c.sum() / 50)


@pytest.fixture(scope="module")
def book():
    return learning(400, 120, days=28, random_state=4)


def test_recommendations_have_ranks_scores_and_reasons(book):
    rec = CourseRecommender(as_of=book.end, top_k=8)
    rec.fit(book.tables)
    top = rec.recommend()
    assert (
        top.groupby("member_id")["rank"]
        .apply(list)
        .map(lambda r: r == list(range(1, len(r) + 1)))
        .all()
    )
    assert (top.groupby("member_id")["score"].diff().dropna() <= 1e-12).all()
    assert top["member_id"].nunique() == len(book.members)
    assert (top["reason_text"] != "").all() and top["reason"].isin(
        [
            "skill",
            "watched",
            "trending_title",
            "trending_industry",
            "trending_company",
            "trending",
            "popular",
            "new",
            "none",
        ]
    ).all()
    engaged = book.interactions[book.interactions["type"].isin(["click", "watch", "bookmark"])]
    seen = set(zip(engaged["member_id"], engaged["course_id"], strict=True))
    assert not seen & set(zip(top["member_id"], top["course_id"], strict=True))
    # a member with the profile skill of a course gets skill reasons naming a profile skill
    skill = top[top["reason"] == "skill"].iloc[0]
    names = book.member_skills.merge(book.skills, on="skill_id")
    mine = names.loc[names["member_id"] == skill["member_id"], "name"]
    assert any(f"'{n}'" in skill["reason_text"] for n in mine)
    with pytest.raises(LumosUserError, match="'nobody' is not in the members table"):
        rec.recommend(["nobody"])
    with pytest.raises(LumosUserError, match="'scorer' parameter"):
        CourseRecommender(as_of=book.end, scorer="magic").fit(book.tables)
    with pytest.raises(LumosUserError, match="'top_k' parameter"):
        CourseRecommender(as_of=book.end, top_k=0).fit(book.tables)


def test_a_scorer_with_factors_replaces_the_affinity(book):
    class Newest:  # scores every course by its release date, for everyone
        def factors(self, members, courses):
            days = (courses["release_date"] - pd.Timestamp("2000-01-01")).dt.days
            return np.ones((len(members), 1)), days.to_numpy(np.float64)[:, None]

    rec = CourseRecommender(as_of=book.end, top_k=3, scorer=Newest())
    rec.fit(book.tables)
    top = rec.recommend(["M000001"])
    dates = book.courses.set_index("course_id").loc[top["course_id"], "release_date"]
    assert dates.is_monotonic_decreasing


def test_older_names_still_work_with_a_warning(book):
    new = CourseRecommender(as_of=book.end, top_k=4, random_state=2).fit(book.tables)
    with pytest.warns(DeprecationWarning, match="'k' is now 'top_k'"):
        old = CourseRecommender(as_of=book.end, k=4, random_state=2)
    with pytest.warns(DeprecationWarning, match="'seed' is now 'random_state'"):
        seeded = CourseRecommender(as_of=book.end, top_k=4, seed=2)
    assert (old.top_k, seeded.random_state) == (4, 2)
    with pytest.warns(DeprecationWarning, match="'k' is now 'top_k'"):
        assert old.k == 4
    with pytest.warns(DeprecationWarning, match="'seed' is now 'random_state'"):
        assert seeded.seed == 2
    # the six tables one by one: still fitted, with a warning
    with pytest.warns(DeprecationWarning, match="CourseRecommender.fit takes the tables as one"):
        old.fit(*book.tables.values())
    pd.testing.assert_frame_equal(old.recommend(["M000001"]), new.recommend(["M000001"]))
    with pytest.warns(DeprecationWarning, match="one by one will be removed"):
        CourseRecommender(as_of=book.end, top_k=4).fit(**book.tables)


def test_unpacked_book_tables_say_what_to_do(book):
    with pytest.raises(LumosUserError, match=r"call fit\(book.tables\), not fit\(\*book.tables\)"):
        CourseRecommender(as_of=book.end).fit(*book.tables)
    with pytest.raises(LumosUserError, match="lack 'interactions'") as info:
        CourseRecommender(as_of=book.end).fit(
            {k: v for k, v in book.tables.items() if k != "interactions"}
        )
    assert info.value.code == "missing_table"


def test_candidate_pools_seed_is_random_state():
    U, V = np.eye(3)[[0, 1, 2, 0]], np.eye(3)[[0, 0, 1, 2, 2]]
    args = {"wide": (U, V), "sizes": {"wide": 4, "wide_sample": 2}}
    new, _ = candidate_pools(4, random_state=5, **args)
    with pytest.warns(DeprecationWarning, match="candidate_pools's 'seed' is now 'random_state'"):
        old, _ = candidate_pools(4, seed=5, **args)
    assert (new != old).nnz == 0
