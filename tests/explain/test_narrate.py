"""Exact narratives for a small hand-built design: ranking, dedup, joining, skipping."""

import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import Attributions, InsightsDesign, narrate, summarize

COLS = ["a_prev", "a", "b", "c", "d"]


@pytest.fixture
def case(design_dir):
    X = pd.DataFrame(
        {
            "a_prev": [100.0, np.nan, 0.0],
            "a": [150.0, 10.0, 5.0],
            "b": [7.0, 3.0, 1.0],
            "c": [2500.0, 12.0, 1.0],
            "d": [1.0, 0.0, 1.0],
        },
        index=pd.Index(["r1", "r2", "r3"], name="account"),
    )
    values = np.array(
        [
            [0.1, 0.5, 0.3, 0.2, -0.4],
            [0.0, 0.9, 0.2, 0.1, 0.05],
            [0.2, 0.0, 0.0, 0.3, 0.4],
        ]
    )
    attr = Attributions(values, np.zeros(3), COLS, "test", "margin", X.index)
    return X, attr, InsightsDesign.load(design_dir)


def test_ranking_dedup_and_skipping(case):
    X, attr, design = case
    out = narrate(X, attr, design, top_k=5)
    assert list(out.columns) == [
        "row",
        "rank",
        "category",
        "ultra_feature",
        "super_feature",
        "importance",
        "text",
        "insight_type",
        "kind",
        "direction",
        "attribution",
        "features",
        "change",
        "relative_change",
        "reference",
    ]
    got = list(zip(out["row"], out["rank"], out["super_feature"], out["text"], strict=True))
    assert got == [
        ("r1", 1, "Alpha", "Alpha changed from 100 to 150 (+50%)."),  # beats Beta in U1
        ("r1", 2, "Gamma", "Gamma is 2,500."),  # Delta pulls down: not narrated
        ("r2", 1, "Beta", "Beta is 3."),  # Alpha skipped (NaN prev), Beta takes U1
        ("r2", 2, "Gamma", "Gamma is 12."),
        ("r2", 3, "Delta", "Delta: no."),
        ("r3", 1, "Delta", "Delta: yes."),
        ("r3", 2, "Gamma", "Gamma is 1."),  # Alpha skipped: prev 0 divides by zero
    ]
    # a narrative's importance is the summed attribution of the features it speaks for
    np.testing.assert_allclose(out["importance"], [0.6, 0.2, 0.2, 0.1, 0.05, 0.4, 0.3])
    assert out["direction"].tolist() == ["positive"] * 7  # auto: every row sums above its base
    assert out["features"].iloc[0] == "a_prev,a" and out["kind"].iloc[0] == "change"
    assert out["change"].iloc[0] == 50 and out["relative_change"].iloc[0] == 0.5
    assert out.attrs["skipped"] == 2
    assert out.attrs["skipped_by_super_feature"] == {"Alpha": 2}
    assert out.attrs["categories"] == ["Usage", "Growth"]
    assert not out["text"].str.contains("nan").any()


def test_top_k_and_directions(case):
    X, attr, design = case
    top2 = narrate(X, attr, design, top_k=2)
    assert top2.groupby("row").size().tolist() == [2, 2, 2]
    assert top2[top2["row"] == "r2"]["super_feature"].tolist() == ["Beta", "Gamma"]

    neg = narrate(X, attr, design, direction="negative")
    assert neg[neg["row"] == "r1"]["text"].tolist() == ["Delta: yes."]
    assert neg[neg["row"] == "r1"]["importance"].tolist() == [0.4]

    assert summarize(neg).to_dict("index") == {"r1": {"Usage": "", "Growth": "Delta: yes."}}

    absolute = narrate(X, attr, design, direction="absolute")
    assert absolute[absolute["row"] == "r1"]["super_feature"].tolist() == [
        "Alpha",
        "Delta",
        "Gamma",
    ]


def test_summarize_joins_per_category(case):
    X, attr, design = case
    cards = summarize(narrate(X, attr, design))
    assert list(cards.columns) == ["Usage", "Growth"]
    assert cards.to_dict("index") == {
        "r1": {"Usage": "Alpha changed from 100 to 150 (+50%).", "Growth": "Gamma is 2,500."},
        "r2": {"Usage": "Beta is 3.", "Growth": "Gamma is 12. Delta: no."},
        "r3": {"Usage": "", "Growth": "Delta: yes. Gamma is 1."},
    }


def test_summarize_of_text_holding_the_separator_mark(case):
    X, attr, design = case
    out = narrate(X, attr, design)
    out["text"] = out["text"] + "\x1f"
    cards = summarize(out)
    assert cards.loc["r2", "Growth"] == "Gamma is 12.\x1f Delta: no.\x1f"


def test_missing_item_column_names_it(case):
    X, attr, design = case
    with pytest.raises(DataValidationError, match=r"'c'.*item 'value'.*'Gamma'") as err:
        narrate(X.drop(columns="c"), attr, design)
    assert err.value.code == "missing_column"


def test_bad_arguments(case):
    X, attr, design = case
    with pytest.raises(LumosUserError, match="direction"):
        narrate(X, attr, design, direction="up")
    with pytest.raises(LumosUserError, match="top_k"):
        narrate(X, attr, design, top_k=0)
    with pytest.raises(LumosUserError, match="rows"):
        narrate(X.iloc[:2], attr, design)
    other = Attributions(attr.values, attr.base, ["p", "q", "r", "s", "t"], "x", "margin", X.index)
    with pytest.raises(LumosUserError) as err:
        narrate(X, other, design)
    assert err.value.code == "design_mismatch"
