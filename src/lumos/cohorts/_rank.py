"""Second-pass rankers: the order of a member's cohorts, by rules or by a relevance model.

* :class:`RuleRanker` — the cohort ids in the order an experiment variant's
  payload (``{cohorts: [...]}``) or the config's ``ranking.order`` names;
  cohorts it does not name are left out.
* :class:`RelevanceRanker` — a logistic regression of "the member acts on
  this cohort" from the cohort's type, the member's features and the
  member's past engagement with that cohort (actions per served item, from
  the funnel events, smoothed toward the cohort's overall rate).
  :meth:`RelevanceRanker.fit` learns it from an event log.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lumos._bounded import LRU
from lumos.errors import LumosUserError

MIDTIER = "midtier"  # the channel of served events the mid-tier records


def _api_served(events: pd.DataFrame) -> pd.DataFrame:
    served = events[(events["type"] == "served") & events["cohort"].notna()]
    return served[served["channel"].ne(MIDTIER)]


class Engagement:
    """Per member and cohort: items served (by the API) and items acted on.

    ``rate`` is smoothed toward the prior with ``strength`` pseudo-items, so a
    member seen once is not judged by one click. Each table keeps at most
    ``remember`` entries, the least recently counted forgotten first.
    """

    def __init__(self, prior: float = 0.05, strength: float = 10.0, remember: int = 200_000):
        self.prior, self.strength, self.remember = prior, strength, remember
        self.served: LRU = LRU(remember)  # (member, cohort) → items served
        self.acted: LRU = LRU(remember)  # (member, cohort) → items acted on
        self._cohort_of: LRU = LRU(remember)  # tracking id → (member, cohort)

    def observe(self, events) -> None:
        """Count events (dicts in the unified shape) as they arrive."""
        for e in events:
            if e.get("type") == "served" and e.get("cohort") and e.get("channel") != MIDTIER:
                self.served_one(e["member_id"], e["cohort"], e["tracking_id"])
            elif e.get("type") == "action" and e.get("tracking_id") in self._cohort_of:
                key = self._cohort_of.pop(e["tracking_id"])
                self.acted[key] = self.acted.get(key, 0) + 1

    def served_one(self, member_id: str, cohort: str, tracking_id: str) -> None:
        key = (member_id, cohort)
        self.served[key] = self.served.get(key, 0) + 1
        self._cohort_of[tracking_id] = key  # items never acted on: the oldest are forgotten

    @property
    def size(self) -> int:
        """Entries held in all three tables."""
        return len(self.served) + len(self.acted) + len(self._cohort_of)

    def rate(self, member_id: str, cohort: str) -> float:
        key = (member_id, cohort)
        return (self.acted.get(key, 0) + self.strength * self.prior) / (
            self.served.get(key, 0) + self.strength
        )

    def seen(self, member_id: str, cohort: str) -> int:
        return self.served.get((member_id, cohort), 0)


class RuleRanker:
    """Cohorts in a configured order; those not named are left out."""

    name = "rules"

    def __init__(self, order):
        self.order = {c: i for i, c in enumerate(order)}

    def rank(self, member_id: str, cohorts: list[str], **_) -> list[str]:
        return sorted((c for c in cohorts if c in self.order), key=self.order.__getitem__)


class RelevanceRanker:
    """A logistic regression scoring each cohort for a member; cohorts best first.

    Features of (member, cohort): the cohort (one-hot), the member's smoothed
    engagement rate with it, how many of its items the member was served
    (log), and each member feature (log) crossed with the cohort.

    Parameters
    ----------
    cohorts : list of str
    member_features : list of str
    coef : array of float
        One per feature, in :meth:`feature_names` order.
    intercept : float
    prior, strength : float
        The engagement smoothing (see :class:`Engagement`).
    """

    name = "relevance"

    def __init__(self, cohorts, member_features, coef, intercept, prior=0.05, strength=10.0):
        self.cohorts, self.member_features = list(cohorts), list(member_features)
        self.coef, self.intercept = np.asarray(coef, dtype=float), float(intercept)
        self.prior, self.strength = float(prior), float(strength)
        if len(self.coef) != len(self.feature_names()):
            raise LumosUserError(
                f"relevance ranker has {len(self.coef)} weights for "
                f"{len(self.feature_names())} features; refit it.",
                code="bad_model",
            )

    def feature_names(self) -> list[str]:
        names = [f"cohort={c}" for c in self.cohorts] + ["engagement", "log_served"]
        return names + [f"{f}×{c}" for f in self.member_features for c in self.cohorts]

    def features(self, cohort_index, rate, served, member_values) -> np.ndarray:
        """The design matrix of rows (cohort index, rate, served, member feature values)."""
        n, k = len(cohort_index), len(self.cohorts)
        x = np.zeros((n, len(self.feature_names())))
        rows = np.arange(n)
        x[rows, cohort_index] = 1.0
        x[:, k] = rate
        x[:, k + 1] = np.log1p(served)
        for j in range(len(self.member_features)):
            x[rows, k + 2 + j * k + cohort_index] = np.log1p(np.maximum(member_values[:, j], 0))
        return x

    def scores(self, member_id, cohorts, engagement: Engagement, member: dict) -> np.ndarray:
        known = [c for c in cohorts if c in self.cohorts]
        idx = np.array([self.cohorts.index(c) for c in known], dtype=int)
        values = np.array(
            [[float(member.get(f, 0) or 0) for f in self.member_features]] * len(known)
        ).reshape(len(known), len(self.member_features))
        x = self.features(
            idx,
            np.array([engagement.rate(member_id, c) for c in known]),
            np.array([engagement.seen(member_id, c) for c in known]),
            values,
        )
        return 1 / (1 + np.exp(-(x @ self.coef + self.intercept)))

    def rank(self, member_id, cohorts, *, engagement=None, member=None) -> list[str]:
        known = [c for c in cohorts if c in self.cohorts]
        if not known:
            return []
        s = self.scores(member_id, known, engagement or Engagement(), member or {})
        return [known[i] for i in np.argsort(-s, kind="stable")]

    @classmethod
    def fit(
        cls, events: pd.DataFrame, members: pd.DataFrame | None = None, *, strength=10.0, C=1.0
    ) -> RelevanceRanker:
        """Learn from funnel events: each item the API served, labelled by an action on it.

        The engagement feature of a served item leaves that item out (its own
        label never leaks into its features). ``members``: ``member_id`` and
        numeric columns (e.g. ``connections``).
        """
        from sklearn.linear_model import LogisticRegression

        served = _api_served(events)
        if served.empty:
            raise LumosUserError(
                "the events hold no served items with a cohort; serve cohorts and collect "
                "impressions and actions first.",
                code="empty",
            )
        acted = set(events.loc[events["type"] == "action", "tracking_id"])
        y = served["tracking_id"].isin(acted).to_numpy(float)
        prior = float(y.mean())
        key = served["member_id"].astype(str) + "\x00" + served["cohort"].astype(str)
        n = key.map(key.value_counts()).to_numpy(float)
        hits = pd.Series(y, index=served.index).groupby(key.to_numpy()).transform("sum").to_numpy()
        rate = (hits - y + strength * prior) / (n - 1 + strength)
        cohorts = sorted(served["cohort"].unique())
        feats = []
        values = np.zeros((len(served), 0))
        if members is not None:
            feats = [c for c in members.columns if c != "member_id" and _numeric(members[c])]
            table = members.set_index(members["member_id"].astype(str))[feats]
            values = table.reindex(served["member_id"].astype(str)).fillna(0).to_numpy(float)
        model = cls(cohorts, feats, np.zeros(len(cohorts) * (1 + len(feats)) + 2), 0.0)
        x = model.features(
            pd.Categorical(served["cohort"], categories=cohorts).codes, rate, n - 1, values
        )
        fitted = LogisticRegression(C=C, max_iter=1000).fit(x, y)
        return cls(cohorts, feats, fitted.coef_[0], fitted.intercept_[0], prior, strength)

    def save(self, path) -> None:
        Path(path).write_text(
            json.dumps(
                {
                    "cohorts": self.cohorts,
                    "member_features": self.member_features,
                    "coef": self.coef.tolist(),
                    "intercept": self.intercept,
                    "prior": self.prior,
                    "strength": self.strength,
                },
                indent=1,
            )
        )

    @classmethod
    def load(cls, path) -> RelevanceRanker:
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise LumosUserError(
                f"cannot read the relevance ranker {str(path)!r}: {exc}; write it with "
                "`lumos cohorts fit-ranker`.",
                code="bad_model",
            ) from None


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
