"""GLMix on a local Spark equals the local engine's fit of the same rows."""

import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.models import GLMix

pytest.importorskip("pyspark")


def simulated(n=6000, seed=0):
    """Per-member slopes, per-course intercepts, a string id and an integer id, row weights."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "member_id": rng.integers(0, 70, n),
            "course_id": rng.choice([f"c{i:02d}" for i in range(25)], n),
            "x": rng.normal(size=n),
            "level": rng.normal(2.0, 3.0, size=n),
            "w": rng.uniform(0.5, 2.0, size=n),
        }
    )
    slope = np.linspace(-2, 2, 70)[df["member_id"]]
    bump = np.linspace(-1, 1, 25)[df["course_id"].str[1:].astype(int)]
    z = 0.3 + slope * df["x"] + 0.2 * df["level"] + bump
    df["clicked"] = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), "yes", "no")
    return df


def assert_same_fit(local, spark):
    np.testing.assert_allclose(spark.coef_, local.coef_, atol=1e-4)
    np.testing.assert_allclose(spark.intercept_, local.intercept_, atol=1e-4)
    for col in local.random_effects_:
        np.testing.assert_array_equal(spark.entity_ids_[col], local.entity_ids_[col])
        np.testing.assert_array_equal(spark.entity_rows_[col], local.entity_rows_[col])
        np.testing.assert_allclose(spark.entity_coef_[col], local.entity_coef_[col], atol=1e-4)
        np.testing.assert_allclose(
            spark.entity_intercept_[col], local.entity_intercept_[col], atol=1e-4
        )
    np.testing.assert_allclose(spark.loss_, local.loss_, rtol=1e-8)
    assert list(spark.classes_) == list(local.classes_)


def test_spark_glmix_equals_the_local_engine(spark):
    from lumos.spark import fit_glmix

    df = simulated()
    kw = dict(
        fixed_effect=["x", "level"],
        random_effects={"member_id": ["x"], "course_id": []},
        l2={"member_id": 2.0},
        min_rows=80,
        standardize=True,
    )
    local = GLMix(**kw).fit(df, df["clicked"], sample_weight=df["w"])
    frame = spark.createDataFrame(df).repartition(3)
    # small buckets: many entities per task, and many tasks per coordinate
    got = fit_glmix(frame, GLMix(**kw), label="clicked", sample_weight="w", bucket_rows=500)
    assert_same_fit(local, got)
    assert len(got.entity_ids_["member_id"]) < 70  # min_rows left some members out
    np.testing.assert_allclose(got.decision_function(df), local.decision_function(df), atol=1e-3)


def test_the_row_cap_draws_the_local_sample(spark):
    from lumos.spark import fit_glmix

    df = simulated(4000, seed=1)
    kw = dict(
        fixed_effect=["x"],
        random_effects={"member_id": ["x"]},
        l2=1.0,
        max_rows_per_entity=40,
        random_state=7,
    )
    local = GLMix(**kw).fit(df, df["clicked"])
    # a frame in the pandas order: the sample is keyed by each row's position
    got = fit_glmix(spark.createDataFrame(df), GLMix(**kw), label="clicked")
    assert (got.entity_rows_["member_id"] == 40).any()
    assert_same_fit(local, got)


def test_lbfgs_on_the_driver_lands_where_the_local_engine_does(spark):
    from lumos.spark import fit_glmix

    df = simulated(3000, seed=2)
    kw = dict(
        fixed_effect=["x", "level"], random_effects={"course_id": ["x"]}, solver="lbfgs", l2=1.0
    )
    local = GLMix(**kw).fit(df, df["clicked"])
    got = fit_glmix(spark.createDataFrame(df).repartition(2), GLMix(**kw), label="clicked")
    np.testing.assert_allclose(got.coef_, local.coef_, atol=1e-4)
    np.testing.assert_allclose(
        got.entity_coef_["course_id"], local.entity_coef_["course_id"], atol=1e-4
    )


def test_bad_input_is_named(spark):
    from lumos.spark import fit_glmix

    df = simulated(300)
    model = GLMix(fixed_effect=["x"], random_effects={"member_id": []}, l2=1.0)
    with pytest.raises(DataValidationError, match="no feature column 'x'"):
        fit_glmix(spark.createDataFrame(df.drop(columns="x")), model, label="clicked")
    with pytest.raises(DataValidationError, match="'course_id' is not numeric"):
        fit_glmix(spark.createDataFrame(df), GLMix(fixed_effect=["course_id"]), label="clicked")
    holes = df.assign(x=df["x"].where(df.index != 17))
    with pytest.raises(DataValidationError, match="feature column 'x' row 17 holds a missing"):
        fit_glmix(spark.createDataFrame(holes), model, label="clicked")
    inf = df.assign(x=np.where(df.index == 5, np.inf, df["x"]))
    with pytest.raises(DataValidationError, match="feature column 'x' row 5 holds inf"):
        fit_glmix(spark.createDataFrame(inf), model, label="clicked")
    three = df.assign(clicked=np.arange(len(df)) % 3)
    with pytest.raises(DataValidationError, match="binary"):
        fit_glmix(spark.createDataFrame(three), model, label="clicked")
    negative = df.assign(w=-df["w"])
    with pytest.raises(DataValidationError, match="sample weight column 'w' row 0"):
        fit_glmix(spark.createDataFrame(negative), model, label="clicked", sample_weight="w")
    empty = spark.createDataFrame([], "member_id long, x double, clicked long")
    with pytest.raises(DataValidationError, match="no rows"):
        fit_glmix(empty, model, label="clicked")
    with pytest.raises(LumosUserError, match='explicit penalties; l2="auto"'):
        auto = GLMix(fixed_effect=["x"], random_effects={"member_id": []})
        fit_glmix(spark.createDataFrame(df), auto, label="clicked")
    with pytest.raises(LumosUserError, match="fits GLMix from zero"):
        fit_glmix(spark.createDataFrame(df), GLMix(warm_start=True), label="clicked")
    with pytest.raises(LumosUserError, match="bucket_rows"):
        fit_glmix(spark.createDataFrame(df), model, label="clicked", bucket_rows=0)
