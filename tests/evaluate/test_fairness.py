"""Fairness gaps: planted gaps found with intervals that cover them, slices inside groups."""

import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate import fairness_report


def members(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "gender": rng.choice(["F", "M", None], n, p=[0.48, 0.48, 0.04]),
            "age": rng.choice(["18-24", "25-34", "35+"], n),
            "tenure": rng.exponential(10, n),
        }
    )
    p_true = 1 / (1 + np.exp(-rng.normal(size=n)))
    y = (rng.random(n) < p_true).astype(float)
    score = p_true.copy()
    older = (df["age"] == "35+").to_numpy()
    score[older] = np.clip(score[older] + 0.2, 0, 1)  # over-predicts for 35+
    return df, y, score


def test_the_planted_gap_leads_with_an_interval_that_excludes_zero():
    df, y, score = members()
    report = fairness_report(df.assign(y=y, s=score), "y", "s", ["gender", "age"], n_bootstrap=200)
    age = report.gaps[report.gaps["attribute"] == "age"].set_index("metric")
    assert age.loc["calibration", "high_group"] == "35+"
    assert age.loc["calibration", "gap"] == pytest.approx(0.2, abs=0.03)
    assert age.loc["calibration", "low"] > 0.1
    assert age.loc["selection_rate", "high_group"] == "35+" and age.loc["selection_rate", "low"] > 0
    gender = report.gaps[report.gaps["attribute"] == "gender"].set_index("metric")
    assert gender.loc["calibration", "low"] < 0.05  # no planted gender gap
    groups = report.metrics.query("attribute == 'gender'")["group"].tolist()
    assert groups == ["(missing)", "F", "M"]
    assert {"selection_rate", "tpr", "fpr", "precision", "calibration", "auc"} <= set(
        report.metrics.columns
    )
    assert any("age = 35+" in s for s in report.sentences())
    assert ("age", "35+") in report.slices


def test_bad_input_is_named():
    df, y, score = members(300)
    with pytest.raises(
        DataValidationError,
        match=r"data has no column 'race'; name group columns among them\. Its columns: gender",
    ):
        fairness_report(df, y, score, ["race"])
    with pytest.raises(DataValidationError, match="0/1 labels"):
        fairness_report(df, y * 2, score, ["age"])
    with pytest.raises(LumosUserError, match="at least one group attribute"):
        fairness_report(df, y, score, [])
    broken = score.copy()
    broken[3] = np.nan
    with pytest.raises(DataValidationError, match="row 3: label"):
        fairness_report(df, y, broken, ["age"])


def test_seed_is_the_older_name_of_random_state():
    df, y, score = members(800)
    args = (df, y, score, ["age"])
    new = fairness_report(*args, n_bootstrap=20, slice_features=[], random_state=3)
    with pytest.warns(DeprecationWarning, match="fairness_report's 'seed' is now 'random_state'"):
        old = fairness_report(*args, n_bootstrap=20, slice_features=[], seed=3)
    pd.testing.assert_frame_equal(old.gaps, new.gaps)
