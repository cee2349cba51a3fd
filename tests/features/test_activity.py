"""Activity labels against a plain loop, on the real CDNOW log when it is installed."""

import numpy as np
import pandas as pd
import pytest

from lumos.data import cdnow_path, cdnow_usage, load_cdnow
from lumos.errors import LumosUserError
from lumos.features import activity_labels


def reference(usage, metric, cutoff, months):
    u = usage[usage["metric"] == metric]
    rows = []
    c = pd.Timestamp(cutoff)
    for account, g in u.groupby("account_id"):
        if g["month"].min() >= c:
            continue
        before = g[(g["month"] >= c - pd.DateOffset(months=months)) & (g["month"] < c)]
        after = g[(g["month"] >= c) & (g["month"] < c + pd.DateOffset(months=months))]
        rows.append((account, before["value"].sum(), after["value"].sum()))
    return pd.DataFrame(rows, columns=["account_id", "before", "after"])


@pytest.mark.skipif(cdnow_path() is None, reason="lifetimes is not installed")
def test_cdnow_labels_match_a_plain_loop():
    usage = cdnow_usage(load_cdnow())
    assert set(usage["metric"]) == {"purchases", "cds", "amount"}
    subset = usage[usage["account_id"].isin(usage["account_id"].unique()[::40])]
    got = activity_labels(subset, metric="purchases", cutoffs=["1997-10-01"], months=3)
    want = reference(subset, "purchases", "1997-10-01", 3)
    got = got.sort_values("account_id").reset_index(drop=True)
    np.testing.assert_array_equal(got["account_id"], want["account_id"])
    np.testing.assert_allclose(got["before"], want["before"])
    np.testing.assert_allclose(got["after"], want["after"])
    assert (got["churn"] == (want["after"] == 0)).all()
    later = activity_labels(subset, metric="purchases", cutoffs=["1998-05-01"], months=3)
    assert not later["closed"].any()


def test_bad_arguments():
    usage = pd.DataFrame(
        {
            "account_id": ["a"],
            "product": ["p"],
            "month": ["2025-01-01"],
            "metric": ["x"],
            "value": [1.0],
        }
    )
    with pytest.raises(LumosUserError, match="no metric 'y'"):
        activity_labels(usage, metric="y", cutoffs=["2025-02-01"])
    with pytest.raises(LumosUserError, match="months"):
        activity_labels(usage, metric="x", cutoffs=["2025-02-01"], months=0)


def test_one_cutoff_as_a_string_and_none():
    usage = pd.DataFrame(
        {
            "account_id": ["a", "a"],
            "product": "p",
            "metric": "x",
            "month": ["2025-01-01", "2025-03-01"],
            "value": [1.0, 2.0],
        }
    )
    one = activity_labels(usage, metric="x", cutoffs="2025-02-01", months=1)
    assert one[["before", "after", "upsell"]].values.tolist() == [[1.0, 0.0, False]]
    with pytest.raises(LumosUserError, match="cutoffs is empty"):
        activity_labels(usage, metric="x", cutoffs=[])
