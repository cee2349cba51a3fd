"""K-LIME: recovers per-cluster linear models, adds up, runs on a scores-only table."""

import numpy as np
import pandas as pd
import pytest

from lumos.errors import LumosUserError
from lumos.explain import attribute, import_model
from lumos.explain._klime import klime_attributions

CENTERS = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]])
COEFS = np.array(
    [
        [1.0, -2.0, 0.5, 3.0, 0.0],
        [-1.5, 0.5, 2.0, 0.0, -1.0],
        [0.0, 1.0, -3.0, 1.0, 2.0],
    ]
)
INTERCEPTS = np.array([0.0, 5.0, -5.0])


def three_blobs(n=1500, p=5, seed=0):
    """Rows in three blobs of features 0 and 1, each with its own linear score."""
    rng = np.random.default_rng(seed)
    blob = rng.integers(0, 3, size=n)
    A = rng.normal(size=(n, p))
    A[:, :2] += CENTERS[blob]
    scores = np.einsum("ij,ij->i", A[:, :5], COEFS[blob]) + INTERCEPTS[blob]
    return A, scores + 0.05 * rng.normal(size=n), blob


def test_recovers_three_linear_clusters():
    A, scores, blob = three_blobs()
    _, _, details = klime_attributions(A, scores)
    assert details["r2"] >= 0.9
    assert details["k"] >= 3
    assert details["k_scores"][details["k"]] == max(details["k_scores"].values())
    row_coef = details["coef"][details["cluster"]]
    close = np.all(np.abs(row_coef - COEFS[blob]) < 0.1, axis=1)
    assert close.mean() > 0.95
    assert details["cluster_features"] == [0, 1, 2, 3, 4]
    assert set(details["r2_by_cluster"]) == set(np.unique(details["cluster"]).tolist())
    assert min(details["r2_by_cluster"].values()) > 0.99


def test_values_add_up_to_the_surrogate_prediction():
    A, scores, _ = three_blobs(n=600)
    values, base, details = klime_attributions(A, scores, k_grid=[1, 3])
    np.testing.assert_allclose(values.sum(1) + base, details["prediction"], atol=1e-9)
    cluster = details["cluster"]
    coef, mean = details["coef"][cluster], details["cluster_mean"][cluster]
    np.testing.assert_allclose(values, coef * (A - mean), atol=1e-9)
    linear = details["intercept"][cluster] + np.einsum("ij,ij->i", A, coef)
    np.testing.assert_allclose(linear, details["prediction"], atol=1e-8)
    for c in np.unique(cluster):  # base is the cluster's mean score
        np.testing.assert_allclose(base[cluster == c], scores[cluster == c].mean())


def test_global_only_when_k_is_one():
    A, scores, _ = three_blobs(n=300)
    _, base, details = klime_attributions(A, scores, k_grid=[1])
    assert details["k"] == 1 and details["k_scores"] == {}
    assert np.all(details["cluster"] == -1)
    np.testing.assert_allclose(base, scores.mean())
    np.testing.assert_allclose(details["cluster_mean"][-1], A.mean(0))


def test_small_clusters_use_the_global_model():
    A, scores, _ = three_blobs(n=400)
    A[:10, :2] = [40.0, 40.0]  # a fourth, tiny blob
    _, _, details = klime_attributions(A, scores, k_grid=[4], min_cluster_size=20)
    assert np.all(details["cluster"][:10] == -1)
    assert np.all(details["cluster"][10:] >= 0)
    assert -1 in details["r2_by_cluster"]


def test_picks_cluster_features_by_surrogate_importance():
    rng = np.random.default_rng(3)
    A, scores, _ = three_blobs(n=900)
    A = np.hstack([A, rng.normal(size=(900, 7))])
    _, _, details = klime_attributions(A, scores, k_grid=[1, 3], max_cluster_features=2)
    assert details["cluster_features"] == [0, 1]
    _, _, details = klime_attributions(A, scores, k_grid=[1, 3])
    assert len(details["cluster_features"]) == 3  # ceil(12 / 4)
    assert {0, 1} <= set(details["cluster_features"])


def test_deterministic_with_a_seed_and_handles_nan():
    A, scores, _ = three_blobs(n=500)
    A[::7, 3] = np.nan
    A[:, 4] = np.nan
    first = klime_attributions(A, scores, random_state=5)
    again = klime_attributions(A, scores, random_state=5)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[2]["cluster"], again[2]["cluster"])
    assert first[2]["k_scores"] == again[2]["k_scores"]
    assert np.all(np.isfinite(first[0])) and np.all(first[0][:, 4] == 0.0)


def test_attribute_explains_a_scores_only_table():
    A, scores, _ = three_blobs(n=600)
    df = pd.DataFrame(A, columns=[f"x{j}" for j in range(5)]).assign(score=scores)
    model = import_model(df, score_column="score")
    attr = attribute(model, df, method="klime", random_state=1)
    assert attr.method == "klime" and attr.feature_names == [f"x{j}" for j in range(5)]
    assert attr.values.shape == (600, 5)
    np.testing.assert_allclose(attr.values.sum(1) + attr.base, attr.details["prediction"])
    assert attr.details["r2"] >= 0.9
    again = attribute(model, df, method="klime", random_state=1)
    np.testing.assert_array_equal(attr.values, again.values)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"min_cluster_size": 0}, "'min_cluster_size'"),
        ({"alpha": -1.0}, "'alpha'"),
        ({"holdout": 1.0}, "'holdout'"),
        ({"max_cluster_features": 0}, "'max_cluster_features'"),
        ({"k_grid": [0, 2]}, "'k_grid'"),
        ({"k_grid": [2.5]}, "'k_grid'"),
        ({"k_grid": [50]}, "k may be at most"),
    ],
)
def test_bad_arguments_raise_a_user_error(options, name):
    A, scores, _ = three_blobs(n=100)
    with pytest.raises(LumosUserError, match=name) as err:
        klime_attributions(A, scores, **options)
    assert err.value.code == "bad_argument"


def test_bad_scores_raise_a_user_error():
    A, scores, _ = three_blobs(n=100)
    with pytest.raises(LumosUserError, match="one score per row"):
        klime_attributions(A, scores[:-1])
    scores[3] = np.nan
    with pytest.raises(LumosUserError, match="row 3"):
        klime_attributions(A, scores)


def test_seed_is_the_older_name_of_random_state():
    A, scores, _ = three_blobs(n=300)
    new = klime_attributions(A, scores, random_state=4, k_grid=[1, 2])
    with pytest.warns(
        DeprecationWarning, match="klime_attributions's 'seed' is now 'random_state'"
    ):
        old = klime_attributions(A, scores, seed=4, k_grid=[1, 2])
    np.testing.assert_array_equal(old[0], new[0])
    df = pd.DataFrame(A, columns=[f"x{j}" for j in range(5)]).assign(score=scores)
    model = import_model(df, score_column="score")
    with pytest.warns(DeprecationWarning, match="attribute's 'seed' is now 'random_state'"):
        attr = attribute(model, df, method="klime", seed=2, k_grid=[1, 2])
    again = attribute(model, df, method="klime", random_state=2, k_grid=[1, 2])
    np.testing.assert_array_equal(attr.values, again.values)
