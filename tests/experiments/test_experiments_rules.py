"""Targeting rules: what they accept, what they refuse, and the same answer one row or many."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lumos.experiments import Rule, RuleError

ROWS = [
    {"industry": "software", "seniority": 4, "region": "EMEA", "plan": "team"},
    {"industry": "finance", "seniority": 2, "region": "AMER", "plan": "enterprise"},
    {"industry": "retail", "seniority": None, "region": None, "plan": "team"},
    {"industry": None, "seniority": 7, "region": "APAC", "plan": None},
    {"industry": "software", "seniority": float("nan"), "region": "EMEA", "plan": "enterprise"},
]

CASES = [
    ('industry in ["software", "finance"]', [True, True, False, False, True]),
    ("seniority >= 3", [True, False, False, True, False]),
    ("seniority < 3", [False, True, False, False, False]),
    ('region == "EMEA"', [True, False, False, False, True]),
    ('region != "EMEA"', [False, True, False, True, False]),
    ('not region == "EMEA"', [False, True, True, True, False]),
    ('industry not in ["retail"]', [True, True, False, False, True]),
    # plan missing: the comparison is false, so "not (...)" is true
    ('region == "EMEA" or not (plan != "enterprise")', [True, True, False, True, True]),
    ('industry == "software" and seniority >= 3', [True, False, False, False, False]),
    ("missing_attribute == 1", [False] * 5),
    ("seniority > -1.5", [True, True, False, True, False]),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_rule_semantics_one_row_and_many(source, expected):
    rule = Rule(source)
    assert [rule.matches(row) for row in ROWS] == expected
    assert rule.mask(pd.DataFrame(ROWS)).tolist() == expected


def test_mask_on_categorical_and_string_numbers():
    frame = pd.DataFrame(
        {"industry": pd.Categorical(["software", "retail", None]), "seniority": ["5", "x", "1"]}
    )
    assert Rule('industry == "software"').mask(frame).tolist() == [True, False, False]
    assert Rule("seniority >= 3").mask(frame).tolist() == [True, False, False]
    assert [Rule("seniority >= 3").matches(r) for r in frame.to_dict("records")] == [
        True,
        False,
        False,
    ]


def test_random_frame_agrees_with_rows():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "a": rng.choice(["x", "y", None], 300),
            "b": np.where(rng.random(300) < 0.2, np.nan, rng.integers(0, 9, 300)),
        }
    )
    rule = Rule('(a in ["x"] or b > 4) and not (b == 7 or a != "y")')
    assert rule.mask(frame).tolist() == [rule.matches(r) for r in frame.to_dict("records")]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("seniority >=", "does not parse"),
        ("__import__('os').system('x')", "is not allowed"),
        ("region.lower() == 'emea'", "must be an attribute name"),
        ("industry", "a bare name"),
        ("1 < seniority < 5", "chained comparison"),
        ("3 <= seniority", "must be an attribute name"),
        ('seniority >= "3"', "needs a number"),
        ("industry in other", "needs a list of constants"),
        ("industry in [other]", "not a constant"),
        ("seniority + 1 > 3", "must be an attribute name"),
        ("region == 'EMEA' if x else y", "is not allowed"),
    ],
)
def test_refused_rules(source, message):
    with pytest.raises(RuleError, match=message):
        Rule(source)
