"""Bandit defaults on data nobody tuned them on: classification sets turned into bandits.

Each task is a classification set streamed as a contextual bandit, the way
the Open Bandit Pipeline builds its supervised-to-bandit tasks: every class
is an arm, a round shows one row's standardized features, and the reward is
1 when the arm played is the row's true class, else 0 (Bernoulli).
Regret is rounds minus the reward collected (the best policy, knowing the
class, collects 1 a round). Policies see one member a round and learn from
mini-batches of ``BATCH`` rounds, as from the event log.

Linear tasks, for LinTS against ε-greedy and MABWiser's ``LinTS``, every one
with its defaults: scikit-learn's digits, wine, breast cancer and iris.
Non-linear tasks, for NeuralTS against LinTS (neither is the NeuralTS
benchmark's ``cos`` world of ``benchmarks/offers.py``): scikit-learn's
``make_gaussian_quantiles`` (three classes as nested shells around the
origin) and ``make_circles`` (an inner and an outer ring, padded with four
noise features); no linear model of the features separates their classes.

Decision latency: one member over the digits task's ten arms after learning
the whole run, Lumos's ``LinTS.select`` (with its propensity) beside
MABWiser's ``predict`` for one context, in the same process, both warmed up
and timed in turns, so a busy moment of the machine falls on both alike.

Everything runs with one BLAS thread (``threadpoolctl``), Lumos and MABWiser
alike: on a 2-core machine shared with other work, multithreaded BLAS made a
640 × 640 factorisation ten times slower, and the run's time is most of what
this setting changes (each run is seeded; the regrets do not depend on it).

MABWiser's LinTS draws each arm's coefficients from a copy of one random
generator (each arm's model is deep-copied, generator and all, when it
learns), so arms that learned in the same batch draw the same normals: its
arms' draws are correlated, a Thompson sampler that explores less than its
posterior says. It is measured as shipped.

Rounds and seeds: 2000 rounds, 3 seeds (``details.std`` is the spread over
seeds); ``--quick``: 600 rounds, 1 seed.

Run alone: ``python benchmarks/_defaults_bandits.py [--quick]``; one JSON
object on the last line. ``benchmarks/defaults.py`` calls :func:`results`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import PACKAGES, emit, log
from threadpoolctl import threadpool_limits

from lumos.bandits import EpsilonGreedy, LinTS, NeuralTS

BATCH = 50  # rounds between policy updates
LINEAR = ("digits", "wine", "breast_cancer", "iris")
NONLINEAR = ("gaussian_quantiles", "circles")


def _standardized(x: np.ndarray) -> np.ndarray:
    std = x.std(0)
    return (x - x.mean(0)) / np.where(std > 0, std, 1)


def tasks(names=LINEAR + NONLINEAR) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (standardized features, classes 0..k-1)}``, all shipped inside scikit-learn."""
    from sklearn import datasets

    out = {}
    for name in names:
        if name in LINEAR:
            x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        elif name == "gaussian_quantiles":
            x, y = datasets.make_gaussian_quantiles(
                n_samples=3000, n_features=4, n_classes=3, random_state=0
            )
        else:  # circles: an inner and an outer ring, two informative features among six
            x, y = datasets.make_circles(n_samples=3000, noise=0.1, factor=0.5, random_state=0)
            noise = np.random.default_rng(0).normal(size=(len(x), 4))
            x = np.hstack([x, noise])
        out[name] = (_standardized(x.astype(float)), y.astype(int))
    return out


def regret(policy, x: np.ndarray, y: np.ndarray, rounds: int, seed: int) -> float:
    """Rounds minus reward collected, rows drawn with replacement, updates every ``BATCH``."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(x), rounds)
    arms = np.eye(int(y.max()) + 1)
    chosen, start, reward = np.empty(rounds, dtype=int), 0, 0.0
    for t, row in enumerate(rows):
        chosen[t] = policy.select(x[row : row + 1], arms).arms[0]
        if t + 1 - start == BATCH or t + 1 == rounds:
            done, start = slice(start, t + 1), t + 1
            r = (chosen[done] == y[rows[done]]).astype(float)
            reward += r.sum()
            policy.update(x[rows[done]], arms, chosen[done], r)
    return rounds - reward


class MabwiserLinTS:
    """MABWiser's ``MAB(arms, LearningPolicy.LinTS())``, its defaults, in the same protocol.

    It cannot decide before its first ``fit``, so it plays uniformly at random
    until the first batch has been learned (Lumos's policies draw from their
    prior then, which is as uninformed).
    """

    def __init__(self, k: int, seed: int):
        from mabwiser.mab import MAB, LearningPolicy

        self.mab = MAB(list(range(k)), LearningPolicy.LinTS(), seed=seed)
        self.rng = np.random.default_rng(seed)
        self.k, self.fitted = k, False

    def select(self, contexts, arms):
        if not self.fitted:
            return _Arm(np.array([self.rng.integers(self.k)]))
        return _Arm(np.array([self.mab.predict(contexts)]))

    def update(self, contexts, _arms, chosen, rewards):
        if self.fitted:
            self.mab.partial_fit(chosen, rewards, contexts)
        else:
            self.mab.fit(chosen, rewards, contexts)
            self.fitted = True
        return self


class _Arm:
    def __init__(self, arms):
        self.arms = arms


def _policies(d: int, k: int) -> dict:
    """Every contender with its defaults: ``{name: seed -> policy}``."""
    return {
        "LinTS": lambda s: LinTS(d, k, random_state=s),
        "epsilon_greedy": lambda s: EpsilonGreedy(d, k, random_state=s),
        "mabwiser_LinTS": lambda s: MabwiserLinTS(k, s),
        "NeuralTS": lambda s: NeuralTS(d, k, random_state=s),
    }


def regrets(task: str, x, y, names, rounds: int, seeds: int) -> dict[str, np.ndarray]:
    """``{policy: final regret per seed}`` on one task."""
    k = int(y.max()) + 1
    makers = _policies(x.shape[1], k)
    out = {}
    for name in names:
        started = time.perf_counter()
        out[name] = np.array([regret(makers[name](s), x, y, rounds, s) for s in range(seeds)])
        log(
            f"{task} {name}: regret {out[name].mean():.1f} ± {out[name].std():.1f} "
            f"({time.perf_counter() - started:.0f} s)"
        )
    return out


def _version(package: str) -> str:
    return importlib.metadata.version(package)


def _paired_latencies(calls, n: int, warmup: int) -> list[tuple[float, float]]:
    """p50 and p99 in µs of each of ``calls``, timed in turns (one call of each, ``n`` times).

    Taking turns puts a busy moment of a shared machine on both sides alike,
    where timing one side and then the other would put it on one.
    """
    for i in range(warmup):
        for call in calls:
            call(i)
    times = np.empty((len(calls), n))
    for i in range(n):
        for j, call in enumerate(calls):
            started = time.perf_counter()
            call(warmup + i)
            times[j, i] = time.perf_counter() - started
    return [tuple(float(t) for t in np.percentile(row, [50, 99]) * 1e6) for row in times]


def decision_latency(x, y, rounds: int) -> dict:
    """p50/p99 of one decision over ten arms, Lumos's LinTS and MABWiser's, both trained alike."""
    k = int(y.max()) + 1
    lumos, anchor = LinTS(x.shape[1], k, random_state=0), MabwiserLinTS(k, 0)
    regret(lumos, x, y, rounds, 0)
    regret(anchor, x, y, rounds, 0)
    arms = np.eye(k)
    rows = np.random.default_rng(1).integers(0, len(x), 3000)
    (lumos_p50, lumos_p99), (anchor_p50, anchor_p99) = _paired_latencies(
        (
            lambda i: lumos.select(x[rows[i] : rows[i] + 1], arms),
            lambda i: anchor.select(x[rows[i] : rows[i] + 1], arms),
        ),
        n=2000,
        warmup=200,
    )
    return {
        "name": "bandit_decision_p99_digits",
        "unit": "µs",
        "lumos": lumos_p99,
        "anchor": anchor_p99,
        "anchor_name": f"mabwiser {_version('mabwiser')} MAB(LearningPolicy.LinTS()).predict",
        "speedup": anchor_p99 / lumos_p99,
        "goal": {"speedup": "> 1"},
        "details": {
            "arms": k,
            "features": x.shape[1],
            "lumos_p50_us": lumos_p50,
            "anchor_p50_us": anchor_p50,
            "lumos_includes": "the played arm's propensity (100 further draws, the default)",
            "timed": "2000 calls each, in turns, after 200 untimed; one BLAS thread",
        },
    }


def _details(x, y, r: dict, rounds: int, lumos_is: str) -> dict:
    return {
        "rounds": rounds,
        "seeds": len(next(iter(r.values()))),
        "arms": int(y.max()) + 1,
        "features": x.shape[1],
        "std": {p: float(v.std()) for p, v in r.items()},
        "lumos_is": lumos_is,
        "regret_is": "rounds minus reward collected (the best policy collects 1)",
    }


def results(quick: bool) -> list[dict]:
    """The rows of the bandit part of ``benchmarks/defaults.py``."""
    with threadpool_limits(1):
        return _results(quick)


def _results(quick: bool) -> list[dict]:
    rounds, seeds = (600, 1) if quick else (2000, 3)
    data = tasks()
    out = []
    for task in LINEAR:
        x, y = data[task]
        r = regrets(task, x, y, ("LinTS", "epsilon_greedy", "mabwiser_LinTS"), rounds, seeds)
        lumos, eg, mab = (r[p].mean() for p in ("LinTS", "epsilon_greedy", "mabwiser_LinTS"))
        out.append(
            {
                "name": f"bandit_regret_{task}",
                "unit": "regret",
                "lumos": lumos,
                "anchor": mab,
                "anchor_name": f"mabwiser {_version('mabwiser')} MAB(LearningPolicy.LinTS())",
                "epsilon_greedy": eg,
                "ratio_to_anchor": lumos / mab,
                "ratio_to_epsilon_greedy": lumos / eg,
                "goal": {"ratio_to_anchor": "< 1", "ratio_to_epsilon_greedy": "< 1"},
                "details": _details(
                    x,
                    y,
                    r,
                    rounds,
                    "LinTS with its defaults (an intercept, alpha='auto', nu=0.25); "
                    "epsilon_greedy: EpsilonGreedy, its defaults (an intercept, alpha=1, "
                    "epsilon=0.05)",
                ),
            }
        )
    for task in NONLINEAR:
        x, y = data[task]
        r = regrets(task, x, y, ("NeuralTS", "LinTS"), rounds, seeds)
        neural, linear = r["NeuralTS"].mean(), r["LinTS"].mean()
        out.append(
            {
                "name": f"bandit_regret_nonlinear_{task}",
                "unit": "regret",
                "lumos": neural,
                "anchor": linear,
                "anchor_name": "Lumos LinTS, its defaults, same rounds and seeds",
                "ratio": neural / linear,
                "goal": {"ratio": "< 1"},
                "details": _details(x, y, r, rounds, "NeuralTS with its defaults"),
            }
        )
    out.append(decision_latency(*data["digits"], rounds))
    return out


PACKAGES_USED = (*PACKAGES, "torch", "mabwiser")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    emit("defaults_bandits", quick, results(quick), packages=PACKAGES_USED)
