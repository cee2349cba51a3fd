import logging
import math

import numpy as np
import pandas as pd
import pytest

import lumos.bandits._ope as ope
from lumos.bandits import ESTIMATORS, Estimate, estimate, evaluate_all, fit_reward_model
from lumos.errors import LumosUserError

N_TYPES, N_ACTIONS = 10, 5


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# A logged bandit whose target-policy value is known exactly: contexts are 10
# user types with known frequencies, rewards Bernoulli with a known probability
# per (type, action), the behaviour policy a known softmax with full support.
_world = np.random.default_rng(2024)
TYPE_P = _world.dirichlet(np.full(N_TYPES, 5.0))
Q = _world.uniform(0.05, 0.6, (N_TYPES, N_ACTIONS))
BEHAVIOUR = _softmax(_world.normal(size=(N_TYPES, N_ACTIONS)))
TARGET = _softmax(6 * Q)  # favours the better actions
TRUTH = float(TYPE_P @ (TARGET * Q).sum(axis=1))


def simulate(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    types = rng.choice(N_TYPES, n, p=TYPE_P)
    cdf = BEHAVIOUR[types].cumsum(axis=1)
    action = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), N_ACTIONS - 1)
    reward = (rng.random(n) < Q[types, action]).astype(np.float64)
    return {
        "types": types,
        "context": np.eye(N_TYPES)[types],
        "reward": reward,
        "action": action,
        "pscore": BEHAVIOUR[types, action],
        "action_dist": TARGET[types],
        "q_true": Q[types],
    }


@pytest.fixture(scope="module")
def log():
    return simulate(20_000, seed=1)


def _inputs(log, **extra):
    keys = ("reward", "action", "pscore", "action_dist")
    return {**{k: log[k] for k in keys}, **extra}


def test_target_policy_is_far_from_the_behaviour_policy():
    behaviour_value = float(TYPE_P @ (BEHAVIOUR * Q).sum(axis=1))
    assert TRUTH - behaviour_value > 0.1  # the estimators must correct, not just average


@pytest.mark.parametrize("name", ["ipw", "snipw", "dr"])
def test_weighting_estimators_are_close_to_the_truth(log, name):
    found = estimate(name, **_inputs(log, estimated_rewards=log["q_true"]), random_state=0)
    assert isinstance(found, Estimate) and found.name == name
    assert abs(found.value - TRUTH) < 4 * found.std_error
    assert found.low < TRUTH < found.high
    assert found.low < found.value < found.high


def test_dm_with_the_true_reward_function_is_the_truth(log):
    found = estimate("dm", **_inputs(log, estimated_rewards=log["q_true"]), random_state=0)
    truth_on_these_contexts = np.mean((log["action_dist"] * log["q_true"]).sum(axis=1))
    assert found.value == pytest.approx(truth_on_these_contexts, rel=1e-12)
    assert abs(found.value - TRUTH) < 4 * found.std_error
    assert found.low < TRUTH < found.high


@pytest.mark.parametrize(
    "wrong", [lambda q: np.full_like(q, 0.5), lambda q: q[:, ::-1]], ids=["constant", "reversed"]
)
def test_dr_is_doubly_robust_to_a_wrong_reward_model(log, wrong):
    data = _inputs(log, estimated_rewards=wrong(log["q_true"]))
    table = evaluate_all(**data, estimators=["dm", "dr"], random_state=0)
    dm, dr = table.loc["dm"], table.loc["dr"]
    assert abs(dm["value"] - TRUTH) > 10 * dm["std_error"]  # the model is badly wrong
    assert abs(dr["value"] - TRUTH) < 4 * dr["std_error"]  # DR is not
    assert dr["low"] < TRUTH < dr["high"]


def test_switch_dr_spans_dm_to_dr(log):
    data = _inputs(log, estimated_rewards=log["q_true"][:, ::-1])  # a wrong model
    dr = estimate("dr", **data, random_state=3)
    dm = estimate("dm", **data, random_state=3)
    at_inf = estimate("switch-dr", **data, tau=math.inf, random_state=3)
    at_zero = estimate("switch-dr", **data, tau=0.0, random_state=3)
    assert at_inf.name == at_zero.name == "switch-dr" and dr.value != pytest.approx(dm.value)
    for switched, plain in ((at_inf, dr), (at_zero, dm)):
        for field in ("value", "low", "high", "std_error"):
            assert getattr(switched, field) == pytest.approx(getattr(plain, field), rel=1e-12)
    weights = log["action_dist"][np.arange(len(log["action"])), log["action"]] / log["pscore"]
    tau = float(np.median(weights))
    middle = estimate("switch-dr", **data, tau=tau, random_state=3).value
    keep = weights <= tau
    r, q = log["reward"], data["estimated_rewards"]
    dm_rows = (log["action_dist"] * q).sum(axis=1)
    by_hand = np.mean(dm_rows + keep * weights * (r - q[np.arange(len(r)), log["action"]]))
    assert middle == pytest.approx(by_hand, rel=1e-12)


def test_intervals_cover_the_truth_at_about_their_level():
    covered = []
    for seed in range(40):
        small = simulate(2_000, seed=100 + seed)
        found = estimate("ipw", **_inputs(small), n_bootstrap=200, random_state=seed)
        covered.append(found.low <= TRUTH <= found.high)
    assert np.mean(covered) >= 0.85


def test_a_seed_makes_the_interval_reproducible(log):
    data = _inputs(log, estimated_rewards=log["q_true"])
    first = evaluate_all(**data, random_state=7)
    pd.testing.assert_frame_equal(first, evaluate_all(**data, random_state=7))
    other = evaluate_all(**data, random_state=8)
    assert (first["value"] == other["value"]).all() and (first["low"] != other["low"]).all()
    with_generator = evaluate_all(**data, random_state=np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, with_generator)


def test_each_estimator_alone_matches_the_table(log):
    data = _inputs(log, estimated_rewards=log["q_true"])
    table = evaluate_all(**data, tau=2.0, n_bootstrap=300, alpha=0.1, random_state=5)
    assert list(table.index) == list(ESTIMATORS) and table.index.name == "estimator"
    assert list(table.columns) == ["value", "low", "high", "std_error"]
    for name in ESTIMATORS:
        alone = estimate(name, **data, tau=2.0, n_bootstrap=300, alpha=0.1, random_state=5)
        assert tuple(table.loc[name]) == (alone.value, alone.low, alone.high, alone.std_error)


def test_model_free_estimators_need_no_reward_model(log):
    table = evaluate_all(**_inputs(log), estimators=("ipw", "snipw"), random_state=0)
    assert list(table.index) == ["ipw", "snipw"]
    assert list(evaluate_all(**_inputs(log), estimators="ipw", random_state=0).index) == ["ipw"]


def test_blocks_of_resamples_do_not_change_the_draws(log, monkeypatch):
    data = _inputs(log, estimated_rewards=log["q_true"])
    whole = evaluate_all(**data, n_bootstrap=50, random_state=1)
    monkeypatch.setattr(ope, "_CELLS_PER_BLOCK", 3 * len(log["reward"]))  # blocks of 3
    pd.testing.assert_frame_equal(whole, evaluate_all(**data, n_bootstrap=50, random_state=1))


def test_bootstrap_resamples_rows_with_replacement():
    values = np.arange(6, dtype=np.float64)[:, None]
    rng = np.random.default_rng(0)
    sums = ope._bootstrap_sums(np.column_stack([values, np.ones(6)]), 4000, rng)
    assert (sums[:, 1] == 6).all()  # every resample has n rows
    assert sums[:, 0].mean() / 6 == pytest.approx(2.5, abs=0.05)
    assert sums[:, 0].std() / 6 == pytest.approx(np.std(values) / np.sqrt(6), rel=0.05)


def test_position_axis(log):
    n = len(log["reward"])
    rng = np.random.default_rng(0)
    position = rng.integers(0, 3, n)
    dist3 = np.stack(
        [log["action_dist"], np.roll(log["action_dist"], 1, axis=1), TARGET[0] * np.ones((n, 1))],
        axis=2,
    )
    q3 = np.repeat(log["q_true"][:, :, None], 3, axis=2)
    data = {**_inputs(log), "action_dist": dist3, "position": position, "estimated_rewards": q3}
    table = evaluate_all(**data, random_state=0)
    rows = np.arange(n)
    w = dist3[rows, log["action"], position] / log["pscore"]
    assert table.loc["ipw", "value"] == pytest.approx(np.mean(w * log["reward"]), rel=1e-12)
    dm = np.einsum("ij,ij->i", dist3[rows, :, position], q3[rows, :, position]).mean()
    assert table.loc["dm", "value"] == pytest.approx(dm, rel=1e-12)
    # a position axis of length 1 is the plain case
    flat = evaluate_all(**_inputs(log, estimated_rewards=log["q_true"]), random_state=0)
    one = evaluate_all(
        reward=log["reward"],
        action=log["action"],
        pscore=log["pscore"],
        action_dist=log["action_dist"][:, :, None],
        position=np.zeros(n, dtype=int),
        estimated_rewards=log["q_true"][:, :, None],
        random_state=0,
    )
    pd.testing.assert_frame_equal(flat, one)


def test_reward_model_recovers_the_reward_probabilities(log):
    fitted = fit_reward_model(
        log["context"], log["action"], log["reward"], N_ACTIONS, new_context=np.eye(N_TYPES)
    )
    assert fitted.shape == (N_TYPES, N_ACTIONS)
    assert np.abs(fitted - Q).mean() < 0.03
    q = fit_reward_model(log["context"], log["action"], log["reward"], N_ACTIONS)
    table = evaluate_all(**_inputs(log, estimated_rewards=q), random_state=0)
    for name in ("dm", "dr", "switch-dr"):
        assert abs(table.loc[name, "value"] - TRUTH) < 4 * max(table.loc[name, "std_error"], 0.005)


def test_additive_reward_model_is_misspecified_but_dr_holds(log):
    q = fit_reward_model(
        log["context"], log["action"], log["reward"], N_ACTIONS, features="additive"
    )
    found = estimate("dr", **_inputs(log, estimated_rewards=q), random_state=0)
    assert abs(found.value - TRUTH) < 4 * found.std_error


def test_reward_model_with_positions_and_cross_fitting(log):
    n = len(log["reward"])
    position = np.random.default_rng(0).integers(0, 2, n)
    args = (log["context"], log["action"], log["reward"], N_ACTIONS)
    q = fit_reward_model(*args, position=position, len_list=3)
    assert q.shape == (n, N_ACTIONS, 3) and ((q > 0) & (q < 1)).all()
    crossed = fit_reward_model(*args, position=position, n_folds=3, random_state=0)
    assert crossed.shape == (n, N_ACTIONS, 2)
    assert not np.allclose(crossed, q[:, :, :2]) and np.abs(crossed - q[:, :, :2]).max() < 0.1
    again = fit_reward_model(*args, position=position, n_folds=3, random_state=0)
    np.testing.assert_array_equal(crossed, again)


def _bad(log, **changes):
    data = {**_inputs(log), "estimated_rewards": log["q_true"], **changes}
    return data


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"reward": np.zeros((4, 2))}, r"reward must have shape \(n,\)\. Got shape \(4, 2\)"),
        ({"reward": np.array([])}, "reward is empty"),
        (
            {"action": np.zeros(3, dtype=int)},
            r"action must have shape \(20000,\).*Got shape \(3,\)",
        ),
        ({"action": "float"}, "action must hold integer action ids; got dtype float64"),
        ({"action": "too_big"}, r"action must lie in \[0, 5\).*got 5 at row 0"),
        ({"action": "negative"}, r"action must lie in \[0, 5\).*got -1 at row 0"),
        ({"pscore": "zero"}, r"pscore must be .* in \(0, 1\]\. Got 0\.0 at row 0"),
        ({"pscore": "above_one"}, r"pscore .* Got 1\.5 at row 0"),
        ({"pscore": "nan"}, r"pscore .* Got nan at row 0"),
        ({"pscore": np.array(["a"] * 20000)}, "pscore must be numeric; got dtype <U1"),
        ({"reward": "nan"}, r"reward must be finite; got nan at index \(0,\)"),
        (
            {"action_dist": np.ones((20000,))},
            r"action_dist must have shape .* Got shape \(20000,\)",
        ),
        ({"action_dist": "negative"}, r"action_dist must hold probabilities >= 0; got -0\.5"),
        ({"action_dist": "unnormalised"}, r"action_dist must sum to 1 .* row 0 sums to 2\.0"),
        ({"action_dist": "nan"}, r"action_dist must be finite; got nan at index \(0, 0, 0\)"),
        ({"position": np.zeros(20000, dtype=int)}, "position was given but action_dist has no"),
        ({"estimated_rewards": None}, "dm, dr, switch-dr need estimated_rewards"),
        ({"estimated_rewards": np.zeros((20000, 4))}, r"estimated_rewards must have the shape of"),
        ({"estimated_rewards": "nan"}, r"estimated_rewards must be finite; got nan"),
        ({"action_dist": [["a", "b"]] * 20000}, "action_dist must be a numeric array; got list"),
        ({"estimated_rewards": [["x"] * 5] * 20000}, "estimated_rewards must be a numeric"),
        ({"tau": -1.0}, r"tau, switch-DR's threshold .* Got -1\.0"),
        ({"tau": math.nan}, r"tau, switch-DR's threshold .* Got nan"),
        ({"tau": "1"}, r"tau, switch-DR's threshold .* Got '1'"),
        ({"n_bootstrap": 0}, r"'n_bootstrap' parameter must be an int >= 1\. Got 0"),
        ({"n_bootstrap": 10.0}, r"'n_bootstrap' parameter must be an int >= 1\. Got 10\.0"),
        ({"alpha": 1.5}, r"alpha must be a float in \(0, 1\).*Got 1\.5"),
        ({"estimators": ["ipw", "IPS"]}, "Unknown off-policy estimator 'IPS'; choose one of ipw"),
        ({"estimators": []}, "estimators is empty"),
    ],
)
def test_bad_inputs_are_named(log, changes, match):
    data = _bad(log)
    for key, value in changes.items():
        if isinstance(value, str) and key not in ("tau",):
            arr = np.array(data[key], dtype=np.float64 if key != "action" else np.int64)
            if value == "float":
                arr = arr.astype(np.float64)
            elif value == "too_big":
                arr[0] = N_ACTIONS
            elif value in ("negative", "zero"):
                if key == "action_dist":
                    arr[0, 0], arr[0, 1] = -0.5, arr[0, 1] + arr[0, 0] + 0.5
                else:
                    arr[0] = -1 if key == "action" else 0.0
            elif value == "above_one":
                arr[0] = 1.5
            elif value == "nan":
                arr[(0,) * arr.ndim] = np.nan
            elif value == "unnormalised":
                arr[0] = arr[0] * 2
            value = arr
        data[key] = value
    with pytest.raises(LumosUserError, match=match) as err:
        evaluate_all(**data, random_state=0)
    assert err.value.code == "bad_argument"


def test_position_errors(log):
    n = len(log["reward"])
    dist3 = np.repeat(log["action_dist"][:, :, None], 3, axis=2)
    data = {**_inputs(log), "action_dist": dist3}
    with pytest.raises(LumosUserError, match="axis of length 3; pass position"):
        estimate("ipw", **data)
    with pytest.raises(LumosUserError, match=r"position must lie in \[0, 3\).*got 3 at row 0"):
        estimate("ipw", **data, position=np.r_[3, np.zeros(n - 1, dtype=int)])
    with pytest.raises(LumosUserError, match=r"position must hold integer slots.*float64"):
        estimate("ipw", **data, position=np.zeros(n))
    bad = dist3.copy()
    bad[5, :, 2] = 0
    with pytest.raises(LumosUserError, match=r"row 5, position 2 sums to 0\.0"):
        estimate("ipw", **{**data, "action_dist": bad}, position=np.zeros(n, dtype=int))


def test_snipw_without_any_weight_is_refused(log):
    zero = np.zeros_like(log["action_dist"])
    zero[np.arange(len(zero)), (log["action"] + 1) % N_ACTIONS] = 1.0  # never the logged one
    with pytest.raises(LumosUserError, match="SNIPW is undefined") as err:
        estimate("snipw", **{**_inputs(log), "action_dist": zero})
    assert err.value.code == "bad_value"
    assert estimate("ipw", **{**_inputs(log), "action_dist": zero}, random_state=0).value == 0


@pytest.mark.parametrize(
    ("kwargs", "match", "code"),
    [
        ({"reward": "half"}, r"reward must hold 0/1; got 0\.5 at row 0", "non_binary_label"),
        ({"reward": "zeros"}, r"reward holds only 0\.0: a reward model needs", "non_binary_label"),
        ({"features": "full"}, r"features must be 'crossed' or 'additive'\. Got 'full'", None),
        ({"C": 0}, r"'C' parameter of fit_reward_model must be a float > 0\. Got 0", None),
        (
            {"n_folds": 0},
            r"'n_folds' parameter .*must be an int >= 1\. Got 0",
            None,
        ),
        ({"n_folds": 2, "new_context": np.eye(10)}, "drop new_context or set n_folds=1", None),
        ({"new_context": np.eye(3)}, r"new_context must have the 10 columns.*\(3, 3\)", None),
        ({"context": np.zeros(20000)}, r"context must be a 2-D array.*Got shape \(20000,\)", None),
        ({"context": "text"}, "context must be numeric; got dtype <U1. One-hot encode", None),
        ({"len_list": 3}, "len_list was given without position", None),
        (
            {"n_actions": 0},
            r"'n_actions' parameter .*must be an int >= 1\. Got 0",
            None,
        ),
        ({"n_actions": 3}, r"action must lie in \[0, 3\)", None),
    ],
)
def test_reward_model_errors(log, kwargs, match, code):
    args = {
        "context": log["context"],
        "action": log["action"],
        "reward": log["reward"],
        "n_actions": N_ACTIONS,
    }
    for key, value in kwargs.items():
        if isinstance(value, str) and key != "features":
            value = {
                "half": np.r_[0.5, log["reward"][1:]],
                "zeros": np.zeros(len(log["reward"])),
                "text": np.full((4, 2), "a"),
            }[value]
        args[key] = value
    with pytest.raises(LumosUserError, match=match) as err:
        fit_reward_model(**args)
    assert err.value.code == (code or "bad_argument")


@pytest.fixture(scope="module")
def obp_ope():
    """OBP's estimators (the reference implementation), when sb-obp and its deps are present."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        module = pytest.importorskip("obp.ope")
    finally:  # obp.dataset calls logging.basicConfig(level=INFO) on import; undo it
        root.handlers[:], root.level = handlers, level
    return module


def test_point_estimates_match_the_open_bandit_pipeline(obp_ope, log):
    n = len(log["reward"])
    position = np.random.default_rng(1).integers(0, 2, n)
    dist = np.stack([log["action_dist"], np.roll(log["action_dist"], 2, axis=1)], axis=2)
    q = fit_reward_model(log["context"], log["action"], log["reward"], N_ACTIONS, position=position)
    data = {**_inputs(log), "action_dist": dist, "position": position}
    tau = 3.0
    ours = evaluate_all(**data, estimated_rewards=q, tau=tau, n_bootstrap=10, random_state=0)
    theirs = {
        "ipw": obp_ope.InverseProbabilityWeighting(),
        "snipw": obp_ope.SelfNormalizedInverseProbabilityWeighting(),
        "dm": obp_ope.DirectMethod(),
        "dr": obp_ope.DoublyRobust(),
        "switch-dr": obp_ope.SwitchDoublyRobust(lambda_=tau),
    }
    for name, estimator in theirs.items():
        value = estimator.estimate_policy_value(**data, estimated_rewards_by_reg_model=q)
        assert ours.loc[name, "value"] == pytest.approx(value, rel=1e-10), name
