"""suggest_design v2: a level and a change per metric, units, nouns, categories from the
names' own structure, readable names — and designs that pass the audit with no edits."""

import csv
import importlib.util
import string

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
import yaml

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import import_model
from lumos.explain._suggest import SuggestedDesign, suggest_design
from lumos.explain._suggest_names import categories
from lumos.explain._suggest_names import readable as _readable

NAMED_SPECS = {"compact", "+compact", "pct", "+pct", "date", "yesno"}
CONTEXT = {"super_feature", "ultra_feature", "category", "description", "noun", "context"}


def _accounts(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Accounts whose firm size drives hiring; seats and InMail replies are independent of it."""
    rng = np.random.default_rng(seed)
    seats = rng.gamma(3.0, 10.0, n)
    employees = rng.lognormal(5.0, 1.0, n).round()
    rate = rng.uniform(0, 1, n)
    return pd.DataFrame(
        {
            "seats_used_3m": seats + rng.normal(0, 1, n),
            "seats_used_6m": seats + rng.normal(0, 2, n),
            "seats_used_12m": seats + rng.normal(0, 3, n),
            "inmail_response_rate_prev_1m": np.clip(rate + rng.normal(0, 0.1, n), 0, 1),
            "inmail_response_rate": rate,
            "has_premium": rng.integers(0, 2, n),
            "employees": employees,
            "employees_prev": employees * rng.uniform(0.8, 1.1, n),
            "hires_12m": (employees * 0.1 + rng.normal(0, 1, n)).clip(0).round(),
        }
    )


def _model(frame: pd.DataFrame):
    y = np.random.default_rng(1).normal(size=len(frame))
    booster = xgb.XGBRegressor(n_estimators=3, max_depth=2, n_jobs=1).fit(frame, y)
    return import_model(booster)


@pytest.fixture(scope="module")
def accounts():
    frame = _accounts()
    return _model(frame), frame


@pytest.fixture(scope="module")
def design(accounts):
    return suggest_design(*accounts)


def test_stems_become_super_features(design):
    supers = dict(zip(design.features["feature"], design.features["super_feature"], strict=True))
    assert supers == {
        "seats_used_3m": "Seats used",
        "seats_used_6m": "Seats used",
        "seats_used_12m": "Seats used",
        "inmail_response_rate_prev_1m": "Inmail response rate",
        "inmail_response_rate": "Inmail response rate",
        "has_premium": "Has premium",
        "employees": "Employees",
        "employees_prev": "Employees",
        "hires_12m": "Hires (last 12 months)",
    }
    described = design.features.drop_duplicates("super_feature").set_index("super_feature")
    assert described.loc["Seats used", "description"] == (
        "Seats used: a number; value over the last 3, 6 and 12 months. Narrated as its level, "
        "seats_used_3m and the change from seats_used_12m to seats_used_3m. From features "
        "seats_used_3m, seats_used_6m, seats_used_12m."
    )
    assert described.loc["Inmail response rate", "description"].startswith(
        "Inmail response rate: a rate (a share of 1, printed as a percentage); value over the "
        "month before those."
    )
    assert described.loc["Has premium", "description"] == (
        "Has premium: a yes/no flag. Narrated as a fact, has_premium. From feature has_premium."
    )
    assert described.loc["Hires (last 12 months)", "description"].startswith(
        "Hires (last 12 months): a count of hires; value over the last 12 months."
    )


def test_insight_types_and_items(design):
    got = [tuple(r) for r in design.insights.itertuples(index=False)]
    assert got == [
        ("Seats used", "window_3_months", "value", "seats_used_3m"),
        ("Seats used", "trend_3_months_12_months", "recent_value", "seats_used_3m"),
        ("Seats used", "trend_3_months_12_months", "baseline_value", "seats_used_12m"),
        ("Inmail response rate", "level", "value", "inmail_response_rate"),
        (
            "Inmail response rate",
            "change_vs_month_rate",
            "prev_value",
            "inmail_response_rate_prev_1m",
        ),
        ("Inmail response rate", "change_vs_month_rate", "current_value", "inmail_response_rate"),
        ("Has premium", "flag", "value", "has_premium"),
        ("Employees", "level_plural", "value", "employees"),
        ("Employees", "change", "prev_value", "employees_prev"),
        ("Employees", "change", "current_value", "employees"),
        ("Hires (last 12 months)", "count_hires_12_months", "value", "hires_12m"),
    ]
    assert list(design.templates) == [
        "settings",
        "window_3_months",
        "trend_3_months_12_months",
        "level",
        "change_vs_month_rate",
        "flag",
        "level_plural",
        "change",
        "count_hires_12_months",
    ]
    assert design.templates["settings"] == {"peers": "rows"}
    assert design.templates["change"] == {
        "kind": "change",
        "compare": ["prev_value", "current_value"],
        "text": "{super_feature} {change:rose/fell} from {prev_value} to {current_value} "
        "({change:+pct}) against the previous period.",
        "derive": {"change": "(current_value - prev_value) / abs(prev_value)"},
    }
    assert design.templates["level_plural"] == {
        "kind": "level",
        "text": "{super_feature} are {value}, {context}.",
    }
    assert design.templates["flag"] == {"kind": "fact", "text": "{super_feature}: {value:yesno}."}


def test_each_feature_names_the_insight_that_speaks_for_it_and_its_unit(design):
    got = design.features.set_index("feature")[["insight", "unit", "noun"]]
    assert got.to_dict("index") == {
        "seats_used_3m": {"insight": "window_3_months", "unit": "number", "noun": ""},
        "seats_used_6m": {"insight": "trend_3_months_12_months", "unit": "number", "noun": ""},
        "seats_used_12m": {"insight": "trend_3_months_12_months", "unit": "number", "noun": ""},
        "inmail_response_rate_prev_1m": {
            "insight": "change_vs_month_rate",
            "unit": "rate",
            "noun": "",
        },
        "inmail_response_rate": {"insight": "level", "unit": "rate", "noun": ""},
        "has_premium": {"insight": "flag", "unit": "number", "noun": ""},
        "employees": {"insight": "level_plural", "unit": "number", "noun": ""},
        "employees_prev": {"insight": "change", "unit": "number", "noun": ""},
        "hires_12m": {"insight": "count_hires_12_months", "unit": "count", "noun": "hires"},
    }


def test_templates_only_name_items_derived_names_and_context(design):
    items = design.insights.groupby("insight_type")["item"].agg(set)
    for kind, template in design.templates.items():
        if kind == "settings":
            continue
        known = items[kind] | set(template.get("derive", {})) | CONTEXT
        for _, field, spec, _ in string.Formatter().parse(template["text"]):
            if field is not None:
                assert field.isidentifier() and field in known, (kind, field)
                assert not spec or spec in NAMED_SPECS or "/" in spec or format(0.5, spec)
        assert template["kind"] in ("level", "change", "fact")
        assert ("{context}" in template["text"]) == (template["kind"] == "level"), kind


def test_prev_window_pairs_with_same_window_before_bare_feature():
    frame = pd.DataFrame(
        {"views": [1.0, 2, 3, 4], "views_1m": [2.0, 3, 1, 5], "views_prev_1m": [1.0, 1, 2, 2]}
    )
    design = suggest_design(_model(frame), frame)
    got = [tuple(r) for r in design.insights.itertuples(index=False)]
    assert got == [  # the level states the window the change compares
        ("Views", "count_views_month", "value", "views_1m"),
        ("Views", "change_month", "prev_value", "views_prev_1m"),
        ("Views", "change_month", "current_value", "views_1m"),
    ]
    assert set(design.features["super_feature"]) == {"Views"}
    assert design.features["insight"].tolist() == [
        "count_views_month",
        "count_views_month",
        "change_month",
    ]
    assert design.templates["count_views_month"] == {  # "1 view", "2 views"
        "kind": "level",
        "text": "{value} {one:views/views/view} in the last month, {context}.",
        "derive": {"one": "value - 1"},
    }


def test_window_before_prev_suffix_pairs_with_that_window():
    rng = np.random.default_rng(4)
    cols = ["clicks_90d", "clicks_30d_prev", "clicks_30d"]
    frame = pd.DataFrame({c: rng.normal(size=20) for c in cols})
    design = suggest_design(_model(frame), frame)
    got = design.insights.set_index("item")["feature"].to_dict()
    assert got == {
        "value": "clicks_30d",
        "prev_value": "clicks_30d_prev",
        "current_value": "clicks_30d",
    }
    assert design.features["super_feature"].tolist() == ["Clicks"] * 3
    assert design.templates["change_30_days"]["text"].endswith(
        "in the last 30 days against the 30 before."
    )


def test_windows_ordered_by_days_and_case_insensitive():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({c: rng.normal(size=20) for c in ["Logins_1Y", "logins_30d", "logins_4w"]})
    design = suggest_design(_model(frame), frame)
    got = design.insights.set_index("item")["feature"].to_dict()
    assert got == {"value": "logins_4w", "recent_value": "logins_4w", "baseline_value": "Logins_1Y"}
    speaks = design.features.set_index("feature")["insight"].to_dict()
    assert speaks == {
        "Logins_1Y": "trend_4_weeks_year",
        "logins_30d": "trend_4_weeks_year",
        "logins_4w": "window_4_weeks",
    }


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("num_open_jobs", "Number of open jobs"),
        ("n_seats", "Number of seats"),
        ("avg_deal_amt_yoy", "Average deal amount year over year"),
        ("pct_active", "Percent active"),
        ("loginCnt", "Login count"),
        ("bmi", "BMI"),
        ("bp", "BP"),
        ("account_id_age", "Account ID age"),
        ("crm_ltv", "CRM LTV"),
        ("mean concave points", "Mean concave points"),
    ],
)
def test_readable_names(stem, name):
    assert _readable(stem) == name


def test_correlated_super_features_share_an_ultra_feature(design):
    ultra = design.features.drop_duplicates("super_feature").set_index("super_feature")
    ultra = ultra["ultra_feature"]
    assert ultra["Employees"] == ultra["Hires (last 12 months)"] == "Employees"
    assert ultra["Seats used"] == "Seats used"
    assert ultra["Inmail response rate"] == "Inmail response rate"
    assert ultra.nunique() == 4


def test_threshold_one_and_missing_or_constant_values_keep_them_apart(accounts):
    model, frame = accounts
    frame = frame.copy()
    frame.loc[::3, "hires_12m"] = np.nan
    frame["employees"] = 7.0
    design = suggest_design(model, frame, corr_threshold=1.0, max_rows=100)
    assert design.features["ultra_feature"].nunique() == 5


def test_categories_from_shared_leading_word():
    rng = np.random.default_rng(3)
    cols = ["usage_logins_3m", "usage_logins_12m", "usage_minutes", "num_firm_offices"]
    frame = pd.DataFrame({c: rng.normal(size=30) for c in [*cols, "firm_age", "churned"]})
    design = suggest_design(_model(frame), frame)
    got = design.features.set_index("feature")["category"].to_dict()
    assert got == {
        "usage_logins_3m": "Usage",
        "usage_logins_12m": "Usage",
        "usage_minutes": "Usage",
        "num_firm_offices": "Firm",
        "firm_age": "Firm",
        "churned": "Churned",  # shares nothing: a category of its own
    }


def test_categories_are_families_never_a_lone_qualifier():
    names = [
        f"{q} {m}".strip() if q != "error" else f"{m} error"
        for q in ("mean", "error", "worst")
        for m in ("radius", "texture", "concave points", "fractal dimension")
    ]
    assert categories(names) == ["Radius", "Texture", "Concave points", "Fractal dimension"] * 3
    assert categories(["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]) == [
        "Age",
        "Sex",
        "BMI",
        "BP",
        *["S1–S6"] * 6,
    ]
    assert categories(["days_to_renewal", "days_since_login", "avg_order_value"]) == [
        "Days to renewal",
        "Days since login",
        "Average order value",
    ]
    assert categories(["num_seats_sold", "pct_seats_used", "total_revenue"]) == [
        "Seats",
        "Seats",
        "Total revenue",
    ]
    lots = [f"metric{chr(97 + i)}" for i in range(11)]  # eleven unrelated names
    assert categories(lots) == ["Other"] * 11


def test_written_files_have_the_exact_format(design, tmp_path):
    folder = design.write(tmp_path / "insights")
    assert sorted(p.name for p in folder.iterdir()) == [
        "features.csv",
        "insights.csv",
        "templates.yaml",
    ]
    with open(folder / "features.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "feature",
        "super_feature",
        "ultra_feature",
        "category",
        "description",
        "insight",
        "unit",
        "noun",
    ]
    assert rows[1] == [
        "seats_used_3m",
        "Seats used",
        "Seats used",
        "Seats used",
        "Seats used: a number; value over the last 3, 6 and 12 months. Narrated as its level, "
        "seats_used_3m and the change from seats_used_12m to seats_used_3m. From features "
        "seats_used_3m, seats_used_6m, seats_used_12m.",
        "window_3_months",
        "number",
        "",
    ]
    assert len(rows) == 10
    with open(folder / "insights.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["super_feature", "insight_type", "item", "feature"]
    assert rows[1:] == [list(r) for r in design.insights.itertuples(index=False)]
    assert yaml.safe_load((folder / "templates.yaml").read_text()) == design.templates
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insights"]  # no temp folder left


def test_out_writes_and_existing_folder_is_refused(accounts, tmp_path):
    model, frame = accounts
    (tmp_path / "empty").mkdir()
    suggest_design(model, frame, tmp_path / "empty")
    assert (tmp_path / "empty" / "features.csv").is_file()
    folder = tmp_path / "design"
    folder.mkdir()
    (folder / "features.csv").write_text("mine\n")
    with pytest.raises(LumosUserError, match="overwrite=True") as err:
        suggest_design(model, frame, folder)
    assert err.value.code == "exists"
    assert (folder / "features.csv").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design", "empty"]
    suggest_design(model, frame, folder, overwrite=True)
    assert (folder / "features.csv").read_text().startswith("feature,super_feature")
    assert (folder / "insights.csv").is_file()


def test_missing_feature_column_is_named(accounts):
    model, frame = accounts
    with pytest.raises(DataValidationError, match="'hires_12m'") as err:
        suggest_design(model, frame.drop(columns="hires_12m"))
    assert err.value.code == "missing_column"
    assert err.value.column == "hires_12m"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data": "not a frame"}, "DataFrame"),
        ({"corr_threshold": 0.0}, "corr_threshold"),
        ({"max_rows": 1}, "max_rows"),
    ],
)
def test_bad_arguments(accounts, kwargs, match):
    model, frame = accounts
    with pytest.raises(LumosUserError, match=match) as err:
        suggest_design(model, **{"data": frame, **kwargs})
    assert err.value.code == "bad_argument"


def test_no_rows(accounts):
    model, frame = accounts
    with pytest.raises(DataValidationError, match="no rows") as err:
        suggest_design(model, frame.iloc[:0])
    assert err.value.code == "empty"


def test_design_is_frozen(design):
    assert isinstance(design, SuggestedDesign)
    with pytest.raises(AttributeError):
        design.templates = {}


def test_loader_reads_the_suggestion(design, tmp_path):
    if importlib.util.find_spec("lumos.explain._design") is None:
        pytest.skip("lumos.explain._design (the design loader) is not written yet")
    from lumos.explain._design import InsightsDesign

    InsightsDesign.load(design.write(tmp_path / "insights"))


def test_writes_into_the_current_folder_and_refuses_a_file(design, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert design.write(".") == tmp_path.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["features.csv", "insights.csv", "templates.yaml"]
    )
    with pytest.raises(LumosUserError, match="is a file") as err:
        design.write(tmp_path / "features.csv", overwrite=True)
    assert err.value.code == "exists"


def test_window_features_read_as_a_level_and_a_change_over_their_window(tmp_path):
    from sklearn.linear_model import LinearRegression

    from lumos.explain import InsightsDesign, attribute, narrate

    X = pd.DataFrame(
        {
            "searches_mean_3m": [18.0, 30.0, 50.0, 20.0],
            "searches_mean_prev_3m": [41.0, 30.0, 40.0, 25.0],
            "searches_sum_12m": [300.0, 360.0, 500.0, 280.0],
            "searches_slope_6m": [-4.0, 0.0, 2.0, -1.0],
        }
    )
    model = LinearRegression().fit(X, [1.0, 2.0, 4.0, 1.5])
    design = InsightsDesign.load(suggest_design(model, X).write(tmp_path / "design"))
    text = narrate(X, attribute(model, X, method="linear_shap", background=X), design)
    assert text[["row", "text"]].values.tolist() == [
        # the change's features point up (+0.46): the low level pulls row 0 down
        [0, "Searches averaged 18 over the last 3 months, the lowest of all rows."],
        # row 1 is pulled down by a change of 0: no reason at all
        [2, "Searches averaged 50 over the last 3 months, the highest of all rows."],
        # a count with window sums says totals: means 25 -> 20 are 75 -> 60 over 3 months
        [3, "Searches fell from 75 to 60 (-20%) in the last 3 months against the 3 before."],
    ]
    assert text["features"].tolist() == [
        "searches_mean_3m,searches_sum_12m",
        "searches_mean_3m,searches_sum_12m",
        "searches_mean_prev_3m,searches_slope_6m",
    ]


def _windowed() -> pd.DataFrame:
    """WindowFeatures-like columns: a count (hires) with sums and means, a rate (seat
    utilization) with means and sums of its monthly values, and the contract's units."""
    return pd.DataFrame(
        {
            "hires_sum_3m": [0.0, 12, 6, 30],
            "hires_mean_3m": [0.0, 4, 2, 10],
            "hires_mean_prev_3m": [1 / 3, 4, 1, 5],
            "hires_slope_3m": [-0.5, 0, 0.5, 2],
            "seat_utilization_mean_3m": [0.96, 0.5, 0.8, 0.9],
            "seat_utilization_mean_prev_3m": [0.97, 0.4, 0.6, 0.9],
            "seat_utilization_sum_3m": [2.88, 1.5, 2.4, 2.7],
            "units_under_contract": [29.0, 4, 12, 40],
        },
        index=pd.Index(["a", "b", "c", "d"], name="account_id"),
    )


def test_a_level_and_a_change_per_windowed_metric_in_its_unit():
    X = _windowed()
    design = suggest_design(_model(X), X, peers="accounts")
    got = design.features.set_index("feature")[["super_feature", "insight", "unit", "noun"]]
    assert got.values.tolist() == [
        ["Hires", "count_hires_3_months", "count", "hires"],
        ["Hires", "count_hires_3_months", "count", "hires"],
        ["Hires", "change_3_months_total", "count", "hires"],
        ["Hires", "change_3_months_total", "count", "hires"],
        ["Seat utilization", "average_3_months", "rate", ""],
        ["Seat utilization", "change_3_months_rate", "rate", ""],
        ["Seat utilization", "average_3_months", "rate", ""],  # a sum of rates is no level
        ["Units under contract", "count_units_under_contract", "count", "units under contract"],
    ]
    items = [tuple(r) for r in design.insights.itertuples(index=False)]
    assert items == [
        ("Hires", "count_hires_3_months", "value", "hires_sum_3m"),  # a count's level is its sum
        ("Hires", "change_3_months_total", "prev_value", "hires_mean_prev_3m"),
        ("Hires", "change_3_months_total", "current_value", "hires_mean_3m"),
        ("Seat utilization", "average_3_months", "value", "seat_utilization_mean_3m"),
        ("Seat utilization", "change_3_months_rate", "prev_value", "seat_utilization_mean_prev_3m"),
        ("Seat utilization", "change_3_months_rate", "current_value", "seat_utilization_mean_3m"),
        ("Units under contract", "count_units_under_contract", "value", "units_under_contract"),
    ]
    assert design.templates["settings"] == {"peers": "accounts"}
    assert design.templates["count_hires_3_months"]["text"] == (
        "{value} {one:hires/hires/hire} in the last 3 months, {context}."  # "1 hire"
    )
    assert design.templates["change_3_months_total"]["derive"] == {
        "prev_total": "prev_value * 3",
        "current_total": "current_value * 3",
        "change": "(current_value - prev_value) / abs(prev_value)",
    }


def test_rates_read_as_percentages_and_counts_as_whole_numbers_with_their_noun(tmp_path):
    from lumos.explain import Attributions, InsightsDesign, audit, narrate

    X = _windowed()
    design = InsightsDesign.load(
        suggest_design(_model(X), X, peers="accounts").write(tmp_path / "d")
    )
    values = np.array(
        [
            [0.0, 0.0, -0.6, -0.1, -1.0, 0.0, 0.0, 0.2],  # pulled down by its hires' fall
            [0.5, 0.1, 0.0, 0.0, -2.0, 0.3, 0.0, -0.1],  # by low utilization; its rise pulls up
            [0.0, 0.0, 0.4, 0.0, 0.0, 0.9, 0.0, 0.0],  # both rose
            [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3],
        ]
    )
    attr = Attributions(values, np.zeros(4), list(X.columns), "test", "margin", X.index)
    out = narrate(X, attr, design)
    assert out.groupby("row")["text"].apply(list).to_dict() == {
        # the mean hires went from 1/3 to 0 a month: said as totals over the window
        "a": [
            "Seat utilization averaged 96% over the last 3 months, the highest of all accounts.",
            "Hires fell from 1 to 0 (-100%) in the last 3 months against the 3 before.",
        ],
        "b": ["Seat utilization averaged 50% over the last 3 months, the lowest of all accounts."],
        "c": [
            "Seat utilization rose from 60% to 80% in the last 3 months against the 3 before.",
            "Hires rose from 3 to 6 (+100%) in the last 3 months against the 3 before.",
        ],
        "d": [
            "30 hires in the last 3 months, the highest of all accounts.",
            "40 units under contract, the highest of all accounts.",
        ],
    }
    found = audit(out, attr, design, data=X)
    assert found.counts["incoherent"] == found.counts["immaterial"] == 0
    assert found.counts["unreadable"] == 0 and found.context_share == 1.0


def test_peers_and_segment_go_into_the_settings(tmp_path):
    from lumos.explain import InsightsDesign

    X = _windowed().assign(industry=["Software", "Retail", "Software", "Retail"])
    model = _model(X.drop(columns="industry"))
    design = suggest_design(model, X, peers="accounts", segment="industry")
    assert design.templates["settings"] == {"peers": "accounts", "segment": "industry"}
    loaded = InsightsDesign.load(design.write(tmp_path / "d"))
    assert loaded.settings.segment == "industry" and loaded.settings.peers == "accounts"
    with pytest.raises(DataValidationError, match="'region'") as err:
        suggest_design(model, X, segment="region")
    assert err.value.code == "missing_column"
    with pytest.raises(LumosUserError, match="peers") as err:
        suggest_design(model, X, peers=" ")
    assert err.value.code == "bad_argument"


def _book(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Accounts with window features of two usage metrics, a flag and the contract; the
    target moves with utilization's level, hires' change and the units held."""
    rng = np.random.default_rng(seed)
    health = rng.normal(size=n)
    util_prev = np.clip(0.6 + 0.15 * rng.normal(size=n), 0.02, 1)
    util = np.clip(util_prev + 0.1 * health + 0.05 * rng.normal(size=n), 0.02, 1)
    hires = rng.poisson(np.exp(1 + 0.4 * health)[:, None], (n, 6)).astype(float)
    units = rng.integers(1, 60, n).astype(float)
    X = pd.DataFrame(
        {
            "seat_utilization_mean_3m": util,
            "seat_utilization_mean_prev_3m": util_prev,
            "hires_sum_3m": hires[:, 3:].sum(1),
            "hires_mean_3m": hires[:, 3:].mean(1),
            "hires_mean_prev_3m": hires[:, :3].mean(1),
            "has_premium": rng.integers(0, 2, n).astype(float),
            "units_under_contract": units,
        }
    )
    y = 8 * util + 0.5 * (hires[:, 3:].sum(1) - hires[:, :3].sum(1)) + 0.05 * units
    return X, y + rng.normal(0, 0.5, n)


def test_a_suggested_design_passes_the_audit_on_a_fitted_model(tmp_path):
    from lumos.explain import InsightsDesign, explain_table

    X, y = _book()
    model = xgb.XGBRegressor(n_estimators=60, max_depth=3, n_jobs=1).fit(X, y)
    design = InsightsDesign.load(
        suggest_design(model, X, peers="accounts").write(tmp_path / "design")
    )
    done = explain_table(import_model(model), X, design, audit=True)
    counts = done.audit.counts
    assert counts["incoherent"] == 0 and counts["immaterial"] == 0 and counts["unreadable"] == 0
    assert counts["changes"] > 50 and counts["levels"] > 50  # both kinds are said
    assert done.audit.context_share >= 0.95
    text = " ".join(done.narratives["text"])
    assert "Has premium: " in text and " hires in the last 3 months, " in text
    assert not any(c in text for c in ("0.5", "0.6", "0.7"))  # rates read as percentages


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes"])
def test_public_tables_get_families_acronyms_and_an_audit_that_passes(name, tmp_path):
    from sklearn import datasets

    from lumos.explain import InsightsDesign, explain_table

    table = getattr(datasets, f"load_{name}")(as_frame=True)
    X = table.data
    if name == "breast_cancer":
        model = xgb.XGBClassifier(n_estimators=30, n_jobs=1).fit(X, table.target)
        families = {
            "Radius",
            "Texture",
            "Perimeter",
            "Area",
            "Smoothness",
            "Compactness",
            "Concavity",
            "Concave points",
            "Symmetry",
            "Fractal dimension",
        }
    else:
        model = xgb.XGBRegressor(n_estimators=30, n_jobs=1).fit(X, table.target)
        families = {"Age", "Sex", "BMI", "BP", "S1–S6"}
    suggested = suggest_design(model, X, peers="patients")
    assert set(suggested.features["category"]) == families  # never "Worst", "Mean" or "Error"
    if name == "diabetes":
        assert suggested.features.set_index("feature").loc["bmi", "super_feature"] == "BMI"
    design = InsightsDesign.load(suggested.write(tmp_path / "design"))
    done = explain_table(import_model(model), X, design, audit=True)
    counts = done.audit.counts
    assert counts["incoherent"] == counts["immaterial"] == counts["unreadable"] == 0
    assert done.audit.context_share >= 0.95


def test_an_insight_type_names_everything_its_text_depends_on():
    rng = np.random.default_rng(0)
    cols = ["a_mean_3m", "a_mean_12m", "b_3m", "b_12m"]
    frame = pd.DataFrame({c: rng.normal(5, 1, 30) for c in cols})
    design = suggest_design(_model(frame), frame)
    texts = {k: v["text"] for k, v in design.templates.items() if k != "settings"}
    assert texts["trend_average_3_months_12_months"].startswith(
        "{super_feature} averaged {recent_value} over the last 3 months against"
    )
    assert texts["trend_3_months_12_months"].startswith(
        "{super_feature} came to {recent_value} over the last 3 months against"
    )
