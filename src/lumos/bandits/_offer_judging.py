"""Judging an offer policy off-policy: its value, candidates side by side, each arm's record.

:class:`OfferJudging` gives :class:`~lumos.bandits.OfferModel` its
:meth:`~OfferJudging.evaluate`, :meth:`~OfferJudging.compare` and
:meth:`~OfferJudging.arm_report`. They read the model's closed rounds
(``rounds``), contexts (``contexts``), channel masks (``mask``), policy, arms
and members, and judge with the off-policy estimators of
:func:`~lumos.bandits.evaluate_all` and the reward model of
:func:`~lumos.bandits.fit_reward_model`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.bandits._offer_tables import NO_OFFER
from lumos.bandits._ope import ESTIMATORS, evaluate_all
from lumos.bandits._reward import fit_reward_model
from lumos.errors import DataValidationError, LumosUserError

CANDIDATES = ("model", "greedy", "uniform", "no_offer")  # policies OfferModel.compare judges


class OfferJudging:
    """The judging half of :class:`~lumos.bandits.OfferModel` (a mixin; see the module)."""

    def evaluate(
        self,
        events,
        *,
        now: float | None = None,
        model_id: str | None = None,
        estimators=ESTIMATORS,
        n_bootstrap: int = 1000,
        draws: int = 1000,
        random_state=0,
    ) -> pd.DataFrame:
        """This policy's conversion rate estimated on a log written by another policy.

        Every estimator with its bootstrap interval, plus the log's own rate
        (``logged``, the logging policy's on-policy value).
        """
        table = self.compare(
            events,
            candidates=("model",),
            now=now,
            model_id=model_id,
            estimators=estimators,
            n_bootstrap=n_bootstrap,
            draws=draws,
            random_state=random_state,
        )
        return pd.concat([table.loc["model"], table.loc["logged"]])

    def compare(
        self,
        events,
        *,
        candidates=CANDIDATES,
        now: float | None = None,
        model_id: str | None = None,
        estimators=ESTIMATORS,
        n_bootstrap: int = 1000,
        draws: int = 1000,
        random_state=0,
    ) -> pd.DataFrame:
        """Candidate policies' conversion rates, estimated off-policy on one log.

        ``candidates`` names policies over this model's arms and members:

        * ``model`` — this model's policy as it decides now (Thompson draws,
          or ε-greedy);
        * ``greedy`` — the best allowed arm under the posterior mean (exploit only);
        * ``uniform`` — a uniform allowed arm (explore only);
        * ``no_offer`` — never make an offer.

        Every candidate is judged on the same closed rounds, with the same
        reward model and bootstrap seed. Returns one row per candidate and
        estimator (index ``policy, estimator``) — ``value, low, high,
        std_error, rounds`` — and the log's own rate as policy ``logged``.
        """
        names = [candidates] if isinstance(candidates, str) else list(candidates)
        unknown = [c for c in names if c not in CANDIDATES]
        if unknown or not names:
            raise LumosUserError(
                f"candidate policy {unknown[0] if unknown else candidates!r} is unknown; use "
                f"{', '.join(CANDIDATES)}.",
                code="bad_argument",
            )
        rounds = self._judged_rounds(events, now=now, model_id=model_id)
        context = self.contexts(rounds["member_id"])
        mask = self.mask(rounds["channel"].fillna(""))
        action, reward = rounds["arm"].to_numpy(), rounds["reward"].to_numpy()
        chosen = [estimators] if isinstance(estimators, str) else list(estimators)
        q = None
        if set(chosen) & {"dm", "dr", "switch-dr"}:
            q = fit_reward_model(
                context[:, 1:], action, reward, len(self.arm_ids), random_state=random_state
            )
        tables = {}
        for name in names:
            table = evaluate_all(
                reward=reward,
                action=action,
                pscore=rounds["propensity"].to_numpy(),
                action_dist=self._candidate(name, context, mask, draws),
                estimated_rewards=q,
                estimators=chosen,
                n_bootstrap=n_bootstrap,
                random_state=random_state,
            )
            tables[name] = table
        logged, error = reward.mean(), reward.std() / np.sqrt(len(reward))
        tables["logged"] = pd.DataFrame(
            [[logged, logged - 1.96 * error, logged + 1.96 * error, error]],
            index=pd.Index(["logged"], name="estimator"),
            columns=["value", "low", "high", "std_error"],
        )
        out = pd.concat(tables, names=["policy"])
        out["rounds"] = len(rounds)
        return out

    def _judged_rounds(self, events, *, now, model_id) -> pd.DataFrame:
        rounds, _ = self.rounds(events, now=now, model_id=model_id)
        if rounds.empty:
            raise LumosUserError(
                "the log holds no closed offer rounds (served offers of known arms whose "
                "conversion window has passed); nothing to evaluate.",
                code="empty",
            )
        bad = ~((rounds["propensity"] > 0) & (rounds["propensity"] <= 1))
        if bad.any():
            row = rounds[bad].iloc[0]
            raise DataValidationError(
                f"served event with tracking_id {row.tracking_id!r} has propensity "
                f"{float(row.propensity)}; off-policy evaluation needs the logging policy's "
                "probability in (0, 1] on every served offer.",
                code="bad_value",
                column="propensity",
            )
        return rounds

    def _candidate(self, name: str, context, mask, draws: int) -> np.ndarray:
        """``(n, k)``: candidate policy ``name``'s probability of each arm on each request."""
        if name == "model":
            if hasattr(self.policy, "nu"):
                return self.policy.action_probabilities(
                    context, self.arm_features, mask=mask, draws=draws
                )
            return self.policy.action_probabilities(context, self.arm_features, mask=mask)
        n, k = mask.shape
        if name == "uniform":
            return mask / mask.sum(axis=1, keepdims=True)
        out = np.zeros((n, k))
        if name == "no_offer":
            out[:, self._arm_index[NO_OFFER]] = 1.0
            return out
        mean, _ = self.policy.mean_and_variance(context, self.arm_features)  # greedy
        out[np.arange(n), np.where(mask, mean, -np.inf).argmax(axis=1)] = 1.0
        return out

    def arm_report(
        self, events, *, now: float | None = None, model_id: str | None = None
    ) -> pd.DataFrame:
        """Per arm: closed rounds shown and converted, and the policy's view at the average member.

        ``shows``, ``conversions`` and ``rate`` count a log's closed rounds
        (:meth:`rounds`). ``mean``, ``low`` and ``high`` are the policy's
        posterior of the arm's conversion score for the average member (the
        mean context of the members table): the mean and the 95% interval of
        the spread it draws from — ``ν`` times the posterior standard
        deviation for Thompson sampling, the posterior itself for ε-greedy.
        """
        rounds, _ = self.rounds(events, now=now, model_id=model_id)
        counts = rounds.groupby("arm")["reward"].agg(["size", "sum"])
        counts = counts.reindex(range(len(self.arm_ids)), fill_value=0)
        out = self.arms[["arm_id", "product", "creative", "channel"]].copy()
        out["shows"] = counts["size"].to_numpy().astype(int)
        out["conversions"] = counts["sum"].to_numpy().astype(int)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["rate"] = np.where(out["shows"] > 0, out["conversions"] / out["shows"], np.nan)
        # a linear policy's score at the mean context is the members' mean score
        ids = self.members["member_id"] if len(self.members) else ["(nobody)"]
        average = self.contexts(ids).mean(axis=0, keepdims=True)
        mean, var = self.policy.mean_and_variance(average, self.arm_features)
        half = 1.96 * getattr(self.policy, "nu", 1.0) * np.sqrt(var[0])
        out["mean"], out["low"], out["high"] = mean[0], mean[0] - half, mean[0] + half
        return out
