"""Model Importer: every supported origin becomes one standard model."""

import pickle

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import import_model


@pytest.fixture(scope="module")
def xgb_clf(tabular):
    X, y, _ = tabular
    return xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)


def test_xgboost_wrapper_booster_and_files_agree(tmp_path, xgb_clf, tabular):
    X = tabular[0]
    from_wrapper = import_model(xgb_clf)
    assert (from_wrapper.kind, from_wrapper.task, from_wrapper.link) == (
        "xgboost",
        "binary",
        "logit",
    )
    assert from_wrapper.objective == "binary:logistic"
    assert from_wrapper.feature_names == list(X.columns)
    expected = xgb_clf.predict_proba(X)[:, 1]
    np.testing.assert_allclose(from_wrapper.predict(X, "probability"), expected, rtol=1e-6)
    for suffix in (".json", ".ubj"):
        path = tmp_path / f"model{suffix}"
        xgb_clf.save_model(path)
        loaded = import_model(path)
        assert loaded.feature_names == list(X.columns)
        np.testing.assert_allclose(loaded.predict(X, "probability"), expected, rtol=1e-6)
    booster = import_model(xgb_clf.get_booster())
    np.testing.assert_allclose(booster.predict(X), from_wrapper.predict(X))


def test_lightgbm_wrapper_and_text_file(tmp_path, tabular):
    X, y, margin = tabular
    clf = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)
    model = import_model(clf)
    assert (model.kind, model.task, model.link) == ("lightgbm", "binary", "logit")
    np.testing.assert_allclose(model.predict(X, "probability"), clf.predict_proba(X)[:, 1])
    path = tmp_path / "model.txt"
    clf.booster_.save_model(path)
    assert import_model(path).feature_names == list(X.columns)
    reg = import_model(lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, margin))
    assert (reg.task, reg.link) == ("regression", "identity")


def test_sklearn_models_and_pipelines(tabular):
    X, y, margin = tabular
    Xf = X.fillna(0)
    gbm = import_model(GradientBoostingClassifier(n_estimators=10).fit(Xf, y))
    assert (gbm.kind, gbm.link) == ("sklearn_tree", "logit")
    forest = import_model(RandomForestRegressor(n_estimators=5).fit(Xf, margin))
    assert (forest.kind, forest.task) == ("sklearn_tree", "regression")
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(Xf, y)
    model = import_model(pipe)
    assert (model.kind, model.task, model.link) == ("linear", "binary", "logit")
    np.testing.assert_allclose(model.predict(Xf, "probability"), pipe.predict_proba(Xf)[:, 1])
    lin = import_model(LinearRegression().fit(Xf.to_numpy(), margin), feature_names=list(X.columns))
    assert lin.feature_names == list(X.columns)


def test_multiclass(tabular):
    X, _, margin = tabular
    y3 = np.digitize(margin, [-1, 1])
    model = import_model(xgb.XGBClassifier(n_estimators=5).fit(X, y3))
    assert (model.task, model.n_classes, model.link) == ("multiclass", 3, "softmax")
    proba = model.predict(X, "probability")
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)


def test_scores_table(tmp_path, tabular):
    X = tabular[0]
    table = X.assign(account=[f"a{i}" for i in range(len(X))], p=np.linspace(0, 1, len(X)))
    model = import_model(table, score_column="p", id_column="account")
    assert model.kind == "scores" and model.feature_names == list(X.columns)
    path = tmp_path / "scores.csv"
    table.to_csv(path, index=False)
    assert import_model(path, score_column="p", id_column="account").feature_names == list(
        X.columns
    )
    with pytest.raises(LumosUserError, match="cannot predict") as err:
        model.predict(X)
    assert err.value.code == "scores_only"
    with pytest.raises(DataValidationError, match="no score column 'score'"):
        import_model(table)
    bad = table.astype({"p": object})
    bad.loc[3, "p"] = "high"
    with pytest.raises(DataValidationError, match="row 3: column 'p' holds 'high'"):
        import_model(bad, score_column="p", id_column="account")


def test_pickles_need_trust(tmp_path, xgb_clf):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(xgb_clf))
    with pytest.raises(LumosUserError, match="can run code") as err:
        import_model(path)
    assert err.value.code == "untrusted_pickle"
    assert import_model(path, trust=True).kind == "xgboost"


def test_bad_model_files(tmp_path):
    for name, content in [("m.json", "{not json"), ("m.txt", "tree\nnonsense"), ("m.ubj", "xx")]:
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(DataValidationError, match="could not be read") as err:
            import_model(path)
        assert err.value.code == "unreadable_file" and err.value.file == str(path)
    with pytest.raises(DataValidationError, match="does not exist"):
        import_model(tmp_path / "missing.json")
    (tmp_path / "m.onnx").write_text("x")
    with pytest.raises(DataValidationError, match=r"unknown format '.onnx'"):
        import_model(tmp_path / "m.onnx")


def test_unsupported_and_unfitted(tabular):
    X, y, _ = tabular
    with pytest.raises(LumosUserError, match="Cannot import scikit-learn SVC"):
        import_model(SVC().fit(X.fillna(0).iloc[:50], y[:50]))
    with pytest.raises(LumosUserError, match="not fitted") as err:
        import_model(LogisticRegression())
    assert err.value.code == "not_fitted"
    with pytest.raises(LumosUserError, match="Cannot import a model of type"):
        import_model(object())


def test_missing_and_non_numeric_columns(xgb_clf, tabular):
    X = tabular[0]
    model = import_model(xgb_clf)
    with pytest.raises(DataValidationError, match=r"missing column\(s\) the model needs: 'x3'"):
        model.predict(X.drop(columns="x3"))
    with pytest.raises(DataValidationError, match="column 'x1' is not numeric"):
        model.predict(X.assign(x1="high"))
    with pytest.raises(DataValidationError, match="shape"):
        model.predict(np.zeros((3, 2)))
    assert model.predict(
        pd.concat([X, X[["x0"]].rename(columns={"x0": "extra"})], axis=1)
    ).shape == (len(X),)
