"""LIME in the lime package's default mode: lime's estimator per row, agreement, errors."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from lumos.errors import LumosUserError
from lumos.explain import attribute
from lumos.explain._lime import lime_attributions
from lumos.explain._lime_quartile import _Bins


def model(M, target=None):
    """A clear ranking: x0 strongest, then the step in x1, then x2; x3 barely, x4 not."""
    x3 = np.nan_to_num(M[:, 3])
    return 4.0 * M[:, 0] - 2.0 * (M[:, 1] > 0) + 0.8 * np.sin(M[:, 2]) + 0.05 * x3


@pytest.fixture
def train():
    return np.random.default_rng(0).normal(size=(2000, 5))


def _design(train, x, num_samples, random_state):
    """The same perturbations built one row at a time, as lime builds them."""
    bins = _Bins(train)
    sample_bins, samples = bins.sample(num_samples - 1, np.random.default_rng(random_state))
    present = ~np.isnan(x)
    D = np.vstack([np.ones(len(x)), sample_bins == bins.of(x[None])[0]])[:, present]
    weights = np.sqrt(np.exp(-(1.0 - D).sum(1) / (0.75 * np.sqrt(len(x))) ** 2))
    y = np.r_[model(x[None]), model(samples)]
    return D, y, weights, np.flatnonzero(present), samples


@pytest.mark.parametrize("selection", ["none", "highest_weights", "forward_selection"])
def test_each_row_is_lime_s_ridge_on_its_binary_design(train, selection):
    rows = train[:4].copy()
    rows[1, 3] = np.nan
    values, base, details = lime_attributions(
        model,
        rows,
        background=train,
        num_samples=700,
        num_features=3,
        feature_selection=selection,
        random_state=5,
    )
    np.testing.assert_array_equal(values, details["coef"])
    assert details["sampling"] == "quartile"
    for i, x in enumerate(rows):
        D, y, weights, cols, _ = _design(train, x, 700, 5)
        chosen = np.flatnonzero(details["selected"][i])
        assert len(chosen) == (len(cols) if selection == "none" else 3)
        X = D[:, np.searchsorted(cols, chosen)]
        ridge = Ridge(alpha=1.0).fit(X, y, sample_weight=weights)
        np.testing.assert_allclose(values[i, chosen], ridge.coef_, atol=1e-9)
        np.testing.assert_allclose(base[i], ridge.intercept_, atol=1e-9)
        np.testing.assert_allclose(details["local_r2"][i], ridge.score(X, y, weights), atol=1e-9)
        assert np.all(values[i, np.setdiff1d(np.arange(5), chosen)] == 0.0)
    assert values[1, 3] == 0.0 and details["bins"][1, 3] == -1


@pytest.mark.parametrize("selection", ["highest_weights", "forward_selection"])
def test_feature_selection_picks_what_lime_picks_on_the_same_design(train, selection):
    lime_base = pytest.importorskip("lime.lime_base")
    rows = train[10:14]
    _, _, details = lime_attributions(
        model,
        rows,
        background=train,
        num_samples=700,
        num_features=2,
        feature_selection=selection,
        random_state=2,
    )
    base = lime_base.LimeBase(lambda d: d)
    for i, x in enumerate(rows):
        D, y, weights, _, _ = _design(train, x, 700, 2)
        theirs = base.feature_selection(D, y, weights, 2, selection)
        assert set(theirs.tolist()) == set(np.flatnonzero(details["selected"][i]).tolist())


def test_samples_follow_the_training_distribution_bin_by_bin(train):
    bins = _Bins(train)
    sample_bins, samples = bins.sample(20_000, np.random.default_rng(0))
    np.testing.assert_array_equal(bins.of(samples), sample_bins)
    np.testing.assert_allclose(
        np.percentile(samples, [25, 50, 75], axis=0).T, bins.edges, atol=0.05
    )
    np.testing.assert_allclose((sample_bins == 0).mean(0), 0.25, atol=0.015)
    one_value = _Bins(np.array([[0.0], [0.0], [0.0], [1.0]]))
    _, drawn = one_value.sample(50, np.random.default_rng(0))
    assert set(np.unique(drawn)) <= {0.0, 1.0}  # a bin holding one value returns that value


def test_top_features_agree_with_the_lime_package_default_explainer(train):
    lime_tabular = pytest.importorskip("lime.lime_tabular")
    rows = train[20:26]
    attr_values, _, _ = lime_attributions(model, rows, background=train, num_features=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = lime_tabular.LimeTabularExplainer(train, mode="regression", random_state=0)
        theirs = [
            {j for j, _ in explainer.explain_instance(x, model, num_features=3).local_exp[1]}
            for x in rows
        ]
    ours = [set(np.flatnonzero(v).tolist()) for v in attr_values]
    assert ours == theirs
    assert all(s == {0, 1, 2} for s in ours)


def test_one_shared_sample_set_a_row_alone_equals_the_row_in_a_batch(train):
    calls = []

    def counted(M, target=None):
        calls.append(len(M))
        return model(M)

    X = train[:9]
    first = lime_attributions(counted, X, background=train, num_samples=500, batch_size=4)
    assert sorted(calls) == [9, 499]
    alone = lime_attributions(model, X[5:6], background=train, num_samples=500)
    np.testing.assert_allclose(alone[0][0], first[0][5], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(alone[1][0], first[1][5], rtol=1e-10, atol=1e-12)
    other = lime_attributions(model, X, background=train, num_samples=500, random_state=1)
    assert not np.allclose(other[0], first[0])


def test_attribute_defaults_to_quartile_lime_with_each_rows_class(train):
    from sklearn.linear_model import LogisticRegression

    labels = np.argmax(train[:, :3] * [3.0, 1.0, 1.0], axis=1)
    clf = LogisticRegression().fit(train, labels)
    rows = train[:6]
    attr = attribute(clf, rows, method="lime", background=train, num_samples=1000)
    assert attr.details["sampling"] == "quartile"
    assert attr.details["feature_selection"] == "highest_weights"
    assert len(set(clf.predict(rows))) > 1

    def margin(M, target):
        return np.take_along_axis(clf.decision_function(M), target[:, None], axis=1)[:, 0]

    values, base, _ = lime_attributions(
        margin, rows, clf.predict(rows), background=train, num_samples=1000
    )
    np.testing.assert_allclose(attr.values, values, atol=1e-12)
    np.testing.assert_allclose(attr.base, base, atol=1e-12)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"sampling": "normal"}, "'sampling' parameter of lime must be one of quartile, gaussian"),
        ({"feature_selection": "lasso_path"}, "'feature_selection' parameter of lime"),
        ({"num_features": 0}, "'num_features' parameter of lime must be an int >= 1"),
        ({"num_features": 3, "sampling": "gaussian"}, "applies to sampling='quartile' only"),
        ({"feature_selection": "none", "sampling": "gaussian"}, "drop it"),
    ],
)
def test_bad_options_raise_a_user_error(train, options, fragment):
    with pytest.raises(LumosUserError, match=fragment) as err:
        lime_attributions(model, train[:2], background=train, num_samples=50, **options)
    assert err.value.code == "bad_argument"
    assert "Got" in err.value.message
