"""Insights design loading: the happy path and every error names file, line and reason."""

import pytest

from design_helpers import FEATURES, INSIGHTS, TEMPLATES, write_design
from lumos.errors import DataValidationError
from lumos.explain import InsightsDesign


def test_load_reads_hierarchy_items_and_templates(design_dir):
    design = InsightsDesign.load(design_dir)
    assert design.super_features == ["Alpha", "Beta", "Gamma", "Delta"]
    assert design.items("Alpha") == {"prev_value": "a_prev", "current_value": "a"}
    assert design.insight_type("Delta") == "flag"
    template = design.templates["value_change"]
    assert template.fields == (
        ("super_feature", ""),
        ("prev_value", ""),
        ("current_value", ""),
        ("pct", "+pct"),
    )
    assert template.items == {"prev_value", "current_value"}
    assert template.line == 2


def _error(tmp_path, **files) -> DataValidationError:
    folder = write_design(tmp_path / "d", **files)
    with pytest.raises(DataValidationError) as err:
        InsightsDesign.load(folder)
    return err.value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{value.__class__}", "attribute access"),
        ("{value[0]}", "indexing"),
        ("{secret}", "unknown name 'secret'"),
        ("{value!r}", "conversion"),
        ("{value:zz}", "invalid format spec"),
        ("{value:up/down/flat/what}", "invalid format spec"),
        ("{value:up/}", "invalid format spec"),
        ("{value:>20000000}", "width 20000000 is over 64"),
        ("{value:.30f}", "precision 30 is over 12"),
        ("{}", "empty field"),
        ("{value", "not a valid template"),
    ],
)
def test_unsafe_or_broken_templates_are_rejected_with_line(tmp_path, text, reason):
    templates = TEMPLATES + f'bad:\n  text: "{text}"\n'
    insights = INSIGHTS.replace("Gamma,current_value,value,c", "Gamma,bad,value,c")
    err = _error(tmp_path, insights=insights, templates=templates)
    assert "templates.yaml line 10: template 'bad'" in str(err)
    assert reason in str(err)
    assert err.code == "bad_template"


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("__import__('os').system('true')", "is not allowed; only abs, min, max and log"),
        ("__import__('os')", "call of '__import__' is not allowed"),
        ("current_value.real", "attribute access"),
        ("current_value[0]", "indexing"),
        ("2 + 'x'", "is not a number"),
        ("current_value if prev_value else 0", "IfExp"),
        ("max(current_value, key=1)", "keyword"),
        ("(1 +", "not a valid expression"),
    ],
)
def test_unsafe_derived_items_are_rejected(tmp_path, expr, reason):
    templates = TEMPLATES.replace("(current_value - prev_value) / prev_value", expr)
    err = _error(tmp_path, templates=templates)
    assert "templates.yaml line 4" in str(err)
    assert reason in str(err)


def test_derived_item_used_before_it_is_derived(tmp_path):
    templates = TEMPLATES.replace(
        "    pct: (current_value - prev_value) / prev_value",
        "    pct: ratio - 1\n    ratio: current_value / prev_value",
    )
    assert "derived at or after it" in str(_error(tmp_path, templates=templates))


def test_bad_yaml_names_line(tmp_path):
    err = _error(tmp_path, templates=TEMPLATES + "flag: [unclosed\n")
    assert "templates.yaml line" in str(err) and "not valid YAML" in str(err)


def test_super_feature_without_insight_type(tmp_path):
    features = FEATURES + "e,Epsilon,U3,Growth\n"
    err = _error(tmp_path, features=features)
    assert "features.csv row 7: super feature 'Epsilon' has no insight type" in str(err)
    assert err.row == 7 and err.column == "super_feature"


@pytest.mark.parametrize(
    ("features", "insights", "message"),
    [
        (FEATURES.replace("category", "group"), INSIGHTS, "has no column 'category'"),
        (FEATURES + "a,Alpha,U1,Usage\n", INSIGHTS, "row 7: feature 'a' is listed twice"),
        (
            FEATURES.replace("b,Beta,U1", "b,Beta,"),
            INSIGHTS,
            "row 4: column 'ultra_feature' is empty",
        ),
        (
            FEATURES.replace("a,Alpha,U1,Usage", "a,Alpha,U9,Usage"),
            INSIGHTS,
            "under ultra_feature 'U9' here but 'U1' above",
        ),
        (FEATURES, INSIGHTS + "Zeta,flag,value,z\n", "insights.csv row 7: super feature 'Zeta'"),
        (
            FEATURES,
            INSIGHTS.replace("Beta,current_value", "Beta,nosuch"),
            "insight type 'nosuch' has no template",
        ),
        (
            FEATURES,
            INSIGHTS.replace("Alpha,value_change,current_value", "Alpha,flag,current_value"),
            "has insight type 'flag' here but 'value_change' above",
        ),
        (
            FEATURES,
            INSIGHTS.replace("Gamma,current_value,value", "Gamma,value_change,prev_value"),
            "row 5: super feature 'Gamma' (insight type 'value_change') lacks item 'current_value'",
        ),
        (
            FEATURES,
            INSIGHTS.replace("Alpha,value_change,current_value,a\n", ""),
            "template 'value_change' uses unknown name 'current_value'",
        ),
    ],
)
def test_bad_csv_files(tmp_path, features, insights, message):
    assert message in str(_error(tmp_path, features=features, insights=insights))


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist") as err:
        InsightsDesign.load(tmp_path / "nowhere")
    assert err.value.code == "file_not_found"
    folder = write_design(tmp_path / "d")
    (folder / "insights.csv").unlink()
    with pytest.raises(DataValidationError, match=r"insights.csv.*is missing"):
        InsightsDesign.load(folder)
