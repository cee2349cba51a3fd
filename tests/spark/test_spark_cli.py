"""lumos recommend courses | publish --engine spark: the local engine's lists, and bad input."""

import pandas as pd
import pytest
from click.testing import CliRunner

from lumos.cli import main
from lumos.data.demo import learning
from lumos.store import COLD_START, LMDBStore, RedisStore

pytest.importorskip("pyspark")

TABLES = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")
AS_OF = "2025-01-22"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learning")
    book = learning(150, 70, days=21, random_state=7)
    for name in TABLES:
        getattr(book, name).to_parquet(folder / f"{name}.parquet")
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_recommend_courses_on_spark_equals_local(spark, folder, tmp_path):
    base = ["recommend", "courses", "--tables", folder, "--as-of", AS_OF, "--top-k", 5]
    local = run(*base, "--out", tmp_path / "local.parquet")
    assert local.exit_code == 0, local.output
    done = run(*base, "--out", tmp_path / "spark.parquet", "--engine", "spark")
    assert done.exit_code == 0, done.output
    assert "750 recommendations for 150 members" in done.output
    keys = ["member_id", "rank"]
    want = pd.read_parquet(tmp_path / "local.parquet").sort_values(keys).reset_index(drop=True)
    got = pd.read_parquet(tmp_path / "spark.parquet").sort_values(keys).reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    for column in ("member_id", "rank", "course_id", "reason", "reason_text"):
        assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
    pd.testing.assert_series_equal(got["score"], want["score"], atol=1e-6, check_dtype=False)
    # bad input: a file name Spark cannot write, a folder already there, one member
    csv = run(*base, "--out", tmp_path / "x.csv", "--engine", "spark")
    assert csv.exit_code == 2 and "writes a .parquet folder" in csv.output
    again = run(*base, "--out", tmp_path / "spark.parquet", "--engine", "spark")
    assert again.exit_code == 2 and "is a directory" in again.output
    one = run(*base, "--out", tmp_path / "o.parquet", "--engine", "spark", "--member", "M000001")
    assert one.exit_code == 2 and "scores every member" in one.output


def test_recommend_publish_on_spark_equals_local(spark, folder, tmp_path, redis_url):
    base = ["recommend", "publish", "--tables", folder, "--as-of", AS_OF, "--top-k", 5]
    local = run(*base, "--store", tmp_path / "lmdb")
    assert local.exit_code == 0, local.output
    url = redis_url.rsplit("/", 1)[0] + "/3"
    done = run(*base, "--store", url, "--engine", "spark")
    assert done.exit_code == 0, done.output
    assert "150 members" in done.output
    ids = [*pd.read_parquet(folder / "members.parquet")["member_id"], COLD_START]
    with LMDBStore(tmp_path / "lmdb") as lmdb, RedisStore(url) as redis:
        want, got = lmdb.get_many(ids), redis.get_many(ids)
    assert all(w is not None for w in want)
    for w, g in zip(want, got, strict=True):
        assert g["items"] == w["items"] and g["models"] == w["models"]
        assert g["reasons"] == w["reasons"]
        for model, scores in w["scores"].items():
            assert g["scores"][model] == pytest.approx(scores, abs=1e-5)  # GLMix within 1e-7
    # an LMDB folder is the local engine's; nothing is fitted or written
    lmdb = run(*base, "--store", tmp_path / "other", "--engine", "spark")
    assert lmdb.exit_code == 2 and "publishes to Redis" in lmdb.output
    assert not (tmp_path / "other").exists()
