"""Interventional TreeSHAP: exact against a brute-force Shapley sum over coalitions, equal to
shap's interventional TreeExplainer over the whole background, on every library's trees."""

import itertools
import math
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

from lumos.errors import LumosError, LumosUserError
from lumos.explain import attribute, import_model
from lumos.explain._attributions import _forest_of, resolve_method
from lumos.explain._tree_walk import predict_margin
from lumos.explain._treeshap_interventional import interventional_tree_shap

TOL = 1e-5


def data(n=1000, p=6, seed=0, missing=0.05):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, 0] + X[:, 1] * X[:, 2] + np.sin(3 * X[:, 3]) + 0.3 * rng.normal(size=n)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(p)]), y


def brute_force(forest, rows, background) -> np.ndarray:
    """Shapley values of v(S) = mean over background rows of the margin with S's features
    taken from the row: every coalition evaluated, every marginal weighted."""
    p = rows.shape[1]
    out = np.zeros((len(rows), p))
    for r, x in enumerate(rows):
        value = {}
        for k in range(p + 1):
            for S in itertools.combinations(range(p), k):
                hybrid = background.copy()
                hybrid[:, list(S)] = x[list(S)]
                value[S] = predict_margin(forest, hybrid)[:, 0].mean()
        for i in range(p):
            others = [j for j in range(p) if j != i]
            for k in range(p):
                weight = math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p)
                for S in itertools.combinations(others, k):
                    out[r, i] += weight * (value[tuple(sorted((*S, i)))] - value[S])
    return out


def test_equal_to_the_shapley_sum_over_every_coalition():
    X, y = data()
    model = xgb.XGBRegressor(n_estimators=25, max_depth=5).fit(X, y)
    forest, _ = _forest_of(import_model(model), X.to_numpy())
    rows, background = X.to_numpy()[:6], X.to_numpy()[100:140]
    got = interventional_tree_shap(forest, rows, background)[:, 0]
    np.testing.assert_allclose(got[:, :-1], brute_force(forest, rows, background), atol=1e-12)
    # the base value is the background's mean margin, and each row adds up to its own
    assert got[0, -1] == pytest.approx(predict_margin(forest, background).mean())
    np.testing.assert_allclose(got.sum(1), predict_margin(forest, rows)[:, 0], atol=1e-12)


def library(model, rows, background):
    pytest.importorskip("shap")  # imported with its import-time warnings silenced
    ours = attribute(model, rows, method="tree_shap", background=background)
    theirs = attribute(model, rows, method="tree_shap", background=background, engine="library")
    assert ours.method == "tree_shap[lumos-interventional]" and theirs.method == "tree_shap[shap]"
    assert ours.output == theirs.output
    return np.column_stack([ours.values, ours.base]), np.column_stack([theirs.values, theirs.base])


@pytest.mark.parametrize(
    "make",
    [
        lambda: xgb.XGBRegressor(n_estimators=30, max_depth=6),
        lambda: lgb.LGBMRegressor(n_estimators=30, num_leaves=31, verbose=-1),
        lambda: GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0),
    ],
)
def test_equal_to_shap_over_the_whole_background(make):
    """250 background rows: more than the 100 shap keeps unless told to keep them all."""
    X, y = data(missing=0.0 if "Gradient" in repr(make()) else 0.05)
    model = make().fit(X, y)
    ours, theirs = library(model, X.iloc[:200], X.iloc[300:550])
    np.testing.assert_allclose(ours, theirs, atol=TOL * max(1.0, np.abs(theirs).max()))


def test_classifiers_binary_probability_and_multiclass():
    X, y = data(missing=0.0)
    forest = RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0)
    ours, theirs = library(forest.fit(X, y > 0), X.iloc[:100], X.iloc[500:700])
    np.testing.assert_allclose(ours, theirs, atol=TOL)
    classes = np.digitize(y, [-0.5, 0.5])
    booster = xgb.XGBClassifier(n_estimators=20, max_depth=4).fit(X, classes)
    attr = attribute(booster, X.iloc[:100], method="tree_shap", background=X.iloc[500:700])
    margin = booster.predict(X.iloc[:100], output_margin=True)
    own = margin[np.arange(100), attr.target]
    np.testing.assert_allclose(attr.values.sum(1) + attr.base, own, atol=1e-5)
    ours, theirs = library(booster, X.iloc[:100], X.iloc[500:700])
    np.testing.assert_allclose(ours, theirs, atol=TOL * max(1.0, np.abs(theirs).max()))


def test_without_background_it_stays_path_dependent():
    X, y = data()
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y)
    assert attribute(model, X.iloc[:20], method="tree_shap").method == "tree_shap[lumos]"


def test_auto_reads_scikit_learn_trees_without_shap(monkeypatch):
    """Lumos's engine reads scikit-learn forests: auto is TreeSHAP even with shap missing."""
    monkeypatch.setitem(sys.modules, "shap", None)  # import shap now fails
    X, y = data(missing=0.0)
    model = import_model(RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y > 0))
    assert resolve_method(model, "auto") == "tree_shap"
    attr = attribute(model, X.iloc[:10], background=X.iloc[100:200])
    assert attr.method == "tree_shap[lumos-interventional]"


def test_bad_background_is_named():
    X, y = data()
    model = xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(X, y)
    with pytest.raises(LumosUserError, match="background has no rows") as empty:
        attribute(model, X.iloc[:5], method="tree_shap", background=X.iloc[:0])
    assert empty.value.code == "empty"
    with pytest.raises(LumosError, match=r"background is missing column.*'f3'") as missing:
        attribute(model, X.iloc[:5], method="tree_shap", background=X.drop(columns="f3"))
    assert missing.value.code == "missing_column"
