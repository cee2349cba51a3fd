"""Bandits: policies that explore and exploit, and off-policy evaluation of them.

* Policies over crossed member × arm features, each decision with its
  propensity: :class:`LinTS` (Thompson sampling from a Bayesian linear
  regression), :class:`NeuralTS` (a network's output and gradients as the
  mean and variance; PyTorch, an optional extra) and :class:`EpsilonGreedy`.
* The estimators of the Open Bandit Pipeline (IPW, SNIPW, DM, DR, switch-DR)
  with bootstrap intervals, and a logistic reward model for the model-based
  ones::

    q = fit_reward_model(context, action, reward, n_actions, position=position)
    table = evaluate_all(reward=reward, action=action, pscore=pscore,
                         action_dist=target, position=position, estimated_rewards=q)

* Offer matching over product × creative × channel arms and "no offer":
  :class:`OfferModel` (decisions under a weekly :class:`FrequencyCap`,
  rewards from the funnel event log, mini-batch updates, full retrains,
  off-policy judging) and a :class:`TwoTower` matching model whose member and
  arm embeddings join the policy's features.
* One policy and one set of caps for the processes serving a model:
  :func:`open_offer_state` opens an :class:`OfferState` (a SQLite file, or
  Redis) and :meth:`OfferModel.share` binds the model to it.
"""

from lumos.bandits._linear import (
    DEFAULT_EPSILON,
    DEFAULT_NU,
    Decision,
    EpsilonGreedy,
    LinearPolicy,
    LinTS,
)
from lumos.bandits._manage import judge_models, open_offer_model
from lumos.bandits._neural import NeuralTS
from lumos.bandits._offer_judging import CANDIDATES
from lumos.bandits._offer_rounds import FrequencyCap
from lumos.bandits._offer_state import OfferState, open_offer_state
from lumos.bandits._offer_tables import NO_OFFER
from lumos.bandits._offers import OfferModel, OfferSettings
from lumos.bandits._ope import ESTIMATORS, Estimate, estimate, evaluate_all
from lumos.bandits._persist import load_policy, save_policy
from lumos.bandits._reward import fit_reward_model
from lumos.bandits._two_tower import TwoTower

__all__ = [
    "CANDIDATES",
    "DEFAULT_EPSILON",
    "DEFAULT_NU",
    "ESTIMATORS",
    "NO_OFFER",
    "Decision",
    "EpsilonGreedy",
    "Estimate",
    "FrequencyCap",
    "LinTS",
    "LinearPolicy",
    "NeuralTS",
    "OfferModel",
    "OfferSettings",
    "OfferState",
    "TwoTower",
    "estimate",
    "evaluate_all",
    "fit_reward_model",
    "judge_models",
    "load_policy",
    "open_offer_model",
    "open_offer_state",
    "save_policy",
]
