"""Model health: metrics beside scikit-learn's, calibration bins, slices and gaps, bad tables."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from lumos.errors import DataValidationError
from lumos.evaluate import binary_report, check_predictions, model_health, reliability


def predictions(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(n)],
            "industry": rng.choice(["Retail", "Finance", "Health"], n),
            "tenure": rng.integers(0, 10, n),
        }
    )
    truth = np.where(data["industry"] == "Finance", 0.4, 0.15)
    data["label"] = (rng.random(n) < truth).astype(int)
    data["score"] = np.clip(truth + rng.normal(0, 0.03, n), 0.01, 0.99)
    return data


def test_metrics_match_scikit_learn_per_model():
    data = predictions()
    rng = np.random.default_rng(1)
    noisy = data.assign(score=np.clip(data["score"] + rng.normal(0, 0.2, len(data)), 0, 1))
    both = pd.concat([data.assign(model="sharp"), noisy.assign(model="noisy")])
    report = binary_report(both["label"], both["score"], groups=both["model"])
    assert list(report.index) == ["sharp", "noisy"]
    for name, part in both.groupby("model"):
        row = report.loc[name]
        assert row["rows"] == len(part)
        assert row["roc_auc"] == pytest.approx(roc_auc_score(part["label"], part["score"]))
        assert row["pr_auc"] == pytest.approx(average_precision_score(part["label"], part["score"]))
        assert row["log_loss"] == pytest.approx(log_loss(part["label"], part["score"]), rel=1e-6)
        assert row["brier"] == pytest.approx(brier_score_loss(part["label"], part["score"]))
    assert report.loc["sharp", "roc_auc"] > report.loc["noisy", "roc_auc"]


def test_reliability_bins_hold_every_row_once():
    data = predictions()
    table = reliability(data["label"], data["score"], bins=10)
    assert table["rows"].sum() == len(data) and len(table) == 10
    assert table["mean_score"].is_monotonic_increasing
    weighted = (table["observed"] * table["rows"]).sum() / len(data)
    assert weighted == pytest.approx(data["label"].mean())


def test_model_health_finds_the_planted_slice_and_the_group_gap():
    data = predictions()
    wrong = data.assign(score=np.where(data["tenure"] < 2, 0.8, data["score"]), model="wrong")
    health = model_health(
        pd.concat([data.assign(model="right"), wrong]), groups=["industry"], n_bootstrap=100
    )
    assert list(health.metrics.index) == ["right", "wrong"]
    assert health.features == ["industry", "tenure"]  # not the id, label, score or model
    top = health.slices["wrong"].table.iloc[0]
    assert "tenure" in top["slice"] and top["significant"]
    gaps = health.fairness["right"].gaps.set_index("metric")
    assert {gaps.loc["selection_rate", "high_group"], gaps.loc["selection_rate", "low_group"]} >= {
        "Finance"
    }
    assert gaps.loc["selection_rate", "low"] > 0.5  # Finance is selected, the others are not
    assert len(health.calibration["right"]) == 10
    alone = model_health(data, features=[])
    assert list(alone.metrics.index) == ["all"] and not alone.slices and not alone.fairness


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d.drop(columns="score"),
            r"p.csv has no column 'score'; .* Its columns: member_id",
        ),
        (lambda d: d.assign(label=d["label"] * 2), "p.csv row 0: column 'label' must be 0 or 1"),
        (
            lambda d: d.assign(score=np.r_[0.2, np.nan, d["score"].iloc[2:]]),
            "p.csv row 1: column 'score' must be a probability in \\[0, 1\\]; got nan",
        ),
        (lambda d: d.assign(score="high"), "row 0: column 'score' must be a probability"),
        (lambda d: d.iloc[:0], "p.csv has no rows"),
    ],
)
def test_bad_predictions_are_named(change, message):
    data = predictions(50)
    data.loc[0, "label"] = 1
    with pytest.raises(DataValidationError, match=message):
        check_predictions(change(data), "label", "score", source="p.csv")
    with pytest.raises(DataValidationError, match="no column 'segment'"):
        model_health(data, groups=["segment"])


def test_seed_is_the_older_name_of_random_state():
    data = predictions(800)
    new = model_health(data, groups=["industry"], features=[], n_bootstrap=20, random_state=4)
    with pytest.warns(DeprecationWarning, match="model_health's 'seed' is now 'random_state'"):
        old = model_health(data, groups=["industry"], features=[], n_bootstrap=20, seed=4)
    pd.testing.assert_frame_equal(old.fairness["all"].gaps, new.fairness["all"].gaps)
