"""The bandit defaults: one exploration scale everywhere, and one that suits Bernoulli rewards."""

import numpy as np
import pytest

from lumos.bandits import (
    DEFAULT_EPSILON,
    DEFAULT_NU,
    EpsilonGreedy,
    LinTS,
    NeuralTS,
    OfferSettings,
)
from lumos.errors import LumosUserError


def test_every_thompson_policy_and_offer_settings_share_one_default_scale():
    assert LinTS(2, 3).nu == DEFAULT_NU
    assert NeuralTS(2, 3, hidden=4).nu == DEFAULT_NU
    assert OfferSettings().nu == DEFAULT_NU


def test_epsilon_greedy_and_offer_settings_share_one_default_epsilon():
    assert EpsilonGreedy(2, 3).epsilon == DEFAULT_EPSILON == OfferSettings().epsilon


def logistic_regret(policy, seed: int, rounds: int = 1500, batch: int = 50) -> float:
    """Expected regret on a linear-logistic world with Bernoulli rewards, 4 arms."""
    rng = np.random.default_rng(100 + seed)
    theta = rng.normal(size=(5, 4))
    arms = np.eye(4)
    regret = 0.0
    for _ in range(rounds // batch):
        ctx = np.hstack([np.ones((batch, 1)), rng.normal(size=(batch, 4))])
        rate = 1 / (1 + np.exp(-(ctx @ theta - 2)))  # rates of a few per cent to a half
        played = policy.select(ctx, arms).arms
        p = rate[np.arange(batch), played]
        regret += (rate.max(axis=1) - p).sum()
        policy.update(ctx, arms, played, (rng.random(batch) < p).astype(float))
    return regret


def test_lints_with_its_defaults_beats_epsilon_greedy_with_its_defaults():
    thompson = [logistic_regret(LinTS(5, 4, random_state=s), s) for s in range(3)]
    greedy = [logistic_regret(EpsilonGreedy(5, 4, random_state=s), s) for s in range(3)]
    assert sum(thompson) < sum(greedy)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: LinTS(2, 3, nu=-0.1), "'nu' parameter of LinTS must be a float >= 0. Got -0.1"),
        (lambda: LinTS(2, 3, nu=float("nan")), "'nu' parameter of LinTS"),
        (lambda: NeuralTS(2, 3, nu=-1), "'nu' parameter of NeuralTS must be"),
        (lambda: NeuralTS(2, 3, nu="high"), "'nu' parameter of NeuralTS must be"),
        (lambda: OfferSettings(nu=0), "'nu' parameter of OfferSettings must be a float > 0"),
        (lambda: OfferSettings(nu=-1), "'nu' parameter of OfferSettings"),
    ],
)
def test_bad_exploration_scales_are_rejected(make, message):
    with pytest.raises(LumosUserError, match=message) as raised:
        make()
    assert raised.value.code == "bad_argument"
