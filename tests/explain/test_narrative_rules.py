"""Narratives a salesperson can trust: coherent with the attributions, material, in context,
readable, pointed the right way — on hand-built designs and rows where the old rules wrote
each fault — and the audit that finds each fault on planted bad narratives."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lumos.errors import DataValidationError
from lumos.explain import Attributions, InsightsDesign, audit, headlines, narrate

FEATURES = """\
feature,super_feature,ultra_feature,category,insight,unit,noun
util_3m,Seat utilization,Usage,Usage,level,rate,
util_prev_3m,Seat utilization,Usage,Usage,change,rate,
util_slope_3m,Seat utilization,Usage,Usage,change,rate,
seats,Seats,Contract,Contract,,count,seats
"""
INSIGHTS = """\
super_feature,insight_type,item,feature
Seat utilization,level,value,util_3m
Seat utilization,change,prev_value,util_prev_3m
Seat utilization,change,current_value,util_3m
Seats,seats,value,seats
"""
TEMPLATES = """\
settings:
  peers: accounts
  segment: industry
  material: {relative: 0.05, absolute: 0.02}
level:
  text: "{super_feature} is {value}, {context}."
change:
  text: "{super_feature} {pct:rose/fell} from {prev_value} to {current_value} ({pct:+pct})."
  derive:
    pct: (current_value - prev_value) / prev_value
seats:
  kind: fact
  text: "{value} {noun} under contract."
"""
COLUMNS = ["util_3m", "util_prev_3m", "util_slope_3m", "seats"]


def design(tmp_path, features=FEATURES, insights=INSIGHTS, templates=TEMPLATES):
    folder = tmp_path / "design"
    folder.mkdir(exist_ok=True)
    (folder / "features.csv").write_text(features)
    (folder / "insights.csv").write_text(insights)
    (folder / "templates.yaml").write_text(templates)
    return InsightsDesign.load(folder)


def rows():
    X = pd.DataFrame(
        {
            "util_3m": [0.95, 0.34, 0.60, 0.90, 0.50, 0.70],
            "util_prev_3m": [0.96, 0.20, 0.59, 0.50, 0.55, 0.71],
            "util_slope_3m": [0.0, 0.02, 0.0, 0.1, -0.01, 0.0],
            "seats": [29.0, 4.0, 12.0, 40.0, 8.0, 10.0],
            "industry": ["Software", "Retail", "Software", "Software", "Retail", "Retail"],
        },
        index=pd.Index(["up", "churn", "flat", "grow", "r5", "r6"], name="account_id"),
    )
    values = np.array(
        [
            [2.0, -0.3, 0.0, 0.1],  # upsell on the utilization level; the change pulls down
            [-1.5, 0.4, 0.1, -0.2],  # churn on the low level; the rise pulls up
            [0.5, 0.01, 0.0, 0.0],  # a 1.7% rise: immaterial, the level speaks
            [0.2, 0.9, 0.3, 0.1],  # the change itself carries the attribution
            [0.1, 0.0, 0.0, -0.3],  # below its base: explained by what pulls it down
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    attr = Attributions(values, np.zeros(6), COLUMNS, "test", "margin", X.index)
    return X, attr


def test_a_change_is_said_only_when_it_carries_the_attribution(tmp_path):
    X, attr = rows()
    out = narrate(X, attr, design(tmp_path))
    out = out[out["rank"] == 1].set_index("row")
    # the old rules wrote "Seat utilization fell from 96% to 95%" for the upsell and
    # "rose from 20% to 34%" for the churn risk: a change pointing the other way
    assert (
        out.loc["up", "text"] == "Seat utilization is 95%, the highest of all accounts in Software."
    )
    assert out.loc["up", "kind"] == "level" and out.loc["up", "features"] == "util_3m"
    assert (
        out.loc["churn", "text"] == "Seat utilization is 34%, the lowest of all accounts in Retail."
    )
    assert out.loc["churn", "direction"] == "negative" and out.loc["churn", "attribution"] == -1.5
    assert out.loc["grow", "text"] == "Seat utilization rose from 50% to 90% (+80%)."
    assert out.loc["grow", "kind"] == "change" and out.loc["grow", "attribution"] == 1.2
    assert out.loc["grow", "features"] == "util_prev_3m,util_slope_3m"


def test_an_immaterial_change_is_no_reason_and_the_level_speaks(tmp_path):
    X, attr = rows()
    out = narrate(X, attr, design(tmp_path))
    flat = out[out["row"] == "flat"]
    # "rose from 59% to 60% (+1.7%)" carried 0.01 of attribution and is under 5%: never said
    assert flat["text"].tolist() == [
        "Seat utilization is 60%, the lowest of all accounts in Software."
    ]
    assert flat["kind"].tolist() == ["level"] and out.attrs["immaterial"] == 1
    assert not out["text"].str.contains("59%").any()


def test_auto_direction_explains_a_row_by_what_moves_it_from_its_base(tmp_path):
    X, attr = rows()
    out = narrate(X, attr, design(tmp_path))
    r5 = out[out["row"] == "r5"]
    assert r5["text"].tolist() == ["8 seats under contract."]  # its only pull down
    assert r5["direction"].tolist() == ["negative"] and r5["kind"].tolist() == ["fact"]
    assert "r6" not in set(out["row"])  # no attribution: nothing to say
    positive = narrate(X, attr, design(tmp_path), direction="positive")
    assert "r5" in set(positive["row"]) and "churn" not in set(
        positive[positive["super_feature"] == "Seats"]["row"]
    )


def test_levels_compare_with_every_row_scored_not_one_chunk(tmp_path):
    X, attr = rows()
    d = design(tmp_path)
    whole = narrate(X, attr, d).set_index("row")["text"]
    first = narrate(
        X.iloc[:2],
        Attributions(attr.values[:2], attr.base[:2], COLUMNS, "t", "margin", X.index[:2]),
        d,
        reference=X,
    )
    assert first.set_index("row")["text"].to_dict() == whole.loc[["up", "churn"]].to_dict()
    alone = narrate(
        X.iloc[:1],
        Attributions(attr.values[:1], attr.base[:1], COLUMNS, "t", "margin", X.index[:1]),
        d,
    )
    assert (
        alone["text"].iloc[0]
        == "Seat utilization is 95%, the same as the other accounts in Software."
    )


def test_references_without_a_segment_and_their_shares(tmp_path):
    templates = TEMPLATES.replace("  segment: industry\n", "")
    X, attr = rows()
    out = narrate(X, attr, design(tmp_path, templates=templates))
    out = out[out["rank"] == 1].set_index("row")
    assert out.loc["up", "text"] == "Seat utilization is 95%, the highest of all accounts."
    assert out.loc["up", "reference"] == pytest.approx(5 / 6)
    assert np.isnan(out.loc["grow", "reference"])  # a change states no comparison


def test_old_designs_load_and_narrate_as_one_insight_per_super_feature(design_dir):
    d = InsightsDesign.load(design_dir)
    assert d.speaks_for("Alpha") == {"value_change": ["a_prev", "a"]}
    assert d.templates["value_change"].kind == "change"
    assert d.templates["value_change"].compare == ("prev_value", "current_value")
    assert d.templates["current_value"].kind == "level" and d.unit("Alpha") == "number"


@pytest.mark.parametrize(
    ("part", "old", "new", "message"),
    [
        (
            "features",
            "util_slope_3m,Seat utilization,Usage,Usage,change",
            "util_slope_3m,Seat utilization,Usage,Usage,trend",
            "insight type 'trend' is not one of",
        ),
        (
            "features",
            "seats,Seats,Contract,Contract,,count",
            "seats,Seats,Contract,Contract,,apples",
            "unit 'apples' is not one of",
        ),
        ("templates", "  peers: accounts", "  colour: red", "unknown key 'colour'"),
        (
            "templates",
            "relative: 0.05",
            "relative: -1",
            "'material.relative' must be a number >= 0",
        ),
        ("templates", "  kind: fact", "  kind: story", "'kind' must be one of level, change, fact"),
        (
            "templates",
            "level:\n  text:",
            "level:\n  kind: change\n  text:",
            "a change needs 'compare",
        ),
    ],
)
def test_bad_design_extensions_name_file_and_line(tmp_path, part, old, new, message):
    files = {"features": FEATURES, "templates": TEMPLATES}
    files[part] = files[part].replace(old, new)
    assert files[part] != {"features": FEATURES, "templates": TEMPLATES}[part]
    with pytest.raises(DataValidationError) as err:
        design(tmp_path, features=files["features"], templates=files["templates"])
    assert message in str(err.value)


def test_a_missing_segment_column_is_named(tmp_path):
    X, attr = rows()
    with pytest.raises(DataValidationError, match=r"no column 'industry'.*segment"):
        narrate(X.drop(columns="industry"), attr, design(tmp_path))


def test_the_audit_passes_the_engines_narratives(tmp_path):
    X, attr = rows()
    d = design(tmp_path)
    found = audit(narrate(X, attr, d), attr, d, data=X)
    assert found.counts["incoherent"] == found.counts["immaterial"] == 0
    assert found.counts["unreadable"] == 0 and found.context_share == 1.0
    assert "0 incoherent" in found.summary()


def test_the_audit_finds_each_fault_on_planted_narratives(tmp_path):
    X, attr = rows()
    d = design(tmp_path)
    bad = pd.DataFrame(
        {
            "row": ["up", "flat", "up", "churn", "grow", "grow", "grow"],
            "rank": [1, 1, 2, 1, 1, 2, 3],
            "super_feature": ["Seat utilization"] * 4 + ["Seats", "Seats", "Seat utilization"],
            "text": [
                "Seat utilization fell from 96% to 95% (-1%).",  # the change pulls down
                "Seat utilization rose from 59% to 60% (+1.7%).",  # too small
                "Seat utilization is 95%.",  # a level with no comparison
                "Seat utilization is 0.34, lower than 67% of accounts.",  # a rate as a fraction
                "Seats is 40.",  # a bare number
                "seats: nan",  # lower case and a missing value
                "Seat utilization of the Bmi group is 90%, higher than 50% of accounts.",
            ],
            "insight_type": ["change", "change", "level", "level", "seats", "seats", "level"],
            "features": [
                "util_prev_3m,util_slope_3m",
                "util_prev_3m,util_slope_3m",
                "util_3m",
                "util_3m",
                "seats",
                "seats",
                "util_3m",
            ],
            "direction": [
                "positive",
                "positive",
                "positive",
                "negative",
                "positive",
                "positive",
                "positive",
            ],
        }
    )
    found = audit(bad, attr, d, data=X)
    checks = found.failures.groupby("row", sort=False)["check"].apply(list).to_dict()
    by_text = found.failures.groupby("text")["check"].apply(set).to_dict()
    # the change pulls the upsell down, and a 1-point dip is no reason either
    assert by_text["Seat utilization fell from 96% to 95% (-1%)."] == {"incoherent", "immaterial"}
    assert "immaterial" in found.failures[found.failures["row"] == "flat"]["check"].tolist()
    assert by_text["Seat utilization is 95%."] == {"no_context"}
    reasons = " | ".join(found.failures["reason"])
    for why in (
        "a rate as a fraction",
        "a bare number",
        "lower case",
        "a missing value",
        "the acronym BMI as 'Bmi'",
    ):
        assert why in reasons, why
    assert found.counts["incoherent"] == 1 and found.counts["immaterial"] == 2
    assert set(checks) == {"up", "flat", "churn", "grow"}  # every failure names its row


def test_headlines_say_what_the_score_means(tmp_path):
    got = headlines(pd.Series([0.9, 0.2], index=["a", "b"]), typical=0.4)
    assert got.tolist() == [
        "Scored 90%, higher than the average of 40%.",
        "Scored 20%, lower than the average of 40%.",
    ]
    custom = design(
        tmp_path,
        templates=TEMPLATES.replace(
            "  peers: accounts",
            "  peers: accounts\n"
            '  headline: "Likely to add {score:.0f} seats (typical {typical:+.0f})."',
        ),
    )
    assert headlines(pd.Series([320.0]), custom, typical=2).tolist() == [
        "Likely to add 320 seats (typical +2)."
    ]


def test_explain_run_prints_the_audit_and_strict_refuses_incoherence(tmp_path):
    import xgboost as xgb

    from lumos.cli import main

    X, _ = rows()
    big = pd.concat([X] * 20, ignore_index=True).rename_axis("account_id").reset_index()
    big["account_id"] = [f"A{i:03d}" for i in range(len(big))]
    rng = np.random.default_rng(0)
    big[COLUMNS] = big[COLUMNS] * rng.uniform(0.8, 1.2, (len(big), 4))
    y = big["util_3m"] + rng.normal(0, 0.05, len(big))
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3).fit(big[COLUMNS], y)
    model.save_model(tmp_path / "m.json")
    big.to_parquet(tmp_path / "d.parquet")
    design(tmp_path)
    args = [
        "--model",
        tmp_path / "m.json",
        "--data",
        tmp_path / "d.parquet",
        "--design",
        tmp_path / "design",
        "--id-column",
        "account_id",
    ]
    run = CliRunner().invoke(
        main, ["explain", "run", *map(str, args), "--out", str(tmp_path / "n.jsonl")]
    )
    assert run.exit_code == 0, run.output
    assert "audit of" in run.output and " 0 incoherent" in run.output
    checked = CliRunner().invoke(
        main, ["explain", "audit", *map(str, args), "--out", str(tmp_path / "f.csv")]
    )
    assert checked.exit_code == 0 and "audit of" in checked.output, checked.output
    assert (tmp_path / "f.csv").exists()
    strict = CliRunner().invoke(
        main,
        [
            "explain",
            "run",
            *map(str, args),
            "--out",
            str(tmp_path / "s.jsonl"),
            "--direction",
            "absolute",
            "--strict",
        ],
    )
    assert strict.exit_code == 0, strict.output  # absolute: each reason in its own direction
    missing = CliRunner().invoke(
        main,
        [
            "explain",
            "audit",
            *map(str, args[:4]),
            "--design",
            str(tmp_path / "nowhere"),
            "--id-column",
            "account_id",
        ],
    )
    assert missing.exit_code == 2 and "error [file_not_found]" in missing.output


def test_context_phrases_are_true_statements():
    from lumos.explain._context import Reference, phrases

    ref = Reference(np.r_[np.arange(1000.0), np.full(300, 499.0)])
    below, above, size, _ = ref.shares(np.array([999.0, 0.0, 1290.0, 3.0, 700.0, 499.0]))
    said = phrases(below, above, size, [None] * 6, "accounts").tolist()
    assert said == [
        "the highest of all accounts",
        "the lowest of all accounts",
        "the highest of all accounts",
        "lower than 99% of accounts",  # 99.7% above: floored, never rounded up to 100%
        "higher than 76% of accounts",
        "near the middle of all accounts",  # 38% below, 38% above: neither side holds half
    ]
    # most peers share the value: said as such, not as "the lowest"
    ties = Reference(np.r_[np.zeros(70), np.arange(1.0, 27.0), np.full(4, 30.0)])
    b, a, s, _ = ties.shares(np.array([0.0, 30.0, 26.0]))
    assert phrases(b, a, s, ["Retail", None, None], "accounts").tolist() == [
        "the same as 70% of accounts in Retail",
        "tied with 4% of accounts for the highest",  # not "the highest" alone
        "higher than 95% of accounts",
    ]
    b, a, s, _ = Reference(np.array([2.0])).shares(np.array([2.0, np.nan]))
    assert phrases(b, a, s, [None, None], "rows").tolist() == ["the same as the other rows", None]


def test_a_later_reference_never_reuses_an_earlier_ones_values(tmp_path):
    X, attr = rows()
    d = design(tmp_path)
    held = []
    for scale in np.linspace(0.5, 2.0, 20):  # frames built and freed in turn share id()s
        ref = X.assign(util_3m=X["util_3m"] * scale)
        gc.collect()
        out = narrate(X.iloc[:1], attr_of(attr, 1), d, reference=ref)
        share = (ref.loc[ref["industry"] == "Software", "util_3m"] < 0.95).mean()
        assert out["reference"].iloc[0] == pytest.approx(share)
        del ref, out
        held.append(len(d._cache))
    assert len(set(held)) == 1  # what a design keeps between runs is bounded


def attr_of(attr, n):
    return Attributions(attr.values[:n], attr.base[:n], COLUMNS, "t", "margin", attr.index[:n])
