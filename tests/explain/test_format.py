import numpy as np
import pandas as pd
import pytest

from lumos.explain._expr import Expression, ExpressionError
from lumos.explain._format import format_array, format_one


@pytest.mark.parametrize(
    ("value", "spec", "text"),
    [
        (1234, "", "1,234"),
        (-1234.0, "", "-1,234"),
        (12_500, "", "12.5K"),
        (999_960, "", "1M"),
        (0.3512, "", "0.35"),
        (-0.004, "", "-0.004"),
        (1_234_567, "compact", "1.2M"),
        (250_000_000_000, "compact", "250B"),
        (1500, "+compact", "+1.5K"),
        (-1500, "+compact", "-1.5K"),
        (0.35, "pct", "35%"),
        (0.045, "pct", "4.5%"),
        (0.12, "+pct", "+12%"),
        (0.0, "+pct", "0%"),
        (-0.5, "+pct", "-50%"),
        (0.0, "yesno", "no"),
        (0.5, "+.0%", "+50%"),
        (1234.5, ",.1f", "1,234.5"),
        ("Retail", "", "Retail"),
        (-0.56, "rose/fell", "fell"),
        (0.2, "rose/fell", "rose"),
        (0.0, "rose/fell", "rose"),
        (0.0, "rose/fell/held at", "held at"),
    ],
)
def test_format_one(value, spec, text):
    assert format_one(value, spec) == text


def test_dates():
    assert format_one(pd.Timestamp("2026-01-05"), "date") == "Jan 5, 2026"
    arr = np.array(["2026-01-05", "2026-01-05", "2025-12-31"], dtype="datetime64[ns]")
    assert format_array(arr, "date").tolist() == ["Jan 5, 2026", "Jan 5, 2026", "Dec 31, 2025"]


def test_format_array_matches_format_one():
    values = np.random.default_rng(0).normal(0, 1e4, 500).round(1)
    for spec in ("", "compact", "+pct", ".2f"):
        assert format_array(values, spec).tolist() == [format_one(v, spec) for v in values]


def test_expressions_evaluate_vectorized():
    e = Expression("max(a, b) - min(a, 2) + abs(-a) ** 2 / log(b)", {"a", "b"})
    a, b = np.array([1.0, 3.0]), np.array([np.e, np.e])
    np.testing.assert_allclose(e({"a": a, "b": b}), np.maximum(a, b) - np.minimum(a, 2) + a**2)
    assert e.names == {"a", "b"}
    assert np.isinf(Expression("a / b", {"a", "b"})({"a": np.ones(1), "b": np.zeros(1)}))[0]


def test_expression_rejects_unknown_names():
    with pytest.raises(ExpressionError, match="unknown name 'c'"):
        Expression("a + c", {"a"})
