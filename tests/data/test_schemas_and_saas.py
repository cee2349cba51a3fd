"""Book-of-business tables: validation errors, and the demo book's planted structure."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lumos.data import validate_table
from lumos.data.demo import USAGE_METRICS, saas
from lumos.errors import DataValidationError, LumosUserError
from lumos.features import renewal_labels


@pytest.fixture(scope="module")
def book():
    return saas(400, months=36, random_state=2)


def test_demo_tables_validate_and_arrow_round_trips(book):
    for name in ("accounts", "contracts", "usage", "firmographics"):
        table = getattr(book, name)
        assert len(validate_table(name, table)) == len(table)
    assert len(validate_table("usage", pa.Table.from_pandas(book.usage))) == len(book.usage)
    assert set(book.usage["metric"]) == set(USAGE_METRICS)
    assert (book.usage["month"] < book.end).all()


def test_demo_has_add_ons_churn_and_upsell(book):
    kinds = book.contracts["kind"].value_counts()
    assert (
        kinds["add_on"] > 0
        and kinds["renewal"] > 0
        and kinds["new"]
        == book.contracts[book.contracts["kind"] == "new"]
        .groupby(["account_id", "product"])
        .ngroups
    )
    labels = renewal_labels(book.contracts, as_of=book.end)
    closed = labels[labels["closed"]]
    assert {"upsell", "churn", "flat"} <= set(closed["label"])


def test_health_drives_usage_and_renewals(book):
    util = book.usage[book.usage["metric"] == "seat_utilization"]
    joined = util.merge(book.health, on=["account_id", "month"])
    assert np.corrcoef(joined["value"], joined["health"])[0, 1] > 0.5
    labels = renewal_labels(book.contracts, as_of=book.end)
    closed = labels[labels["closed"]].merge(
        book.health.rename(columns={"month": "cutoff"}), on=["account_id", "cutoff"]
    )
    by_label = closed.groupby("label", observed=True)["health"].mean()
    assert by_label["upsell"] > by_label["churn"]


def test_saas_is_seeded():
    a, b = saas(30, months=24, random_state=5), saas(30, months=24, random_state=5)
    pd.testing.assert_frame_equal(a.usage, b.usage)
    with pytest.raises(LumosUserError, match="months must be"):
        saas(30, months=6)


def _usage(**changes):
    frame = pd.DataFrame(
        {
            "account_id": ["a", "a"],
            "product": ["jobs", "jobs"],
            "month": ["2025-01-01", "2025-02-01"],
            "metric": ["searches", "searches"],
            "value": [3.0, 4.0],
        }
    )
    return frame.assign(**changes)


@pytest.mark.parametrize(
    ("name", "table", "message", "code"),
    [
        (
            "usage",
            _usage().drop(columns="metric"),
            "usage table has no column 'metric'",
            "missing_column",
        ),
        (
            "usage",
            _usage(month=["2025-01-01", "2025-02-15"]),
            "usage row 1, column 'month': 2025-02-15 is not the first day of a month",
            "bad_value",
        ),
        (
            "usage",
            _usage(month=["2025-01-01", "2025-01-01"]),
            "usage row 1, column 'metric': repeats the row",
            "duplicate",
        ),
        (
            "usage",
            _usage(value=["3", "lots"]),
            "usage row 1, column 'value': 'lots' is not a number",
            "bad_value",
        ),
        ("accounts", pd.DataFrame({"account_id": ["x", "x"]}), "accounts row 1", "duplicate"),
        (
            "firmographics",
            pd.DataFrame({"account_id": ["x"], "month": ["2025-01-01"], "ceo": ["Ann"]}),
            "column 'ceo' must hold numbers",
            "bad_value",
        ),
    ],
)
def test_bad_tables(name, table, message, code):
    with pytest.raises(DataValidationError) as err:
        validate_table(name, table)
    assert message in str(err.value) and err.value.code == code


def test_unknown_table_and_type():
    with pytest.raises(LumosUserError, match="Unknown table"):
        validate_table("orders", pd.DataFrame())
    with pytest.raises(LumosUserError, match="DataFrame or an Arrow table"):
        validate_table("usage", [1, 2])
