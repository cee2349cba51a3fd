"""LinTS and ε-greedy over crossed member × arm features."""

import numpy as np
import pytest

from lumos.bandits import EpsilonGreedy, LinTS
from lumos.errors import LumosUserError

DM, DA, K = 6, 5, 20


def world(seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(DM, DA))
    arms = rng.normal(size=(K, DA))
    return rng, theta, arms


def expected(ctx, theta, arms):
    return ctx @ theta @ arms.T  # (n, k)


def play(policy, rounds=80, batch=50, seed=0):
    rng, theta, arms = world(seed)
    regret = 0.0
    for _ in range(rounds):
        ctx = rng.normal(size=(batch, DM))
        mean = expected(ctx, theta, arms)
        d = policy.select(ctx, arms)
        regret += (mean.max(axis=1) - mean[np.arange(batch), d.arms]).sum()
        policy.update(ctx, arms, d.arms, mean[np.arange(batch), d.arms] + rng.normal(0, 0.5, batch))
    return regret, theta


def test_both_learn_the_reward_and_beat_playing_at_random():
    rng, theta, arms = world()
    random_regret = 0.0
    for _ in range(80):
        ctx = rng.normal(size=(50, DM))
        mean = expected(ctx, theta, arms)
        random_regret += (mean.max(axis=1) - mean[np.arange(50), rng.integers(0, K, 50)]).sum()
    for policy in (
        LinTS(DM, DA, nu=0.5, random_state=1),
        EpsilonGreedy(DM, DA, epsilon=0.1, random_state=1),
    ):
        regret, truth = play(policy)
        assert regret < 0.25 * random_regret, type(policy).__name__
        slopes = policy.mean.reshape(1 + DM, DA)[1:]  # row 0: the intercept's weights
        assert np.corrcoef(slopes.ravel(), truth.ravel())[0, 1] > 0.99


def test_propensities_match_how_often_each_arm_is_played():
    rng, _, arms = world(3)
    ctx = rng.normal(size=(1, DM))
    for policy in (
        LinTS(DM, DA, nu=1.0, n_propensity=400, random_state=2),
        EpsilonGreedy(DM, DA, random_state=2),
    ):
        policy.update(rng.normal(size=(30, DM)), arms, rng.integers(0, K, 30), rng.normal(size=30))
        many = np.repeat(ctx, 4000, axis=0)
        d = policy.select(many, arms)
        freq = np.bincount(d.arms, minlength=K) / len(many)
        for arm in np.unique(d.arms)[:5]:
            p = d.propensities[d.arms == arm].mean()
            assert abs(p - freq[arm]) < 0.03, (type(policy).__name__, arm, p, freq[arm])


def test_masks_seeds_and_shapes():
    rng, _, arms = world(4)
    ctx = rng.normal(size=(200, DM))
    mask = np.zeros((200, K), dtype=bool)
    mask[:, :3] = True
    mask[::2, 7] = True
    for make in (
        lambda: LinTS(DM, DA, random_state=5),
        lambda: EpsilonGreedy(DM, DA, epsilon=0.5, random_state=5),
    ):
        d = make().select(ctx, arms, mask=mask)
        assert (
            mask[np.arange(200), d.arms].all()
            and ((d.propensities > 0) & (d.propensities <= 1)).all()
        )
        again = make().select(ctx, arms, mask=mask)
        np.testing.assert_array_equal(d.arms, again.arms)
        assert d.scores.shape == (200, K)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p, a: p.select(np.ones((2, DM + 1)), a), "contexts must be"),
        (lambda p, a: p.select(np.ones((2, DM)), a[:, :2]), "arm_features must be"),
        (lambda p, a: p.select(np.full((1, DM), np.nan), a), "finite"),
        (lambda p, a: p.select(np.ones((2, DM)), a, mask=np.ones((2, 3), bool)), "mask must be"),
        (lambda p, a: p.select(np.ones((1, DM)), a, mask=np.zeros((1, K), bool)), "no arm"),
        (lambda p, a: p.update(np.ones((2, DM)), a, [0, K], [1.0, 1.0]), "must index"),
        (lambda p, a: p.update(np.ones((2, DM)), a, [0], [1.0, 1.0]), "arms and rewards"),
        (lambda p, a: p.update(np.ones((1, DM)), a, [0], [np.inf]), "rewards must be finite"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    _, _, arms = world()
    with pytest.raises(LumosUserError, match=message):
        call(LinTS(DM, DA), arms)


def test_bad_settings():
    for make, message in [
        (lambda: LinTS(0, 3), "'d_member' parameter of LinTS must be"),
        (lambda: LinTS(2, 3, nu=-1), "'nu' parameter of LinTS must be"),
        (lambda: LinTS(2, 3, n_propensity=0), "n_propensity"),
        (lambda: EpsilonGreedy(2, 3, epsilon=2), "'epsilon' parameter of EpsilonGreedy must be"),
        (lambda: EpsilonGreedy(2, 3, alpha=0), "'alpha' parameter of EpsilonGreedy must be"),
    ]:
        with pytest.raises(LumosUserError, match=message):
            make()


def test_the_posterior_of_every_pair_is_the_ridge_posterior():
    rng = np.random.default_rng(3)
    policy = LinTS(3, 4, alpha=2.0, random_state=0)
    contexts, arms = rng.normal(size=(200, 3)), rng.normal(size=(4, 4))
    policy.update(contexts, arms, rng.integers(0, 4, 200), rng.random(200))
    mean, var = policy.mean_and_variance(contexts[:5], arms)
    inverse = np.linalg.inv(policy.precision)
    for i in range(5):
        for k in range(4):
            x = np.outer(np.r_[1.0, contexts[i]], arms[k]).ravel()  # the intercept's 1 first
            assert mean[i, k] == pytest.approx(x @ policy.mean)
            assert var[i, k] == pytest.approx(x @ inverse @ x)


@pytest.mark.parametrize("make", [LinTS, EpsilonGreedy])
def test_seed_is_the_older_name_of_random_state(make):
    _, _, arms = world()
    ctx = np.random.default_rng(1).normal(size=(30, DM))
    with pytest.warns(DeprecationWarning, match=f"{make.__name__}'s 'seed' is now 'random_state'"):
        old = make(DM, DA, seed=4)
    new = make(DM, DA, random_state=4)
    np.testing.assert_array_equal(old.select(ctx, arms).arms, new.select(ctx, arms).arms)


def base_rate_rounds(seed=0, n=2000):
    """Centred contexts, one-hot arms whose rewards differ by a base rate no context gives."""
    rng = np.random.default_rng(seed)
    contexts = rng.normal(size=(n, 3))
    arms = rng.integers(0, 3, n)
    rate = np.array([0.2, 0.5, 0.8])[arms] + 0.1 * contexts[:, 0]
    return contexts, np.eye(3), arms, rate + rng.normal(0, 0.1, n)


@pytest.mark.parametrize("make", [LinTS, EpsilonGreedy])
def test_the_default_intercept_learns_each_arms_base_rate(make):
    contexts, arms, played, rewards = base_rate_rounds()
    with_intercept = make(3, 3, random_state=0).update(contexts, arms, played, rewards)
    without = make(3, 3, fit_intercept=False, random_state=0).update(
        contexts, arms, played, rewards
    )
    average = np.zeros((1, 3))
    mean, _ = with_intercept.mean_and_variance(average, arms)
    np.testing.assert_allclose(mean[0], [0.2, 0.5, 0.8], atol=0.02)
    mean, _ = without.mean_and_variance(average, arms)
    np.testing.assert_allclose(mean[0], 0.0)  # no intercept: the average member scores 0


@pytest.mark.parametrize("make", [LinTS, EpsilonGreedy])
def test_the_intercept_is_a_column_of_ones_in_front_of_the_context(make):
    contexts, arms, played, rewards = base_rate_rounds(1, 300)
    ones = np.hstack([np.ones((len(contexts), 1)), contexts])
    a = make(3, 3, random_state=7).update(contexts, arms, played, rewards)
    b = make(4, 3, fit_intercept=False, random_state=7).update(ones, arms, played, rewards)
    np.testing.assert_allclose(a.mean, b.mean)
    np.testing.assert_array_equal(
        a.select(contexts[:50], arms).arms, b.select(ones[:50], arms).arms
    )
    np.testing.assert_allclose(
        a.action_probabilities(contexts[:5], arms), b.action_probabilities(ones[:5], arms)
    )


def test_fit_intercept_must_be_a_flag():
    with pytest.raises(
        LumosUserError, match="'fit_intercept' parameter of LinTS must be True or"
    ) as e:
        LinTS(2, 2, fit_intercept="yes")
    assert e.value.code == "bad_argument"


def test_a_policy_saved_before_the_intercept_loads_without_one(tmp_path):
    import json

    from lumos.bandits import load_policy
    from lumos.bandits._persist import FORMAT, VERSION, npz_bytes, policy_bytes, read_npz

    contexts, arms, played, rewards = base_rate_rounds(2, 100)
    old = LinTS(3, 3, fit_intercept=False, random_state=0).update(contexts, arms, played, rewards)
    (tmp_path / "new.npz").write_bytes(policy_bytes(old))
    arrays, meta = read_npz(
        tmp_path / "new.npz", what="policy", fmt=FORMAT, version=VERSION, how=""
    )
    del meta["params"]["fit_intercept"]  # as files were written before it was a setting
    (tmp_path / "old.npz").write_bytes(npz_bytes(arrays, json.loads(json.dumps(meta))))
    loaded = load_policy(tmp_path / "old.npz")
    assert loaded.fit_intercept is False
    np.testing.assert_allclose(loaded.mean, old.mean)


@pytest.mark.parametrize("make", [LinTS, EpsilonGreedy])
def test_lints_default_prior_keeps_a_scores_spread_near_nu_whatever_the_context_size(make):
    rng = np.random.default_rng(0)
    assert EpsilonGreedy(4, 3).alpha == 1.0  # it does not draw: the plain ridge penalty
    for d in (4, 64):
        policy = make(d, 3, alpha="auto", random_state=0)
        assert LinTS(d, 3).alpha == d + 1
        assert policy.alpha == d + 1  # the context it reads: d features and the intercept's 1
        _, var = policy.mean_and_variance(rng.normal(size=(2000, d)), np.eye(3))
        assert 0.8 < var.mean() < 1.2  # ‖(1, m)‖² / (d + 1): LinTS's draws spread ν around 0
    assert make(4, 3, alpha=2.5).alpha == 2.5
    with pytest.raises(LumosUserError, match=r"'alpha' parameter of .* or 'auto'\. Got 'big'"):
        make(4, 3, alpha="big")
