"""Renewal-window labels on Spark equal the local engine's."""

import numpy as np
import pandas as pd
import pytest

from lumos.data.demo import saas
from lumos.features import renewal_labels

pytest.importorskip("pyspark")


@pytest.mark.parametrize(
    ("level", "horizon", "tolerance"), [("account", "renewal", 0.0), ("product", 3, 0.5)]
)
def test_spark_labels_equal_the_local_engine(spark, level, horizon, tolerance):
    from lumos.spark import renewal_labels as on_spark

    contracts = saas(60, months=30, random_state=4).contracts
    local = renewal_labels(
        contracts, level=level, horizon=horizon, tolerance=tolerance, as_of="2025-03-01"
    )
    got = on_spark(
        spark.createDataFrame(contracts),
        level=level,
        horizon=horizon,
        tolerance=tolerance,
        as_of="2025-03-01",
    ).toPandas()
    keys = ["account_id"] if level == "account" else ["account_id", "product"]
    order = [*keys, "cutoff", "horizon"]
    local = local.sort_values(order).reset_index(drop=True)
    got = got.sort_values(order).reset_index(drop=True)
    assert len(got) == len(local) > 100
    for column in ("cycle_start", "renewal", "cutoff", "horizon"):
        assert (
            pd.to_datetime(got[column]).to_numpy("datetime64[s]")
            == local[column].to_numpy("datetime64[s]")
        ).all(), column
    for column in ("quantity", "quantity_at_horizon", "change"):
        np.testing.assert_allclose(got[column], local[column], atol=1e-9)
    assert (got["label"].astype(str) == local["label"].astype(str)).all()
    assert (got["closed"] == local["closed"]).all()
