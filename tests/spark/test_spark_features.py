"""Window features by Spark SQL equal the local engine's."""

import numpy as np
import pandas as pd
import pytest

from lumos.data.demo import saas
from lumos.features import WindowFeatures, window_features

pytest.importorskip("pyspark")


@pytest.mark.parametrize("level", ["account", "product"])
def test_spark_sql_equals_the_local_engine(spark, level):
    from lumos.spark import window_features as on_spark

    book = saas(40, months=20, random_state=2)
    usage = book.usage
    keys = ["account_id"] if level == "account" else ["account_id", "product"]
    cutoffs = usage[keys].drop_duplicates().assign(cutoff=pd.Timestamp(book.usage["month"].max()))
    cutoffs = pd.concat(
        [cutoffs, cutoffs.assign(cutoff=cutoffs["cutoff"] - pd.DateOffset(months=5))]
    )
    spec = WindowFeatures(windows=(3, 6, 12), level=level)
    local = window_features(usage, cutoffs, spec, lead_months=1, dtype="float64")
    got = on_spark(
        spark.createDataFrame(usage),
        spark.createDataFrame(cutoffs),
        spec,
        lead_months=1,
        dtype="float64",
    ).toPandas()
    order = [*keys, "cutoff"]
    local = local.sort_values(order).reset_index(drop=True)
    got = got.sort_values(order).reset_index(drop=True)
    assert len(got) == len(local) == len(cutoffs)
    features = [c for c in local.columns if c not in order]
    np.testing.assert_allclose(
        got[features].to_numpy(float), local[features].to_numpy(float), rtol=1e-9, atol=1e-9
    )


def test_spark_features_are_float32_by_default_like_the_local_engine(spark):
    from pyspark.sql.types import DoubleType, FloatType

    from lumos.spark import window_features as on_spark

    usage = saas(30, months=16, random_state=4).usage
    cutoffs = usage[["account_id"]].drop_duplicates()
    cutoffs = cutoffs.assign(cutoff=pd.Timestamp(usage["month"].max()))
    spec = WindowFeatures(windows=(3, 6), aggregates=("sum", "mean", "slope", "ratio"))
    local = window_features(usage, cutoffs, spec)
    frame = on_spark(spark.createDataFrame(usage), spark.createDataFrame(cutoffs), spec)
    features = spec.names(sorted(usage["metric"].unique()))
    kinds = {f.name: f.dataType for f in frame.schema.fields}
    assert [kinds[c] for c in features] == [FloatType()] * len(features)
    assert kinds["account_id"] != FloatType()
    got = frame.toPandas().sort_values("account_id").reset_index(drop=True)
    local = local.sort_values("account_id").reset_index(drop=True)
    assert (got[features].dtypes == np.float32).all() and (
        local[features].dtypes == np.float32
    ).all()
    np.testing.assert_allclose(got[features], local[features], rtol=1e-6, atol=1e-6)
    wide = on_spark(
        spark.createDataFrame(usage), spark.createDataFrame(cutoffs), spec, dtype=np.float64
    )
    assert {f.dataType for f in wide.schema.fields if f.name in features} == {DoubleType()}


@pytest.mark.parametrize("dtype", ["float16", "int32", None])
def test_spark_refuses_a_dtype_the_local_engine_refuses(spark, dtype):
    from lumos.errors import LumosUserError
    from lumos.spark import window_features as on_spark

    usage = saas(5, months=13, random_state=1).usage
    cutoffs = usage[["account_id"]].drop_duplicates().assign(cutoff=usage["month"].max())
    with pytest.raises(LumosUserError, match="dtype must be") as e:
        on_spark(
            spark.createDataFrame(usage),
            spark.createDataFrame(cutoffs),
            WindowFeatures(),
            dtype=dtype,
        )
    assert e.value.code == "bad_argument"
