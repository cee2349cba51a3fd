"""Lumos's batched LIME with Gaussian sampling: known slopes, reproducibility, NaN, errors
and the lime package in that mode."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from lumos.errors import LumosUserError
from lumos.explain import attribute
from lumos.explain._lime import lime_attributions


def piecewise(M, target=None):
    """3 x0 - 2 x1 + (4 x3 if x2 > 0 else -x3), one row at a time."""
    out = []
    for x0, x1, x2, x3 in M:
        out.append(3 * x0 - 2 * x1 + (4 * x3 if x2 > 0 else -x3))
    return np.array(out)


def linear(M, target=None):
    return 1.5 * M[:, 0] - 2.0 * M[:, 1] + 0.5 * M[:, 2]


@pytest.fixture
def background():
    return np.random.default_rng(0).normal(size=(500, 4))


def test_recovers_the_slopes_of_each_linear_piece(background):
    rows = np.array([[0.5, -0.3, 3.5, 0.2], [-1.0, 0.8, -3.5, 1.0], [0.0, 0.0, 4.0, -0.5]])
    truth = np.array([[3, -2, 0, 4], [3, -2, 0, -1], [3, -2, 0, 4]], dtype=float)
    values, base, details = lime_attributions(
        piecewise, rows, None, background=background, num_samples=2000, sampling="gaussian"
    )
    np.testing.assert_allclose(details["coef"], truth, atol=0.15)
    np.testing.assert_allclose(values.sum(1) + base, piecewise(rows), atol=0.1)
    assert np.all(details["local_r2"] > 0.99)
    np.testing.assert_allclose(details["intercept"], base)
    np.testing.assert_allclose(details["coef_scaled"], details["coef"] * details["scale"])


def test_values_are_scaled_coefficients_times_centred_scaled_features(background):
    rows = background[:5]
    values, _, details = lime_attributions(
        linear, rows, background=background, num_samples=300, sampling="gaussian"
    )
    u = (rows - details["mean"]) / details["scale"]
    np.testing.assert_allclose(values, details["coef_scaled"] * u)
    np.testing.assert_allclose(details["mean"], background.mean(0))
    np.testing.assert_allclose(details["scale"], background.std(0))


def test_matches_a_weighted_ridge_fit_of_the_same_perturbations(background):
    x = background[7]
    _, base, details = lime_attributions(
        piecewise,
        x[None],
        background=background,
        random_state=3,
        num_samples=400,
        sampling="gaussian",
    )
    mean, scale = background.mean(0), background.std(0)
    Z = np.random.default_rng(3).standard_normal((400, 4))
    Z[0] = 0.0
    weights = np.sqrt(np.exp(-(Z**2).sum(1) / (0.75 * 2) ** 2))
    perturbed = x + Z * scale
    ridge = Ridge(alpha=1.0).fit((perturbed - mean) / scale, piecewise(perturbed), weights)
    np.testing.assert_allclose(details["coef_scaled"][0], ridge.coef_, atol=1e-10)
    np.testing.assert_allclose(base[0], ridge.intercept_, atol=1e-10)
    r2 = ridge.score((perturbed - mean) / scale, piecewise(perturbed), weights)
    np.testing.assert_allclose(details["local_r2"][0], r2, atol=1e-10)


def test_same_seed_same_result_and_a_row_alone_equals_the_row_in_a_batch(background):
    X = background[:9]
    first = lime_attributions(
        piecewise, X, background=background, num_samples=500, batch_size=4, sampling="gaussian"
    )
    again = lime_attributions(
        piecewise, X, background=background, num_samples=500, sampling="gaussian"
    )
    alone = lime_attributions(
        piecewise, X[5:6], background=background, num_samples=500, sampling="gaussian"
    )
    for a, b in [(first[0], again[0]), (first[1], again[1])]:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(alone[0][0], first[0][5], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(alone[1][0], first[1][5], rtol=1e-10, atol=1e-12)
    other = lime_attributions(
        piecewise, X, background=background, num_samples=500, random_state=1, sampling="gaussian"
    )
    assert not np.allclose(other[0], first[0])


def test_nan_features_stay_missing_and_get_no_attribution(background):
    seen = []

    def f(M, target=None):
        seen.append(np.isnan(M[:, 1]).mean())
        return 2.0 * M[:, 0] - 3.0 * np.nan_to_num(M[:, 1]) + M[:, 2]

    rows = np.array([[0.5, np.nan, 1.0, 0.0], [0.5, 1.0, 1.0, 0.0]])
    values, base, details = lime_attributions(
        f, rows, background=background, num_samples=500, batch_size=1, sampling="gaussian"
    )
    assert seen[0] == 1.0 and seen[1] == 0.0
    assert values[0, 1] == 0.0 and details["coef"][0, 1] == 0.0
    np.testing.assert_allclose(details["coef"][0], [2, 0, 1, 0], atol=0.02)
    np.testing.assert_allclose(details["coef"][1], [2, -3, 1, 0], atol=0.02)
    np.testing.assert_allclose(values.sum(1) + base, f(rows), atol=0.02)


def test_nan_in_background_is_ignored_and_constant_features_get_scale_one():
    bg = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, np.nan], [np.nan, 5.0, np.nan]])
    _, _, details = lime_attributions(
        linear, bg, background=bg, num_samples=50, sampling="gaussian"
    )
    np.testing.assert_allclose(details["mean"], [2.0, 5.0, 0.0])
    np.testing.assert_allclose(details["scale"], [1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"num_samples": -1}, "'num_samples'"),
        ({"num_samples": 4}, "'num_samples'"),
        ({"num_samples": 100.0}, "'num_samples'"),
        ({"alpha": -1.0}, "'alpha'"),
        ({"kernel_width": 0.0}, "'kernel_width'"),
        ({"batch_size": 0}, "'batch_size'"),
    ],
)
def test_bad_arguments_raise_a_user_error(background, options, name):
    with pytest.raises(LumosUserError, match=name) as err:
        lime_attributions(linear, background[:2], **options)
    assert err.value.code == "bad_argument"
    assert "Got" in err.value.message


def test_bad_target_and_bad_model_output_raise(background):
    with pytest.raises(LumosUserError, match="target") as err:
        lime_attributions(linear, background[:2], np.array([0.5, 1.0]), num_samples=50)
    assert err.value.code == "bad_argument"
    with pytest.raises(LumosUserError, match="one output per row") as err:
        lime_attributions(lambda M, t: M[:2, 0], background[:2], num_samples=50)
    assert err.value.code == "bad_model_output"


def test_attribute_with_lime_recovers_a_linear_model_and_each_rows_class():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    lr = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5] + 3.0)
    attr = attribute(lr, X[:4], method="lime", background=X, num_samples=400, sampling="gaussian")
    assert attr.method == "lime"
    np.testing.assert_allclose(attr.details["coef"], np.tile(lr.coef_, (4, 1)), rtol=0.02)
    np.testing.assert_allclose(attr.values.sum(1) + attr.base, lr.predict(X[:4]), atol=0.05)

    labels = np.argmax(X @ rng.normal(size=(3, 3)), axis=1)
    clf = LogisticRegression().fit(X, labels)
    attr = attribute(
        clf, X[:4], method="lime", target=2, background=X, num_samples=400, sampling="gaussian"
    )
    np.testing.assert_allclose(attr.details["coef"], np.tile(clf.coef_[2], (4, 1)), rtol=0.02)


def test_gaussian_top_features_agree_with_the_lime_package_in_that_mode():
    lime_tabular = pytest.importorskip("lime.lime_tabular")
    rng = np.random.default_rng(2)
    p = 30
    scale = rng.uniform(0.5, 3.0, size=p)
    train = rng.normal(size=(1000, p)) * scale + rng.normal(size=p)
    strength = np.r_[np.linspace(3.0, 10.0, 10), np.linspace(0.05, 1.5, 20)]
    strength = rng.permutation(strength * rng.choice([-1.0, 1.0], size=p))
    weights = strength / scale  # varied slopes; |slope * std| ranks the features

    def predict(M, target=None):
        return M @ weights

    mean, sd = train.mean(0), train.std(0)
    rows = mean + sd * rng.uniform(0.9, 1.5, size=(3, p)) * rng.choice([-1.0, 1.0], size=(3, p))
    _, _, details = lime_attributions(
        predict, rows, background=train, num_samples=5000, sampling="gaussian"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = lime_tabular.LimeTabularExplainer(
            train,
            mode="regression",
            discretize_continuous=False,
            sample_around_instance=True,
            random_state=0,
        )
        explanations = [
            explainer.explain_instance(x, predict, num_features=10, num_samples=5000) for x in rows
        ]
    # in regression mode lime keeps the fitted coefficients under label 1 (label 0 negates them)
    theirs = [dict(e.local_exp[1]) for e in explanations]
    for ours, their in zip(details["coef_scaled"], theirs, strict=True):
        top = set(np.argsort(-np.abs(ours))[:10].tolist())
        assert len(top & set(their)) / len(top | set(their)) >= 0.8
        common = sorted(top & set(their))
        np.testing.assert_allclose(ours[common], [their[j] for j in common], rtol=0.1)


def test_seed_is_the_older_name_of_random_state(background):
    X = background[:3]
    new = lime_attributions(
        piecewise, X, background=background, num_samples=200, random_state=6, sampling="gaussian"
    )
    with pytest.warns(DeprecationWarning, match="lime_attributions's 'seed' is now 'random_state'"):
        old = lime_attributions(
            piecewise, X, background=background, num_samples=200, seed=6, sampling="gaussian"
        )
    np.testing.assert_array_equal(old[0], new[0])
