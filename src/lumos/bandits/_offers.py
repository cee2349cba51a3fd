"""Offer matching: which product, with which creative, on which channel — or no offer.

:class:`OfferModel` ties a policy to the arms, the members and the funnel
event log:

* **Arms** are rows of a table ``arm_id, product, creative, channel`` (and any
  numeric columns, e.g. ``price``); the "no offer" arm (``arm_id`` ``none``)
  is added when missing. An arm's features are a bias, a no-offer flag,
  one-hot product, creative and channel, and its standardized numbers.
* **Members** are rows of a table ``member_id`` and numeric columns; a
  member's context is a bias and those numbers standardized (an unknown
  member gets the averages). With a two-tower model
  (``two_tower=dim``), the member's embedding joins the context and the
  arm's embedding joins its features, so the policy's crossed features hold
  every term of the match score.
* **Decisions** consider the arms of the request's channel and "no offer". A
  member who was shown ``cap_per_week`` offers on that channel in the last
  seven days (:class:`FrequencyCap`) gets "no offer".
* **Rewards** come from the event log: a ``served`` offer event is a round;
  its reward is 1 when an action in ``conversions`` (``purchase``) with its
  tracking id follows within ``window_hours``, else 0; a round waits until
  its window has closed. (The online path learns a conversion at once and a
  non-conversion when the window closes.)
* **Learning**: :meth:`OfferModel.learn` updates the policy from new rounds
  in mini-batches (near real time); :meth:`OfferModel.retrain` refits it
  from scratch on the whole log (the scheduled retrain), two-tower first.
* **Many processes**: :meth:`OfferModel.share` keeps the caps, the decisions
  awaiting their reward and the policy in a shared :class:`OfferState` (a
  SQLite file, or Redis), so the processes serving one model (``lumos serve
  --workers N``, or machines) keep one cap per member and learn one policy;
  each decision then carries the ``policy_version`` it was made with.
* **Judging**: :meth:`OfferModel.evaluate` estimates the policy's value on a
  log written by another policy, with every off-policy estimator;
  :meth:`OfferModel.compare` judges candidate policies (the model, greedy,
  uniform, no offer) side by side, and :meth:`OfferModel.arm_report` gives
  each arm's shows, conversions and posterior at the average member.

Contexts are rebuilt from the members table when learning from a log, so a
member whose numbers changed since a round was served is seen as they are now;
the online path (:meth:`OfferModel.served`, :meth:`OfferModel.observe`) keeps
the context of the moment of the decision.

This module holds the settings and the model; the tables it checks, its rounds
and caps, its judging and its shared state live in ``_offer_tables``,
``_offer_rounds``, ``_offer_judging``, ``_offer_state`` and ``_offer_shared``.
"""

from __future__ import annotations

import json
import time
from dataclasses import InitVar, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lumos._checks import check_number, renamed, renamed_attribute
from lumos.bandits._linear import DEFAULT_EPSILON, DEFAULT_NU, EpsilonGreedy, LinTS
from lumos.bandits._neural import NeuralTS
from lumos.bandits._offer_judging import OfferJudging
from lumos.bandits._offer_rounds import FrequencyCap, closed_rounds
from lumos.bandits._offer_shared import SharedPolicy
from lumos.bandits._offer_tables import NO_OFFER, arms_table, members_table
from lumos.bandits._persist import check_format, load_policy, save_policy
from lumos.data import atomic_path
from lumos.errors import DataValidationError, LumosUserError

POLICIES = ("lints", "neuralts", "egreedy")
FORMAT, VERSION = "lumos.offers", 1


@dataclass(frozen=True)
class OfferSettings:
    """How an :class:`OfferModel` decides and learns (saved as ``offers.json``).

    ``random_state`` seeds the policy (``seed`` is its older name).
    """

    model_id: str = "offers"
    policy: str = "lints"
    nu: float = DEFAULT_NU
    epsilon: float = DEFAULT_EPSILON
    alpha: float = 1.0
    hidden: int = 100
    cap_per_week: int = 3
    window_hours: float = 72.0
    conversions: tuple[str, ...] = ("purchase",)
    two_tower: int = 0
    batch: int = 500
    random_state: int = 0
    seed: InitVar[int | None] = None

    def __post_init__(self, seed):
        chosen = renamed(
            self.random_state, seed, old="seed", new="random_state", owner="OfferSettings"
        )
        object.__setattr__(self, "random_state", chosen)

        def bad(field, value, want):
            raise LumosUserError(
                f"offer setting {field!r} must be {want}; got {value!r}.", code="bad_argument"
            )

        if self.policy not in POLICIES:
            bad("policy", self.policy, f"one of {', '.join(POLICIES)}")
        for field in ("cap_per_week", "batch", "hidden", "two_tower", "random_state"):
            value = getattr(self, field)
            low = 0 if field in ("two_tower", "random_state", "cap_per_week") else 1
            check_number("OfferSettings", field, value, low=low, integer=True)
            object.__setattr__(self, field, int(value))  # a NumPy int would not save as JSON
        for field in ("nu", "alpha", "window_hours"):
            check_number("OfferSettings", field, getattr(self, field), strict=True)
        check_number("OfferSettings", "epsilon", self.epsilon, high=1)
        if not self.model_id or not isinstance(self.model_id, str):
            bad("model_id", self.model_id, "a non-empty string")
        if isinstance(self.conversions, str) or not all(
            isinstance(c, str) and c for c in self.conversions
        ):
            bad("conversions", self.conversions, "a list of action names, e.g. [purchase]")
        object.__setattr__(self, "conversions", tuple(self.conversions))

    @classmethod
    def from_saved(cls, saved: dict) -> OfferSettings:
        """The settings an ``offers.json`` holds, one saved with the older ``seed`` too."""
        saved = dict(saved)
        if "seed" in saved and "random_state" not in saved:
            saved["random_state"] = saved.pop("seed")
        return cls(**saved)


OfferSettings.seed = renamed_attribute("random_state", "seed", "OfferSettings")


class OfferModel(OfferJudging):
    """A policy over product × creative × channel arms for the members of a table.

    Parameters
    ----------
    arms : DataFrame
        ``arm_id, product, creative, channel`` and optional numeric columns.
    members : DataFrame
        ``member_id`` and numeric columns (the members' features).
    settings : OfferSettings or dict, optional
        The policy and how it learns; see :class:`OfferSettings`.
    """

    def __init__(self, arms: pd.DataFrame, members: pd.DataFrame, settings=None):
        if isinstance(settings, dict):
            settings = OfferSettings(**settings)
        self.settings = settings or OfferSettings()
        self.arms = arms_table(arms)
        self.members = members_table(members)
        self.arm_ids = self.arms["arm_id"].to_numpy()
        self._arm_index = {a: i for i, a in enumerate(self.arm_ids)}
        self._member_index = pd.Index(self.members["member_id"])
        numbers = self.members.drop(columns="member_id").to_numpy(dtype=float)
        self._member_mean = numbers.mean(axis=0) if len(numbers) else np.zeros(numbers.shape[1])
        std = numbers.std(axis=0) if len(numbers) else np.ones(numbers.shape[1])
        self._member_std = np.where(std > 0, std, 1.0)
        self.two_tower = None
        self._rebuild_features()
        self.policy = self._new_policy()
        self.cap = FrequencyCap(self.settings.cap_per_week)
        self.path: Path | None = None  # the folder it was loaded from
        self._pending: dict[str, tuple[np.ndarray, int, float]] = {}
        self._ready: list[tuple[np.ndarray, int, float]] = []
        self.shared: SharedPolicy | None = None  # see share()

    # -- features -------------------------------------------------------------------------------

    def _rebuild_features(self) -> None:
        numbers = self.members.drop(columns="member_id").to_numpy(dtype=float)
        self._member_x = (numbers - self._member_mean) / self._member_std
        a = self.arms
        parts = [np.ones((len(a), 1)), (a["arm_id"] == NO_OFFER).to_numpy(float)[:, None]]
        for column in ("product", "creative", "channel"):
            values = sorted(v for v in a[column].unique() if v)
            parts.append((a[column].to_numpy()[:, None] == np.array(values)[None, :]).astype(float))
        extra = a.drop(columns=["arm_id", "product", "creative", "channel"]).to_numpy(dtype=float)
        if extra.shape[1]:
            std = extra.std(axis=0)
            parts.append((extra - extra.mean(axis=0)) / np.where(std > 0, std, 1.0))
        self._arm_base = np.hstack(parts)
        self.arm_features = self._arm_base
        if self.two_tower is not None:
            self.arm_features = np.hstack(
                [self._arm_base, self.two_tower.arm_embeddings(self._arm_base)]
            )

    def knows(self, member_id: str) -> bool:
        """Whether the members table holds ``member_id``."""
        return str(member_id) in self._member_index

    @property
    def held(self) -> dict[str, int]:
        """Entries kept per decision and member: decisions awaiting their reward, and the
        cap's (member, channel) histories."""
        return {"offer_pending": len(self._pending), "offer_cap": len(self.cap._shown)}

    def contexts(self, member_ids) -> np.ndarray:
        """``(n, d)``: each member's context; an unknown member gets the averages."""
        rows = self._member_index.get_indexer(pd.Index([str(m) for m in member_ids]))
        x = np.where((rows >= 0)[:, None], self._member_x[rows], 0.0)
        out = np.hstack([np.ones((len(rows), 1)), x])
        if self.two_tower is not None:
            out = np.hstack([out, self.two_tower.member_embeddings(x)])
        return out

    def _new_policy(self):
        s = self.settings
        d_m = 1 + self._member_x.shape[1] + s.two_tower
        d_a = self._arm_base.shape[1] + s.two_tower
        # contexts() puts the bias in front of every context: the policy adds none of its own
        shared = {"fit_intercept": False, "random_state": s.random_state}
        if s.policy == "lints":
            return LinTS(d_m, d_a, nu=s.nu, alpha=s.alpha, **shared)
        if s.policy == "egreedy":
            return EpsilonGreedy(d_m, d_a, epsilon=s.epsilon, alpha=s.alpha, **shared)
        return NeuralTS(d_m, d_a, nu=s.nu, alpha=s.alpha, hidden=s.hidden, **shared)

    def mask(self, channels) -> np.ndarray:
        """``(n, k)``: the arms each request may get — its channel's and "no offer"."""
        channels = np.asarray([str(c) for c in channels])
        known = set(self.arms["channel"]) - {""}
        unknown = sorted(str(c) for c in set(channels) - known)
        if unknown:
            raise LumosUserError(
                f"channel {unknown[0]!r} has no offers; use one of {', '.join(sorted(known))}.",
                code="bad_value",
            )
        arm_channel = self.arms["channel"].to_numpy()
        return (arm_channel[None, :] == channels[:, None]) | (self.arm_ids == NO_OFFER)[None, :]

    # -- decisions ------------------------------------------------------------------------------

    def decide(
        self, member_ids, channels, *, now: float | None = None, tracking_ids=None
    ) -> pd.DataFrame:
        """One decision per request: the arm, its propensity and score, under the cap.

        ``channels`` is one channel or one per member. Members at their cap on
        that channel get "no offer" with propensity 1. Decisions are not
        recorded in the cap; :meth:`served` does that — except in a shared
        state (:meth:`share`) given the decisions' ``tracking_ids``: each offer's
        slot is then reserved under its tracking id, atomically with the cap's
        count, so no other process can take it; the decisions carry the
        ``policy_version`` they used.
        """
        member_ids = [str(m) for m in member_ids]
        if isinstance(channels, str):
            channels = [channels] * len(member_ids)
        now = time.time() if now is None else float(now)
        mask = self.mask(channels)
        if self.shared is None:
            pairs = zip(member_ids, channels, strict=True)
            capped = np.array([not self.cap.allowed(m, c, now) for m, c in pairs], dtype=bool)
        else:
            self.shared.refresh(now)
            capped = self.shared.capped(member_ids, channels, now, tracking_ids)
        mask[capped] = self.arm_ids == NO_OFFER
        context = self.contexts(member_ids)
        decision = self.policy.select(context, self.arm_features, mask=mask)
        arms = decision.arms
        out = self.arms.iloc[arms][["arm_id", "product", "creative", "channel"]].reset_index(
            drop=True
        )
        out.insert(0, "member_id", member_ids)
        out["propensity"] = np.where(capped, 1.0, decision.propensities)
        out["score"] = decision.scores[np.arange(len(arms)), arms]
        out["capped"] = capped
        if self.shared is not None:
            no_offer = self.arm_ids[arms] == NO_OFFER
            self.shared.settle(tracking_ids, member_ids, channels, capped, no_offer)
            out["policy_version"] = self.shared.version
        if self.two_tower is not None:  # the embeddings' dot product: the match score
            member = context[:, 1 + self._member_x.shape[1] :]
            out["match"] = (member * self.arm_features[arms, self._arm_base.shape[1] :]).sum(1)
        return out

    # -- learning from the event log -------------------------------------------------------------

    def rounds(self, events, *, now: float | None = None, model_id: str | None = None):
        """The closed rounds of a log: served offers with reward 1 (converted in time) or 0.

        Rounds whose window is still open at ``now`` (default: the log's last
        event) are left out, even those that converted already — keeping them
        would bias the rewards up. ``model_id`` keeps one model's rounds (default:
        every offer). Returns a DataFrame ``tracking_id, member_id, arm,
        channel, propensity, reward, ts`` (``arm`` indexes :attr:`arms`) and
        the number of served rows whose arm this model does not know.
        """
        return closed_rounds(
            events,
            self._arm_index,
            self.settings.conversions,
            self.settings.window_hours,
            now=now,
            model_id=model_id,
        )

    def learn(self, events, *, now: float | None = None, model_id: str | None = None) -> int:
        """Update the policy from a log's closed rounds, in mini-batches; the number learned."""
        rounds, _ = self.rounds(events, now=now, model_id=model_id)
        context = self.contexts(rounds["member_id"])
        for start in range(0, len(rounds), self.settings.batch):
            part = slice(start, start + self.settings.batch)
            self.policy.update(
                context[part],
                self.arm_features,
                rounds["arm"].to_numpy()[part],
                rounds["reward"].to_numpy()[part],
            )
        return len(rounds)

    def retrain(self, events, *, now: float | None = None, model_id: str | None = None) -> int:
        """Refit from scratch on a whole log (two-tower first); the number of rounds learned."""
        rounds, _ = self.rounds(events, now=now, model_id=model_id)
        if self.settings.two_tower:
            from lumos.bandits._two_tower import TwoTower

            converted = rounds["reward"].to_numpy() > 0
            offered = rounds["arm"].to_numpy() != self._arm_index.get(NO_OFFER, -1)
            rows = self._member_index.get_indexer(pd.Index(rounds["member_id"]))
            known = (rows >= 0) & offered
            self.two_tower = TwoTower(
                self.settings.two_tower, random_state=self.settings.random_state
            ).fit(
                self._member_x,
                self._arm_base,
                rows[known],
                rounds["arm"].to_numpy()[known],
                converted[known].astype(float),
            )
            self._rebuild_features()
        self.policy = self._new_policy()
        context = self.contexts(rounds["member_id"])
        self.policy.fit(
            context, self.arm_features, rounds["arm"].to_numpy(), rounds["reward"].to_numpy()
        )
        return len(rounds)

    # -- the online path ------------------------------------------------------------------------

    def share(self, state, *, interval: float = 5.0, lease: float = 60.0) -> OfferModel:
        """Keep the caps, the decisions awaiting their reward and the policy in a shared
        state, with the other processes serving this model. Returns the model.

        ``state`` is an :class:`OfferState` or its target (a SQLite file or a Redis
        URL; :func:`open_offer_state`). The state's latest policy replaces this
        model's — unless this model's policy is one the state has never held (a
        first start, or a retrained model), which becomes the state's latest. Every
        ``interval`` seconds the model learns the rounds waiting (when it holds the
        learner's lease, which lasts ``lease`` seconds) and takes the latest
        policy; see :class:`~lumos.bandits._offer_shared.SharedPolicy`. Decisions,
        :meth:`served`, :meth:`observe`, :meth:`remember_shown` and :meth:`save`
        then go through the state; :meth:`learn` and :meth:`retrain` stay local.
        """
        self.shared = SharedPolicy(self, state, interval=interval, lease=lease)
        return self

    @property
    def policy_version(self) -> int | None:
        """The version of the shared policy this model decides with (None: not shared)."""
        return None if self.shared is None else self.shared.version

    def remember_shown(self, events) -> OfferModel:
        """Start the weekly cap from the offers a log says were shown in its last week (a
        server restarting on its event log caps as it did before). Returns the model."""
        if self.shared is not None:
            self.shared.remember_shown(events)
            return self
        self.cap = FrequencyCap.from_events(self.settings.cap_per_week, events)
        return self

    def served(self, tracking_ids, decisions: pd.DataFrame, *, now: float | None = None) -> None:
        """Remember decisions that were shown: the cap counts them, rewards will find them."""
        now = time.time() if now is None else float(now)
        context = self.contexts(decisions["member_id"])
        arms = decisions["arm_id"].map(self._arm_index).to_numpy()
        if self.shared is not None:
            self.shared.served(tracking_ids, decisions, context, arms, now)
            return
        for i, tracking in enumerate(tracking_ids):
            self._pending[tracking] = (context[i], int(arms[i]), now)
            if decisions["arm_id"].iat[i] != NO_OFFER:
                self.cap.record(decisions["member_id"].iat[i], decisions["channel"].iat[i], now)

    def observe(self, events, *, now: float | None = None) -> int:
        """Conversions posted for pending decisions; update when a mini-batch is full.

        Pending decisions whose window passed become reward-0 rounds. Returns
        the number of rounds learned by this call (0 until a batch fills). In a
        shared state the conversions go to the state, and the learner learns
        them within ``interval`` seconds.
        """
        if self.shared is not None:
            return self.shared.observe(events, now)
        now = time.time() if now is None else float(now)
        for event in events:
            get = event.get if isinstance(event, dict) else lambda k, e=event: getattr(e, k, None)
            tracking = get("tracking_id")
            if (
                get("type") == "action"
                and get("action") in self.settings.conversions
                and tracking in self._pending
            ):
                context, arm, _ = self._pending.pop(tracking)
                self._ready.append((context, arm, 1.0))
        expired = now - self.settings.window_hours * 3600
        for tracking in [t for t, (_, _, ts) in self._pending.items() if ts <= expired]:
            context, arm, _ = self._pending.pop(tracking)
            self._ready.append((context, arm, 0.0))
        if len(self._ready) < self.settings.batch:
            return 0
        ready, self._ready = self._ready, []
        self.policy.update(
            np.array([r[0] for r in ready]),
            self.arm_features,
            np.array([r[1] for r in ready]),
            np.array([r[2] for r in ready]),
        )
        return len(ready)

    # -- files ----------------------------------------------------------------------------------

    def save(self, folder) -> Path:
        """Write ``offers.json``, ``arms.csv``, ``members.parquet``, ``policy.npz`` (and
        ``two_tower.npz``) into ``folder``, each file atomically. A shared model saves
        the state's latest policy."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        s = self.settings
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "settings": {**s.__dict__, "conversions": list(s.conversions)},
            "member_mean": self._member_mean.tolist(),
            "member_std": self._member_std.tolist(),
        }
        with atomic_path(folder / "arms.csv") as tmp:
            self.arms.to_csv(tmp, index=False)
        with atomic_path(folder / "members.parquet") as tmp:
            self.members.to_parquet(tmp, index=False)
        if self.shared is not None:
            self.shared.save(folder / "policy.npz")
        else:
            save_policy(self.policy, folder / "policy.npz")
        if self.two_tower is not None:
            self.two_tower.save(folder / "two_tower.npz")
        with atomic_path(folder / "offers.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder) -> OfferModel:
        """Read a model written by :meth:`save`."""
        folder = Path(folder)
        meta_file = folder / "offers.json"
        if not meta_file.is_file():
            raise DataValidationError(
                f"{str(folder)!r} is not an offer model: it has no offers.json (make one with "
                "lumos offers retrain).",
                code="file_not_found",
                file=str(meta_file),
            )
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise DataValidationError(
                f"{meta_file} is not JSON ({exc}); rewrite it with lumos offers retrain.",
                code="unreadable_file",
                file=str(meta_file),
            ) from None
        check_format(meta, meta_file, FORMAT, VERSION, "rewrite it with lumos offers retrain")
        model = cls(
            pd.read_csv(folder / "arms.csv", keep_default_na=False),
            pd.read_parquet(folder / "members.parquet"),
            OfferSettings.from_saved(meta["settings"]),
        )
        model._member_mean = np.asarray(meta["member_mean"], dtype=float)
        model._member_std = np.asarray(meta["member_std"], dtype=float)
        if (folder / "two_tower.npz").is_file():
            from lumos.bandits._two_tower import TwoTower

            model.two_tower = TwoTower.load(folder / "two_tower.npz")
        model._rebuild_features()
        model.policy = load_policy(folder / "policy.npz")
        model.path = folder
        return model
