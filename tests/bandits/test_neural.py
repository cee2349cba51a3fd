"""NeuralTS: closed-form gradient features against torch.func, learning, propensities."""

import copy

import numpy as np
import pytest

from lumos.bandits import LinTS, NeuralTS
from lumos.errors import LumosUserError

torch = pytest.importorskip("torch")

DM, DA, K = 4, 3, 6


def trained(seed=0, **kw):
    rng = np.random.default_rng(seed)
    policy = NeuralTS(DM, DA, hidden=16, random_state=seed, **kw)
    arms = rng.normal(size=(K, DA))
    ctx = rng.normal(size=(200, DM))
    policy.update(ctx, arms, rng.integers(0, K, 200), rng.normal(size=200))
    return rng, policy, arms


def test_closed_form_mean_and_variance_equal_torch_func():
    rng, policy, arms = trained()
    ctx = rng.normal(size=(7, DM))
    mean, var = policy.mean_and_variance(ctx, arms)
    with_one = np.hstack([np.ones((7, 1)), ctx])  # the context as the network reads it
    oracle_mean, oracle_var = policy._general(with_one, arms)  # vmap(grad) on the same network
    np.testing.assert_allclose(mean, oracle_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, oracle_var, rtol=1e-5, atol=1e-9)
    assert (var > 0).all() and var.std() > 0


def test_closed_form_design_update_equals_the_general_path():
    rng = np.random.default_rng(1)
    shipped = NeuralTS(DM, DA, hidden=16, steps=0, random_state=3)
    general = NeuralTS(DM, DA, network=copy.deepcopy(shipped.network), steps=0, random_state=3)
    assert not general.shipped
    arms, ctx = rng.normal(size=(K, DA)), rng.normal(size=(50, DM))
    played, rewards = rng.integers(0, K, 50), rng.normal(size=50)
    shipped.update(ctx, arms, played, rewards)
    general.update(ctx, arms, played, rewards)
    for name, u in shipped.U.items():
        np.testing.assert_allclose(u, general.U[name], rtol=1e-5)
        assert (u > shipped.alpha).any()
    probe = rng.normal(size=(3, DM))
    np.testing.assert_allclose(
        shipped.mean_and_variance(probe, arms)[1],
        general.mean_and_variance(probe, arms)[1],
        rtol=1e-5,
    )


def test_a_custom_network_takes_the_general_path_and_decides():
    inputs = (DM + 1) * DA  # the context gets the intercept's 1 in front
    net = torch.nn.Sequential(torch.nn.Linear(inputs, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    policy = NeuralTS(DM, DA, network=net, random_state=0)
    rng = np.random.default_rng(0)
    arms = rng.normal(size=(K, DA))
    d = policy.select(rng.normal(size=(5, DM)), arms)
    assert d.arms.shape == (5,) and ((d.propensities > 0) & (d.propensities <= 1)).all()


def nonlinear_regret(policy, rounds=1500, batch=20, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(5, 4))
    arms, regret = np.eye(4), 0.0
    for _ in range(rounds // batch):
        ctx = rng.normal(size=(batch, 5)) / np.sqrt(5)
        truth = np.cos(3 * ctx @ theta)  # no linear model of m ⊗ a fits this
        played = policy.select(ctx, arms).arms
        got = truth[np.arange(batch), played]
        regret += (truth.max(axis=1) - got).sum()
        policy.update(ctx, arms, played, got + rng.normal(0, 0.1, batch))
    return regret


def test_beats_lints_on_a_nonlinear_reward():
    neural = nonlinear_regret(NeuralTS(5, 4, hidden=32, nu=0.25, n_propensity=1, random_state=0))
    linear = nonlinear_regret(LinTS(5, 4, nu=0.25, n_propensity=1, random_state=0))
    assert neural < 0.8 * linear, (neural, linear)


def test_same_seed_same_decisions_and_weights():
    runs = []
    for _ in range(2):
        rng, policy, arms = trained(seed=5)
        runs.append((policy.select(rng.normal(size=(20, DM)), arms).arms, policy._w1.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_propensities_match_how_often_each_arm_is_played():
    rng, policy, arms = trained(seed=2, nu=2.0)
    ctx = rng.normal(size=(1, DM))
    probs = policy.action_probabilities(ctx, arms, draws=20_000)[0]
    played = policy.select(np.repeat(ctx, 4000, axis=0), arms).arms
    freq = np.bincount(played, minlength=K) / 4000
    assert probs.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(freq, probs, atol=0.03)
    d = policy.select(ctx, arms)
    assert d.propensities[0] == pytest.approx(probs[d.arms[0]], abs=0.12)


def test_mask_is_respected():
    rng, policy, arms = trained(nu=5.0)
    mask = np.zeros((30, K), dtype=bool)
    mask[:, [1, 4]] = True
    d = policy.select(rng.normal(size=(30, DM)), arms, mask=mask)
    assert set(d.arms) <= {1, 4}
    p = policy.action_probabilities(rng.normal(size=(3, DM)), arms, mask=mask[:3], draws=200)
    assert (p[:, [0, 2, 3, 5]] == 0).all()


def test_fit_retrains_from_scratch_and_the_buffer_keeps_the_newest_pairs():
    rng, policy, arms = trained(max_pairs=150)
    assert policy.n_updates == 200 and policy._count == 150
    ctx = rng.normal(size=(60, DM))
    played, rewards = rng.integers(0, K, 60), rng.normal(size=60)
    policy.fit(ctx, arms, played, rewards, epochs=2)
    assert policy.n_updates == 60 and policy._count == 60
    with_one = np.hstack([np.ones((60, 1)), ctx])
    expected = (with_one[:, :, None] * arms[played][:, None, :]).reshape(60, -1)
    np.testing.assert_allclose(policy._x[:60], expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"hidden": 0}, "hidden"),
        ({"nu": -1.0}, "nu"),
        ({"alpha": 0.0}, "alpha"),
        ({"steps": 1.5}, "steps"),
        ({"n_propensity": 0}, "n_propensity"),
    ],
)
def test_bad_arguments_are_named(kwargs, field):
    with pytest.raises(LumosUserError, match=field):
        NeuralTS(DM, DA, **kwargs)


def test_bad_inputs_are_named():
    _, policy, arms = trained()
    with pytest.raises(LumosUserError, match="contexts must be"):
        policy.select(np.ones((2, DM + 1)), arms)
    with pytest.raises(LumosUserError, match="arms must index"):
        policy.update(np.ones((2, DM)), arms, [0, K], [1.0, 0.0])
    with pytest.raises(LumosUserError, match="rewards must be finite"):
        policy.update(np.ones((1, DM)), arms, [0], [np.nan])


def test_saved_and_loaded_policies_decide_alike(tmp_path):
    from lumos.bandits import EpsilonGreedy, load_policy, save_policy

    rng, neural, arms = trained(seed=4, max_pairs=150)
    policies = [
        neural,
        LinTS(DM, DA, nu=0.5, random_state=1),
        EpsilonGreedy(DM, DA, random_state=2),
    ]
    policies[1].update(rng.normal(size=(30, DM)), arms, rng.integers(0, K, 30), rng.normal(size=30))
    probe = rng.normal(size=(40, DM))
    for i, policy in enumerate(policies):
        path = save_policy(policy, tmp_path / f"p{i}.npz")
        loaded = load_policy(path)
        assert type(loaded) is type(policy) and loaded.n_updates == policy.n_updates
        np.testing.assert_array_equal(
            loaded.select(probe, arms).arms, policy.select(probe, arms).arms
        )
        more = (rng.normal(size=(20, DM)), arms, rng.integers(0, K, 20), rng.normal(size=20))
        loaded.update(*more)
        policy.update(*more)
        np.testing.assert_allclose(
            loaded.select(probe, arms).scores, policy.select(probe, arms).scores, rtol=1e-6
        )


def test_loading_a_file_that_is_not_a_policy_names_it(tmp_path):
    from lumos.bandits import load_policy
    from lumos.errors import DataValidationError

    with pytest.raises(DataValidationError, match="does not exist"):
        load_policy(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(DataValidationError, match=r"bad\.npz' is not a saved Lumos policy"):
        load_policy(bad)
    np.savez(tmp_path / "other.npz", meta=np.array('{"format": "x"}'))
    with pytest.raises(DataValidationError, match="format 'x'"):
        load_policy(tmp_path / "other.npz")


def test_the_network_trains_on_every_kth_update_only():
    rng = np.random.default_rng(0)
    policy = NeuralTS(DM, DA, hidden=8, train_every=3, random_state=0)
    arms, start = rng.normal(size=(K, DA)), policy._w1.copy()
    for call in range(1, 4):
        before_u = policy.U["0.bias"].copy()
        policy.update(rng.normal(size=(10, DM)), arms, rng.integers(0, K, 10), rng.normal(size=10))
        assert (policy.U["0.bias"] >= before_u).all() and policy.n_updates == 10 * call
        assert np.array_equal(policy._w1, start) == (call < 3)


def test_seed_is_the_older_name_of_random_state():
    with pytest.warns(DeprecationWarning, match="NeuralTS's 'seed' is now 'random_state'"):
        old = NeuralTS(DM, DA, hidden=8, seed=6)
    new = NeuralTS(DM, DA, hidden=8, random_state=6)
    weights = dict(new.network.named_parameters())
    for name, w in old.network.named_parameters():
        np.testing.assert_array_equal(w.detach().numpy(), weights[name].detach().numpy())
    with pytest.warns(DeprecationWarning, match="'seed' is now 'random_state'"):
        assert old.seed == 6


def test_a_saved_policy_that_never_learned_loads_and_learns(tmp_path):
    from lumos.bandits import load_policy, save_policy

    fresh = NeuralTS(DM, DA, hidden=8, random_state=0)
    loaded = load_policy(save_policy(fresh, tmp_path / "fresh.npz"))
    assert loaded.n_updates == 0 and loaded._count == 0
    rng = np.random.default_rng(1)
    loaded.update(rng.normal(size=(5, DM)), np.eye(DA), [0, 1, 2, 0, 1], np.ones(5))
    assert loaded.n_updates == 5 and loaded._count == 5
