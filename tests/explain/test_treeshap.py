"""Lumos's compiled TreeSHAP: equal to each library's own TreeSHAP on the models they make."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeRegressor

from lumos.errors import LumosUserError
from lumos.explain import attribute, import_model
from lumos.explain._attributions import _forest_of
from lumos.explain._forest import from_xgboost
from lumos.explain._treeshap import predict_margin, table_bytes, tree_shap

TOL = 1e-5


def data(n=800, p=8, seed=0, missing=0.1, categorical=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, 0] + X[:, 1] * X[:, 2] + np.sin(3 * X[:, 3]) + 0.3 * rng.normal(size=n)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(p)])
    if categorical:
        codes = rng.integers(0, 6, n)
        frame["c"] = pd.Categorical(codes)
        y = y + np.array([0.0, 1.5, -1.0, 0.5, 2.0, -2.0])[codes]
    return frame, y


def both(model, X, **kw):
    """Lumos's values and the library's, with their base values, as (n, p + 1) arrays."""
    ours = attribute(model, X, engine="lumos", **kw)
    theirs = attribute(model, X, engine="library", **kw)
    assert ours.method.startswith("tree_shap[lumos")
    return (
        np.column_stack([ours.values, ours.base]),
        np.column_stack([theirs.values, theirs.base]),
    )


@pytest.mark.parametrize("depth", [2, 6, 12])
def test_xgboost_with_missing_values_at_every_depth(depth):
    X, y = data(1500)
    model = xgb.XGBRegressor(n_estimators=30, max_depth=depth, learning_rate=0.3).fit(X, y)
    ours, theirs = both(model, X)
    np.testing.assert_allclose(ours, theirs, atol=TOL * max(1.0, np.abs(theirs).max()))


def engine_and_library(model, frame, library_contribs):
    """Lumos's values on the category codes beside the library's own, both (n, outputs, p + 1)."""
    m = import_model(model)
    codes = frame.assign(c=frame["c"].cat.codes.astype(float).where(frame["c"].notna()))
    forest, why = _forest_of(m, codes.to_numpy())
    assert forest is not None, why
    ours, _ = tree_shap(forest, codes.to_numpy())
    theirs = np.asarray(library_contribs, dtype=float).reshape(ours.shape)
    return ours, theirs


def test_xgboost_binary_multiclass_and_categorical():
    X, y = data(1200, categorical=True)
    for model, labels in (
        (xgb.XGBClassifier(n_estimators=30, max_depth=5, enable_categorical=True), y > 0),
        (
            xgb.XGBClassifier(
                n_estimators=15, max_depth=4, enable_categorical=True, max_cat_to_onehot=1
            ),
            np.digitize(y, [-1, 1]),
        ),
    ):
        model.fit(X, labels)
        library = model.get_booster().predict(
            xgb.DMatrix(X, enable_categorical=True), pred_contribs=True
        )
        ours, theirs = engine_and_library(model, X, library)
        np.testing.assert_allclose(ours, theirs, atol=TOL)


@pytest.mark.parametrize(
    "params",
    [
        {"max_depth": 12, "num_leaves": 200},
        {"use_missing": True, "zero_as_missing": True},
        {"use_missing": False},
    ],
)
def test_lightgbm_missing_rules_and_depth(params):
    X, y = data(1500)
    X.iloc[::7, 1] = 0.0  # exact zeros: missing under zero_as_missing
    model = lgb.LGBMRegressor(n_estimators=25, verbose=-1, min_child_samples=5, **params)
    ours, theirs = both(model.fit(X, y), X)
    np.testing.assert_allclose(ours, theirs, atol=TOL * max(1.0, np.abs(theirs).max()))


def test_lightgbm_categorical_and_multiclass():
    X, y = data(1500, categorical=True)
    X.loc[X.index[::11], "c"] = np.nan
    model = lgb.LGBMClassifier(n_estimators=20, verbose=-1, min_child_samples=5)
    model.fit(X, np.digitize(y, [-1, 1]))
    assert "||" in str(model.booster_.dump_model())  # it made category-set splits
    library = model.booster_.predict(X, pred_contrib=True)
    ours, theirs = engine_and_library(model, X, library)
    np.testing.assert_allclose(ours, theirs, atol=TOL)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0),
        lambda: RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0),
        lambda: ExtraTreesRegressor(n_estimators=10, max_depth=6, random_state=0),
        lambda: GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0),
        lambda: DecisionTreeRegressor(max_depth=10, random_state=0),
    ],
)
def test_sklearn_trees_equal_shap(make):
    pytest.importorskip("shap")
    X, y = data(600, missing=0.0)
    model = make()
    target = np.digitize(y, [-1, 1]) if "Classifier" in type(model).__name__ else y
    if isinstance(model, GradientBoostingClassifier):  # shap reads binary ones only
        target = y > 0
    model.fit(X, target)
    kw = (
        {"target": 1}
        if len(np.unique(target)) == 3 and "Classifier" in type(model).__name__
        else {}
    )
    ours, theirs = both(model, X, **kw)
    np.testing.assert_allclose(ours, theirs, atol=TOL)


def test_sklearn_missing_values_and_multiclass_boosting_add_up():
    X, y = data(800, missing=0.15)
    model = DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, y)
    attr = attribute(model, X, engine="lumos")
    margin = import_model(model).predict(X, "margin")
    np.testing.assert_allclose(attr.values.sum(1) + attr.base, margin, atol=1e-9)
    Xf = X.fillna(0.0)
    boosted = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)
    boosted.fit(Xf, np.digitize(y, [-1, 1]))  # beyond shap, which reads binary ones only
    for target in (0, 1, 2):
        attr = attribute(boosted, Xf, engine="lumos", target=target)
        margin = boosted.decision_function(Xf)[:, target]
        np.testing.assert_allclose(attr.values.sum(1) + attr.base, margin, atol=1e-9)


def test_both_algorithms_agree_and_sum_to_the_margin():
    X, y = data(1000)
    model = xgb.XGBRegressor(n_estimators=40, max_depth=7).fit(X, y)
    m = import_model(model)
    forest, _ = _forest_of(m, X.to_numpy())
    tables, used = tree_shap(forest, X.to_numpy(), algorithm="tables")
    recursive, used2 = tree_shap(forest, X.to_numpy(), algorithm="recursive")
    assert (used, used2) == ("tables", "recursive")
    np.testing.assert_allclose(tables, recursive, atol=1e-9)
    margin = model.predict(X, output_margin=True)
    np.testing.assert_allclose(tables[:, 0].sum(1), margin, atol=1e-4)
    np.testing.assert_allclose(predict_margin(forest, X.to_numpy())[:, 0], margin, atol=1e-4)
    # the memory rule: tables only while they take under a quarter of the budget
    need = table_bytes(forest)
    assert tree_shap(forest, X.to_numpy()[:5], memory_budget=4 * need)[1] == "tables"
    assert tree_shap(forest, X.to_numpy()[:5], memory_budget=4 * need - 8)[1] == "recursive"


def test_models_it_cannot_read_fall_back_to_the_library():
    X, y = data(300)
    dart = xgb.XGBRegressor(n_estimators=5, booster="dart").fit(X, y)
    assert attribute(dart, X).method == "tree_shap[xgboost]"
    with pytest.raises(LumosUserError, match=r"engine='lumos' cannot read this model: .*DART"):
        attribute(dart, X, engine="lumos")
    with pytest.raises(LumosUserError, match="engine must be one of auto, lumos, library"):
        attribute(dart, X, engine="numba")
    with pytest.raises(LumosUserError, match="reads gbtree boosters"):
        from_xgboost(xgb.XGBRegressor(n_estimators=2, booster="gblinear").fit(X, y).get_booster())
