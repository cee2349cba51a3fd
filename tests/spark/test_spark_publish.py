"""Course scoring and publishing on a local Spark: the local engine's lists and records."""

import pandas as pd
import pytest

from lumos.data.demo import learning
from lumos.errors import LumosUserError
from lumos.experiments import Experiments, ModelRouter
from lumos.recommend import fit_course_models, publish_lists
from lumos.store import COLD_START, LMDBStore, RedisStore

pytest.importorskip("pyspark")

CONFIG = """
experiments:
  course_ranker:
    unit: member_id
    coverage: 60
    variants:
      control: {weight: 1, payload: {models: [affinity]}}
      glmix: {weight: 1, payload: {models: [glmix]}}
"""


@pytest.fixture(scope="module")
def fitted():
    book = learning(240, 90, days=21, random_state=2)
    recs, cold = fit_course_models(book.tables, as_of=book.end, top_k=8)
    return recs, cold


def test_spark_lists_equal_the_local_engine(spark, fitted):
    from lumos.spark import course_lists

    recs, cold = fitted
    got = course_lists(recs, cold_start=cold, partitions=5).toPandas()
    want = pd.concat(
        [rec.recommend().assign(model_id=m) for m, rec in recs.items()]
        + [cold.assign(model_id=COLD_START)],
        ignore_index=True,
    )
    keys = ["model_id", "member_id", "rank"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)[got.columns]
    assert len(got) == len(want) > 240 * 8
    for column in ("model_id", "member_id", "course_id", "reason", "reason_text"):
        assert (got[column] == want[column]).all(), column
    assert (got["rank"] == want["rank"]).all()
    pd.testing.assert_series_equal(got["score"], want["score"], rtol=1e-12, check_dtype=False)
    some = list(want["member_id"].drop_duplicates()[5:12])
    part = course_lists(recs, members=some).toPandas()
    assert sorted(set(part["member_id"])) == sorted(some) and len(part) == 7 * 8 * len(recs)


def test_spark_publish_writes_the_local_records(spark, fitted, redis_url, tmp_path):
    from lumos.spark import publish_course_lists

    recs, cold = fitted
    router = ModelRouter(Experiments.from_yaml(CONFIG), "course_ranker", default="affinity")
    lists = {m: rec.recommend() for m, rec in recs.items()} | {COLD_START: cold}
    with LMDBStore(tmp_path / "local") as local:
        publish_lists(local, lists, router=router, version="v1")
        ids = sorted(set(lists["glmix"]["member_id"]) | {COLD_START})
        want = local.get_many(ids, decode=False)
    store = RedisStore(redis_url, prefix="spark-publish")
    publish_course_lists(store, recs, cold_start=cold, version="v0", partitions=3)
    report = publish_course_lists(
        store, recs, cold_start=cold, router=router, version="v1", partitions=3
    )
    assert report["version"] == "v1" and store.version == "v1"
    assert report["members"] == len(ids)
    got = store.get_many(ids, decode=False)
    assert got == want  # the same records, byte for byte
    served = {m: set(r["models"]) for m, r in zip(ids, store.get_many(ids), strict=True)}
    assert {"glmix", "affinity"} == set().union(*(served[m] for m in ids if m != COLD_START))
    assert store.versions() == ["v1", "v0"]
    # a version already there is refused before anything is written
    with pytest.raises(LumosUserError, match="already in the store"):
        publish_course_lists(store, recs, cold_start=cold, version="v1")
    assert store.version == "v1" and store.get_many(ids, decode=False) == want
    store.close()


def test_spark_publish_names_bad_input(spark, fitted, tmp_path):
    from lumos.spark import publish_course_lists

    recs, cold = fitted
    with LMDBStore(tmp_path / "lmdb") as lmdb, pytest.raises(LumosUserError, match="Redis store"):
        publish_course_lists(lmdb, recs, cold_start=cold)
    with pytest.raises(LumosUserError, match="member 'nobody' is not in the members table"):
        publish_course_lists("redis://127.0.0.1:1/0", recs, members=["nobody"])
    with pytest.raises(LumosUserError, match="dict"):
        publish_course_lists("redis://127.0.0.1:1/0", [], cold_start=cold)
    with pytest.raises(LumosUserError, match="Cannot reach Redis"):
        publish_course_lists("redis://127.0.0.1:1/0", recs, cold_start=cold)
