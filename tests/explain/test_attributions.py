"""Attributions: exact SHAP additivity, agreement with shap, method choice and errors."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import attribute, import_model


def _check_additive(model, X, attr, output="margin", target=None):
    m = import_model(model)
    pred = m.predict(X, output)
    if pred.ndim == 2:
        pred = pred[np.arange(len(X)), attr.target if target is None else target]
    np.testing.assert_allclose(attr.values.sum(1) + attr.base, pred, atol=1e-4)


def test_xgboost_tree_shap_is_additive_and_matches_shap(tabular):
    shap = pytest.importorskip("shap")
    X, y, _ = tabular
    clf = xgb.XGBClassifier(n_estimators=50, max_depth=5).fit(X, y)
    attr = attribute(clf, X)
    assert attr.method == "tree_shap[lumos]" and attr.output == "margin"
    assert list(attr.index) == list(X.index) and attr.values.shape == X.shape
    _check_additive(clf, X, attr)
    reference = shap.TreeExplainer(clf.get_booster()).shap_values(X)
    assert np.abs(attr.values - reference).max() <= 1e-5


def test_lightgbm_multiclass_and_regression(tabular):
    X, _, margin = tabular
    y3 = np.digitize(margin, [-1, 1])
    clf = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y3)
    attr = attribute(clf, X)
    assert attr.method == "tree_shap[lumos]"
    assert attribute(clf, X, engine="library").method == "tree_shap[lightgbm]"
    _check_additive(clf, X, attr)
    assert (attr.target == import_model(clf).predict(X).argmax(1)).all()
    fixed = attribute(clf, X, target=2)
    _check_additive(clf, X, fixed, target=2)
    reg = lgb.LGBMRegressor(n_estimators=20, verbose=-1).fit(X, margin)
    _check_additive(reg, X, attribute(reg, X))


def test_xgboost_multiclass(tabular):
    X, _, margin = tabular
    clf = xgb.XGBClassifier(n_estimators=10).fit(X, np.digitize(margin, [-1, 1]))
    attr = attribute(clf, X, target=1)
    _check_additive(clf, X, attr, target=1)


def test_sklearn_trees_through_shap(tabular):
    pytest.importorskip("shap")
    X, y, margin = tabular
    Xf = X.fillna(0)
    forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(Xf, y)
    attr = attribute(forest, Xf, engine="library")
    assert attr.method == "tree_shap[shap]" and attr.output == "probability"
    _check_additive(forest, Xf, attr, output="probability")
    gbr = GradientBoostingRegressor(n_estimators=10).fit(Xf, margin)
    _check_additive(gbr, Xf, attribute(gbr, Xf))


def test_linear_shap_and_pipelines(tabular):
    X, y, margin = tabular
    Xf = X.fillna(0)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(Xf, y)
    attr = attribute(pipe, Xf)
    assert attr.method == "linear_shap"
    _check_additive(pipe, Xf, attr)
    assert np.allclose(attr.values.mean(0), 0)  # background = X: contributions centred
    ridge = Ridge().fit(Xf, margin)
    background = Xf.iloc[:100]
    attr = attribute(ridge, Xf, background=background)
    np.testing.assert_allclose(attr.values, (Xf - background.mean()).to_numpy() * ridge.coef_)
    onehot = make_pipeline(OneHotEncoder(handle_unknown="ignore"), Ridge()).fit(Xf.round(), margin)
    with pytest.raises(LumosUserError, match="one column per feature"):
        attribute(onehot, Xf.round())


def test_auto_and_method_errors(tabular):
    X, y, _ = tabular
    clf = xgb.XGBClassifier(n_estimators=5).fit(X, y)
    with pytest.raises(LumosUserError, match="method must be one of"):
        attribute(clf, X, method="magic")
    with pytest.raises(LumosUserError, match="needs a linear model"):
        attribute(clf, X, method="linear_shap")
    lr = LogisticRegression().fit(X.fillna(0), y)
    with pytest.raises(LumosUserError, match="needs a tree model"):
        attribute(lr, X.fillna(0), method="tree_shap")
    assert attribute(lr, X.fillna(0), method="shap").method == "linear_shap"
    with pytest.raises(LumosUserError, match="takes no options"):
        attribute(clf, X, method="tree_shap", num_samples=10)
    with pytest.raises(LumosUserError, match="only for multi-class"):
        attribute(clf, X, target=3)
    scores = import_model(X.fillna(0).assign(score=y * 1.0))
    with pytest.raises(LumosUserError, match="klime"):
        attribute(scores, X.fillna(0), method="lime")


def test_top_features_and_frame(tabular):
    X, y, _ = tabular
    attr = attribute(xgb.XGBClassifier(n_estimators=5).fit(X, y), X)
    top = attr.top_features(2)
    assert list(top.columns) == ["top_1", "top_2"]
    assert attr.to_frame().shape == X.shape
    with pytest.warns(DeprecationWarning, match="'k' is now 'top_k'"):
        pd.testing.assert_frame_equal(attr.top_features(k=2), top)


def test_klime_of_a_model_explains_its_chosen_output(tabular):
    X, y, _ = tabular
    clf = xgb.XGBClassifier(n_estimators=10).fit(X, y)
    attr = attribute(clf, X, method="klime", output="probability")
    assert attr.output == "probability"
    surrogate = attr.values.sum(1) + attr.base
    assert np.corrcoef(surrogate, clf.predict_proba(X)[:, 1])[0, 1] > 0.8


def test_scores_table_with_a_bad_score(tabular):
    X = tabular[0].fillna(0)
    model = import_model(X.assign(score=np.linspace(0, 1, len(X))))
    rows = X.assign(score=np.linspace(0, 1, len(X))).astype({"score": object})
    rows.loc[5, "score"] = "n/a"
    with pytest.raises(DataValidationError, match="row 5: score column 'score' holds 'n/a'"):
        attribute(model, rows, method="klime")
