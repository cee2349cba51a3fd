"""AccountPrioritizer on the demo book: models per level, planted drivers, scoring, errors."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from lumos.data.demo import saas
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import attribute
from lumos.recommend import AccountPrioritizer

AS_OF = pd.Timestamp("2025-07-01")


@pytest.fixture(scope="module")
def book():
    book = saas(500, months=30, random_state=3)
    rng = np.random.default_rng(0)
    noise = book.usage[book.usage["metric"] == "searches"].assign(
        metric="noise", value=lambda d: rng.normal(size=len(d))
    )  # a metric the hidden health does not drive
    usage = pd.concat([book.usage, noise], ignore_index=True)
    return book, usage


@pytest.fixture(scope="module")
def fitted(book):
    book, usage = book
    model = AccountPrioritizer(n_estimators=80, learning_rate=0.15, max_depth=4, n_jobs=2)
    return model.fit(book.contracts, usage, firmographics=book.firmographics, as_of=book.end)


def test_one_model_per_level_with_a_time_split(fitted):
    assert set(fitted.models_) == {
        "account",
        "product:jobs",
        "product:learning",
        "product:recruiter",
        "all_in",
    }
    for model in fitted.models_.values():
        assert model.train_cutoffs_.max() < model.validation_cutoffs_.min()
    report = fitted.report_
    assert report.loc["account", "upsell_roc_auc"] > 0.75
    assert report.loc["account", "churn_roc_auc"] > 0.75
    assert report.loc["all_in", "all_in_roc_auc"] > 0.7


def test_model_finds_the_planted_drivers(book, fitted):
    book, usage = book
    scores = fitted.score(book.contracts, usage, firmographics=book.firmographics, as_of=AS_OF)
    accounts = scores[scores["product"].isna()]
    health = book.health[book.health["month"] == AS_OF - pd.DateOffset(months=2)]
    truth = accounts["account_id"].map(health.set_index("account_id")["health"])
    assert spearmanr(accounts["score"], truth).statistic > 0.4
    # the noise metric matters far less than seat utilization, which pushes the change up
    model = fitted.models_["account"]
    rows = fitted.features(book.contracts, usage, firmographics=book.firmographics, as_of=AS_OF)
    attr = attribute(model.booster_, rows[fitted.feature_names_["account"]], method="tree_shap")
    size = pd.Series(np.abs(attr.values).mean(0), index=attr.feature_names)
    metric = size.groupby(lambda f: f.split("_")[0]).sum()
    assert metric["seat"] > 5 * metric["noise"]
    j = attr.feature_names.index("seat_utilization_mean_3m")
    x = rows["seat_utilization_mean_3m"].to_numpy()
    assert np.corrcoef(x, attr.values[:, j])[0, 1] > 0.3


def test_scores_one_row_per_account_and_product_with_reasons(book, fitted):
    book, usage = book
    table, text = fitted.score(
        book.contracts, usage, firmographics=book.firmographics, as_of=AS_OF, narratives=True
    )
    held = book.contracts[(book.contracts["start"] <= AS_OF) & (book.contracts["end"] > AS_OF)]
    products = table[table["product"].notna()]
    assert set(zip(products["account_id"], products["product"], strict=True)) <= set(
        zip(held["account_id"], held["product"], strict=True)
    )
    assert table["account_id"].nunique() == (table["product"].isna()).sum()
    assert not table.duplicated(["account_id", "product"]).any()
    change = table["predicted_change"]
    expected = np.where(change > 0.5, "upsell", np.where(change < -0.5, "churn", "flat"))
    assert (table["class"] == expected).all()
    assert np.allclose(table["score"], change / table["units"].clip(lower=1))
    assert (table[["why_usage", "why_company", "why_contract"]] != "").any(axis=1).all()
    assert table["all_in_probability"].between(0, 1).sum() > 0
    assert table.loc[table["product"].notna(), "all_in_probability"].isna().all()
    assert " in the last 3 months against the 3 before." in " ".join(text["text"])
    first = table.iloc[0]
    mine = text[text["row"] == first["account_id"]]
    for category, column in (("Usage", "why_usage"), ("Company", "why_company")):
        assert " ".join(mine.loc[mine["category"] == category, "text"]) == first[column]


def test_scores_read_nothing_after_the_as_of_date(book, fitted):
    book, usage = book
    before = fitted.score(book.contracts, usage, firmographics=book.firmographics, as_of=AS_OF)
    later = usage["month"] >= AS_OF - pd.DateOffset(months=fitted.lead_months)
    usage = usage.assign(value=usage["value"].where(~later, 1e6))
    contracts = book.contracts.copy()
    contracts.loc[contracts["start"] > AS_OF, "quantity"] = 999
    firmo = book.firmographics.copy()
    firmo.loc[firmo["month"] >= AS_OF, ["employees", "hiring"]] = 0.0
    after = fitted.score(contracts, usage, firmographics=firmo, as_of=AS_OF)
    pd.testing.assert_frame_equal(before, after)


def test_last_month_is_the_score_a_month_before(book, fitted):
    book, usage = book
    kw = dict(firmographics=book.firmographics)
    now = fitted.score(book.contracts, usage, as_of=AS_OF, last_month=True, **kw)
    before = fitted.score(book.contracts, usage, as_of=AS_OF - pd.DateOffset(months=1), **kw)
    keys = ["account_id", "product"]
    want = now[keys].merge(before[[*keys, "score"]], on=keys, how="left")["score"]
    np.testing.assert_array_equal(now["score_last_month"].to_numpy(), want.to_numpy())
    assert now["score_last_month"].notna().mean() > 0.8
    assert (now["score_last_month"] != now["score"]).any()


def test_save_and_load_score_the_same(book, fitted, tmp_path):
    book, usage = book
    folder = fitted.save(tmp_path / "model")
    assert (folder / "designs" / "account" / "templates.yaml").exists()
    again = AccountPrioritizer.load(folder)
    args = (book.contracts, usage)
    pd.testing.assert_frame_equal(
        fitted.score(*args, firmographics=book.firmographics, as_of=AS_OF),
        again.score(*args, firmographics=book.firmographics, as_of=AS_OF),
    )
    with pytest.raises(LumosUserError, match="not empty") as err:
        fitted.save(folder)
    assert err.value.code == "exists"
    (folder / "prioritizer.json").write_text("{not json")
    with pytest.raises(DataValidationError, match="not a saved AccountPrioritizer"):
        AccountPrioritizer.load(folder)
    assert (folder / "models" / "account.json").exists()  # a failed load changes nothing


def test_errors(book, fitted):
    book, usage = book
    with pytest.raises(LumosUserError, match="not fitted"):
        AccountPrioritizer().score(book.contracts, usage, as_of=AS_OF)
    with pytest.raises(LumosUserError, match="first day of a month"):
        fitted.score(book.contracts, usage, firmographics=book.firmographics, as_of="2025-07-15")
    with pytest.raises(DataValidationError, match="No account is under contract"):
        fitted.score(book.contracts, usage, firmographics=book.firmographics, as_of="2010-01-01")
    bad = book.contracts.copy()
    bad.loc[3, "end"] = bad.loc[3, "start"] - pd.Timedelta(days=31)
    with pytest.raises(DataValidationError, match="contracts row 3") as err:
        AccountPrioritizer().fit(bad, usage)
    assert err.value.column == "end"
    with pytest.raises(DataValidationError, match="usage table has no column 'metric'"):
        AccountPrioritizer().fit(book.contracts, usage.drop(columns="metric"))
    with pytest.raises(LumosUserError, match="'top_k' parameter"):
        AccountPrioritizer(top_k=0).fit(book.contracts, usage)
    young = book.contracts[book.contracts["start"] < "2023-06-01"]
    with pytest.raises(DataValidationError, match="no renewal before"):
        AccountPrioritizer().fit(young, usage, as_of="2023-06-01")


def test_is_a_scikit_learn_estimator():
    from sklearn.base import clone

    from lumos.features import WindowFeatures

    spec = WindowFeatures(windows=(3,))
    model = AccountPrioritizer(top_k=5, usage_features=spec)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert copy.usage_features == spec and copy.top_k == 5
    assert repr(AccountPrioritizer()) == "AccountPrioritizer()"
    assert repr(AccountPrioritizer(top_k=5)) == "AccountPrioritizer(top_k=5)"


def test_narratives_state_facts_rates_and_levels_and_pass_the_audit(book, fitted):
    from lumos.explain import audit

    book, usage = book
    kw = dict(firmographics=book.firmographics, as_of=AS_OF)
    table, text = fitted.score(book.contracts, usage, narratives=True, **kw)
    said = text["text"]
    assert not said.str.contains(r"\bis -?[\d,.]+\.$").any()  # no fact without meaning
    rates = said[text["super_feature"].isin(["Seat utilization", "Response rate"])]
    assert len(rates) > 100 and rates.str.contains(r"\d%").all()
    assert not rates.str.contains(r"(?<![\d.])0\.\d").any()  # never 0.96
    contract = said[text["category"] == "Contract"]
    facts = (
        r"Renewal in \d+ months?\.",
        r"Month \d+ of a 12-month contract\.",
        r"Holds [123] of 3 products\.",
        r"[\d,]+ units? under contract, (higher|lower) than \d+% of accounts\.",
        r"[\d,]+ units? under contract, the (highest|lowest) of all accounts\.",
        r"[\d,]+ units? under contract, the same as (the other|\d+% of) accounts\.",
        r"[\d,]+ units? under contract, near the middle of all accounts\.",
        r"[\d,]+ units? under contract, tied with \d+% of accounts for the (highest|lowest)\.",
    )
    assert contract.str.fullmatch("|".join(facts)).all(), contract.unique()[:10]
    assert contract.str.startswith("Holds").any() and contract.str.startswith("Month").any()
    hires = said[said.str.contains("^Hires (?:rose|fell)")]
    assert hires.str.fullmatch(r"Hires (rose|fell) from [\d,]+ to [\d,]+ \(.*").all()  # totals
    # upsells by what pushes up, churn risks by what pulls down; coherent and in context
    rows = fitted.features(book.contracts, usage, **kw).set_index("account_id")
    names = fitted.feature_names_["account"]
    attr = attribute(fitted.models_["account"].booster_, rows[names], method="tree_shap")
    mine = text[text["row"].isin(rows.index)]
    found = audit(mine, attr, fitted.designs_["account"], data=rows)
    assert found.counts["incoherent"] == found.counts["immaterial"] == 0
    assert found.counts["unreadable"] == 0 and found.context_share >= 0.95
    accounts = table[table["product"].isna()].set_index("account_id")
    change = accounts.loc[mine["row"], "predicted_change"].to_numpy()
    assert ((mine["direction"] == "positive") == (change >= 0)).all()
    # a level stands beside every account scored, upsell or churn risk alike
    levels = mine[mine["reference"].notna() & ~mine["features"].str.contains(",")]
    assert levels["direction"].nunique() == 2 and len(levels) > 100
    for feature, said in levels.groupby("features"):
        every = rows[feature].dropna().to_numpy(np.float64)
        mine_ = rows.loc[said["row"], feature].to_numpy(np.float64)
        below = (every[None, :] < mine_[:, None]).mean(axis=1)
        np.testing.assert_allclose(said["reference"].to_numpy(np.float64), below, err_msg=feature)


def test_headlines_say_what_the_change_means_at_the_renewal(book, fitted):
    book, usage = book
    table = fitted.score(book.contracts, usage, firmographics=book.firmographics, as_of=AS_OF)
    assert list(table.columns[:10]) == [
        "account_id",
        "product",
        "as_of",
        "renewal",
        "units",
        "predicted_change",
        "score",
        "class",
        "headline",
        "all_in_probability",
    ]
    for row in table.itertuples():
        when, held = f"{row.renewal:%b %Y}", f"{row.units:,.0f}"
        about = max(abs(round(row.predicted_change)), 1)
        moved = f"{about:,} unit{'s' if about != 1 else ''}"
        expected = {
            "upsell": f"Likely to add about {moved} by the {when} renewal (of {held})",
            "churn": f"At risk of losing about {moved} at the {when} renewal (of {held})",
            "flat": f"Likely to renew at about its {held} unit{'s' if row.units != 1 else ''} "
            f"in {when}",
        }[row._8]
        assert row.headline == expected
    assert set(table["class"]) == {"upsell", "flat", "churn"}
