"""PropensityModel on the demo book: time-based split, planted drivers, errors."""

import numpy as np
import pandas as pd
import pytest

from lumos.data.demo import saas
from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate import propensity_report
from lumos.explain import attribute, import_model
from lumos.features import renewal_labels
from lumos.models import PropensityModel


@pytest.fixture(scope="module")
def training():
    """Closed account labels with 3-month usage means from before each cutoff, and noise."""
    book = saas(700, months=36, random_state=4)
    labels = renewal_labels(book.contracts, as_of=book.end)
    labels = labels[labels["closed"]].reset_index(drop=True)
    monthly = book.usage.groupby(["account_id", "month", "metric"])["value"].sum().unstack()
    rows = []
    for lag in (1, 2, 3):  # the three months before the cutoff
        month = labels["cutoff"] - pd.DateOffset(months=lag)
        keys = pd.MultiIndex.from_arrays([labels["account_id"], month])
        rows.append(monthly.reindex(keys).to_numpy())
    X = pd.DataFrame(np.nanmean(np.stack(rows), axis=0), columns=monthly.columns)
    X["noise"] = np.random.default_rng(0).normal(size=len(X))
    return X, labels


def test_time_based_split_and_planted_drivers(training):
    X, labels = training
    model = PropensityModel(n_estimators=200, max_depth=4).fit(
        X, labels["change"], cutoff=labels["cutoff"]
    )
    assert model.train_cutoffs_.max() < model.validation_cutoffs_.min()
    assert len(model.validation_cutoffs_) == 3
    valid = model.validation_["index"]
    report = propensity_report(labels.loc[valid, "change"], model.validation_["prediction"])
    assert report.loc["all", "upsell_roc_auc"] > 0.6
    attr = attribute(import_model(model.booster_), X.iloc[:2000])
    importance = pd.Series(np.abs(attr.values).mean(0), index=attr.feature_names)
    assert importance["seat_utilization"] > 3 * importance["noise"]
    # more utilization pushes the predicted change up
    util = X["seat_utilization"].iloc[:2000].to_numpy()
    ok = ~np.isnan(util)
    assert (
        np.corrcoef(util[ok], attr.values[ok, list(X.columns).index("seat_utilization")])[0, 1] > 0
    )


def test_errors(training):
    X, labels = training
    with pytest.raises(LumosUserError, match="not fitted"):
        PropensityModel().predict(X)
    with pytest.raises(LumosUserError, match="'max_depth' parameter of PropensityModel"):
        PropensityModel(max_depth=0).fit(X, labels["change"], cutoff=labels["cutoff"])
    one_month = np.full(len(X), np.datetime64("2025-01-01"))
    with pytest.raises(DataValidationError, match="time-based split") as err:
        PropensityModel().fit(X, labels["change"], cutoff=one_month)
    assert err.value.code == "too_few_cutoffs"
    model = PropensityModel(n_estimators=5).fit(X, labels["change"], cutoff=labels["cutoff"])
    with pytest.raises(DataValidationError, match="'noise'"):
        model.predict(X.drop(columns="noise"))
    with pytest.raises(DataValidationError, match="not numeric"):
        model.predict(X.assign(noise="x"))


def test_report_per_group_and_errors():
    report = propensity_report([1, -1, 2, -2], [1, -1, -1, -2], groups=["a", "a", "b", "b"])
    assert list(report.index) == ["all", "a", "b"]
    assert report.loc["a", "upsell_recall"] == 1 and report.loc["b", "upsell_recall"] == 0
    with pytest.raises(LumosUserError):
        propensity_report([1, 2], [1])


def test_binary_objective_predicts_probabilities(training):
    X, labels = training
    upsell = (labels["label"] == "upsell").to_numpy(float)
    model = PropensityModel(objective="binary:logistic", n_estimators=30)
    proba = model.fit(X, upsell, cutoff=labels["cutoff"]).predict(X)
    assert ((proba > 0) & (proba < 1)).all()
    with pytest.raises(LumosUserError, match="'objective' parameter"):
        PropensityModel(objective="rank:pairwise").fit(X, upsell, cutoff=labels["cutoff"])


def test_predict_class_needs_a_regression(training):
    X, labels = training
    upsell = (labels["label"] == "upsell").to_numpy(float)
    model = PropensityModel(objective="binary:logistic", n_estimators=5)
    model.fit(X, upsell, cutoff=labels["cutoff"])
    with pytest.raises(LumosUserError, match="Threshold predict"):
        model.predict_class(X)
