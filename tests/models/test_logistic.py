"""LogisticRegression: known answers, the gradient against finite differences, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression as SklearnLR
from sklearn.utils.estimator_checks import parametrize_with_checks

from lumos.errors import DataValidationError, LumosUserError
from lumos.models import LogisticRegression
from lumos.models.solvers import logistic_loss_grad


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, 4))
    offset = rng.normal(size=800)
    z = X @ [1.5, -1.0, 0.0, 0.5] - 0.3 + offset
    y = (rng.random(800) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y, offset


@parametrize_with_checks([LogisticRegression()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_matches_finite_differences(data, fit_intercept):
    X, y, offset = data
    rng = np.random.default_rng(0)
    params = rng.normal(size=X.shape[1] + fit_intercept)
    prior = rng.normal(size=params.shape)
    kw = dict(
        offset=offset,
        sample_weight=rng.uniform(0.5, 2.0, len(y)),
        l2=2.5,
        intercept_l2=0.3,
        prior=prior,
        fit_intercept=fit_intercept,
    )
    _, grad = logistic_loss_grad(params, X, y, **kw)
    eps = 1e-6
    numeric = np.array(
        [
            (
                logistic_loss_grad(params + eps * e, X, y, **kw)[0]
                - logistic_loss_grad(params - eps * e, X, y, **kw)[0]
            )
            / (2 * eps)
            for e in np.eye(len(params))
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-5)


def test_matches_scikit_learn_when_the_intercept_is_free(data):
    X, y, _ = data
    ours = LogisticRegression(l2=2.0, intercept_l2=0.0, tol=1e-10).fit(X, y)
    theirs = SklearnLR(C=0.5, tol=1e-10).fit(X, y)  # C = 1 / l2 on the summed loss
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-6)


def test_solvers_and_sparse_input_agree(data):
    X, y, offset = data
    dense = LogisticRegression(tol=1e-10).fit(X, y, offset=offset)
    newton = LogisticRegression(solver="newton", tol=1e-10).fit(X, y, offset=offset)
    sparse = LogisticRegression(solver="newton").fit(sp.csr_matrix(X), y, offset=offset)
    np.testing.assert_allclose(newton.coef_, dense.coef_, atol=1e-5)
    np.testing.assert_allclose(sparse.coef_, newton.coef_, atol=1e-8)
    np.testing.assert_allclose(
        sparse.decision_function(sp.csr_matrix(X), offset), newton.decision_function(X, offset)
    )


def test_offset_is_a_known_part_of_the_score(data):
    X, y, offset = data
    model = LogisticRegression(l2=1e-3, intercept_l2=0.0).fit(X, y, offset=offset)
    np.testing.assert_allclose(model.coef_[0], [1.5, -1.0, 0.0, 0.5], atol=0.25)
    with_offset = model.predict_proba(X, offset=offset)[:, 1]
    assert with_offset.shape == (800,)
    assert not np.allclose(with_offset, model.predict_proba(X)[:, 1])


def test_one_class_keeps_a_finite_intercept():
    X = np.zeros((30, 1))
    model = LogisticRegression().fit(X, np.ones(30, dtype=int))
    assert np.isfinite(model.intercept_[0]) and model.intercept_[0] > 5
    assert model.classes_.tolist() == [0, 1]
    assert (model.predict(X) == 1).all()


def test_prior_pulls_coefficients_towards_it(data):
    X, y, _ = data
    prior = LogisticRegression().fit(X, y)
    prior.coef_ = np.full_like(prior.coef_, 3.0)
    strong = LogisticRegression(l2=1e6).fit(X, y, prior=prior)
    np.testing.assert_allclose(strong.coef_, 3.0, atol=0.01)


def test_string_labels_keep_their_classes(data):
    X, y, _ = data
    labels = np.where(y == 1, "yes", "no")
    model = LogisticRegression().fit(X, labels)
    assert model.classes_.tolist() == ["no", "yes"]
    assert set(model.predict(X)) <= {"no", "yes"}


def test_bad_parameters_and_labels_say_what_was_wrong(data):
    X, y, _ = data
    with pytest.raises(LumosUserError) as err:
        LogisticRegression(l2=-1).fit(X, y)
    message = "The 'l2' parameter of LogisticRegression must be a float >= 0. Got -1."
    assert str(err.value) == message
    assert err.value.code == "bad_argument"
    with pytest.raises(LumosUserError, match=r"'solver'.*Got 'sgd'"):
        LogisticRegression(solver="sgd").fit(X, y)
    with pytest.raises(DataValidationError, match=r"3 distinct value\(s\) \(0, 1, 2\)") as err:
        LogisticRegression().fit(X, np.arange(800) % 3)
    assert err.value.code == "non_binary_label"
    with pytest.raises(LumosUserError, match="not fitted; call fit first") as err:
        LogisticRegression().predict_proba(X)
    assert err.value.code == "not_fitted"
    with pytest.raises(DataValidationError, match="offset must hold 800"):
        LogisticRegression().fit(X, y, offset=np.zeros(3))
