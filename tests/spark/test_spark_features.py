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
        spark.createDataFrame(usage), spark.createDataFrame(cutoffs), spec, lead_months=1
    ).toPandas()
    order = [*keys, "cutoff"]
    local = local.sort_values(order).reset_index(drop=True)
    got = got.sort_values(order).reset_index(drop=True)
    assert len(got) == len(local) == len(cutoffs)
    features = [c for c in local.columns if c not in order]
    np.testing.assert_allclose(
        got[features].to_numpy(float), local[features].to_numpy(float), rtol=1e-9, atol=1e-9
    )
