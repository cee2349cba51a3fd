"""Renewal-window labels on hand-built contract histories."""

import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.features import renewal_labels


def contracts(*rows):
    cols = ["account_id", "product", "start", "end", "quantity", "kind"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(amount=frame["quantity"] * 100.0)


ADD_ON_THEN_SMALLER_RENEWAL = contracts(
    ("a", "jobs", "2025-01-01", "2026-01-01", 10, "new"),
    ("a", "jobs", "2025-05-01", "2026-01-01", 5, "add_on"),
    ("a", "jobs", "2026-01-01", "2027-01-01", 12, "renewal"),
)


def test_waterfall_through_a_cycle_with_a_mid_cycle_add_on():
    rows = renewal_labels(ADD_ON_THEN_SMALLER_RENEWAL, as_of="2026-06-01")
    first = rows[rows["cycle_start"] == "2025-01-01"]
    assert first["cutoff"].dt.strftime("%Y-%m").tolist() == [f"2025-{m:02d}" for m in range(2, 13)]
    assert first["quantity"].tolist() == [10.0] * 3 + [15.0] * 8
    assert first["change"].tolist() == [2.0] * 3 + [-3.0] * 8
    assert first["label"].tolist() == ["upsell"] * 3 + ["churn"] * 8
    assert first["closed"].all()
    second = rows[rows["cycle_start"] == "2026-01-01"]
    assert len(second) == 11
    assert (second["change"] == -12).all() and not second["closed"].any()
    assert (rows["horizon"] == rows["renewal"]).all()


def test_churn_at_renewal_and_flat_accounts():
    rows = renewal_labels(
        contracts(
            ("gone", "jobs", "2025-01-01", "2026-01-01", 4, "new"),
            ("same", "jobs", "2025-03-01", "2026-03-01", 7, "new"),
            ("same", "jobs", "2026-03-01", "2027-03-01", 7, "renewal"),
        ),
        as_of="2027-06-01",
    )
    gone = rows[rows["account_id"] == "gone"]
    assert (gone["label"] == "churn").all() and (gone["quantity_at_horizon"] == 0).all()
    same = rows[(rows["account_id"] == "same") & (rows["cycle_start"] == "2025-03-01")]
    assert (same["label"] == "flat").all() and len(same) == 11


def test_product_level_sums_and_fixed_horizon():
    two = contracts(
        ("a", "jobs", "2025-01-01", "2026-01-01", 10, "new"),
        ("a", "learning", "2025-01-01", "2026-01-01", 3, "new"),
        ("a", "learning", "2025-08-01", "2026-01-01", 2, "add_on"),
        ("a", "jobs", "2026-01-01", "2027-01-01", 8, "renewal"),
        ("a", "learning", "2026-01-01", "2027-01-01", 9, "renewal"),
    )
    account = renewal_labels(two, as_of="2027-01-01")
    feb = account[account["cutoff"] == "2025-02-01"].iloc[0]
    assert (feb["quantity"], feb["quantity_at_horizon"], feb["label"]) == (13.0, 17.0, "upsell")
    product = renewal_labels(two, level="product", as_of="2027-01-01")
    sep = product[product["cutoff"] == "2025-09-01"].set_index("product")
    assert sep.loc["jobs", "change"] == -2 and sep.loc["learning", "change"] == 4
    ahead = renewal_labels(two, level="product", horizon=3, as_of="2027-01-01")
    june = ahead[(ahead["cutoff"] == "2025-06-01") & (ahead["product"] == "learning")].iloc[0]
    assert str(june["horizon"].date()) == "2025-09-01" and june["change"] == 2


def test_tolerance_makes_small_changes_flat():
    rows = renewal_labels(ADD_ON_THEN_SMALLER_RENEWAL, tolerance=2)
    assert rows["label"].iloc[0] == "flat"


@pytest.mark.parametrize(
    ("change", "message", "code"),
    [
        (
            lambda c: c.drop(columns="kind"),
            "contracts table has no column 'kind'",
            "missing_column",
        ),
        (
            lambda c: c.assign(end=["2024-12-01", "2026-01-01", "2027-01-01"]),
            "contracts row 0, column 'end': 2024-12-01 is not after start 2025-01-01",
            "bad_value",
        ),
        (
            lambda c: c.assign(quantity=[10, -5, 12]),
            "contracts row 1, column 'quantity': -5.0 must be a number >= 0",
            "bad_value",
        ),
        (
            lambda c: c.assign(kind=["new", "upgrade", "renewal"]),
            "contracts row 1, column 'kind': 'upgrade' is not one of",
            "bad_value",
        ),
        (
            lambda c: c.assign(start=["2025-01-01", "soon", "2026-01-01"]),
            "contracts row 1, column 'start': 'soon' is not a date",
            "bad_value",
        ),
        (
            lambda c: c.assign(account_id=["a", None, "a"]),
            "contracts row 1, column 'account_id': is empty",
            "bad_value",
        ),
    ],
)
def test_bad_contracts(change, message, code):
    with pytest.raises(DataValidationError) as err:
        renewal_labels(change(ADD_ON_THEN_SMALLER_RENEWAL))
    assert message in str(err.value) and err.value.code == code


def test_bad_arguments():
    for kwargs in ({"level": "region"}, {"horizon": 0}, {"horizon": "soon"}, {"tolerance": -1}):
        with pytest.raises(LumosUserError):
            renewal_labels(ADD_ON_THEN_SMALLER_RENEWAL, **kwargs)


def test_no_cycle_long_enough_gives_no_rows():
    short = contracts(("a", "jobs", "2025-01-01", "2025-01-31", 3, "new"))
    assert renewal_labels(short).empty
    only_add_on = contracts(("a", "jobs", "2025-01-01", "2026-01-01", 3, "add_on"))
    assert list(renewal_labels(only_add_on).columns)[:2] == ["account_id", "cycle_start"]


def test_time_zones_are_dropped_from_dates():
    zoned = ADD_ON_THEN_SMALLER_RENEWAL.assign(
        start=pd.to_datetime(ADD_ON_THEN_SMALLER_RENEWAL["start"]).dt.tz_localize("UTC")
    )
    assert len(renewal_labels(zoned)) == len(renewal_labels(ADD_ON_THEN_SMALLER_RENEWAL))
