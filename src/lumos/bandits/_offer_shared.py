"""One offer policy and one set of caps for many processes: an :class:`OfferModel` bound to an
:class:`~lumos.bandits.OfferState` (:meth:`OfferModel.share`).

**Caps.** A decision for a member reserves its slot under the cap in the shared
state, atomically with counting the member's offers of the week
(:meth:`~lumos.bandits.OfferState.reserve`), before the policy chooses; a
decision that turns out to be "no offer" gives its slot back. Two processes
deciding for one member at once never exceed the cap: the second counts the
first's reservation.

**Rewards.** A decision shown is held in the shared state with the context and
arm it was decided on, so a conversion posted to any process finds it; the
conversion moves it, in one atomic step, to the rounds waiting to be learned
(deleting it: a conversion posted twice, or to two processes, counts once), and
a decision whose window closed moves with reward 0.

**Learning: one learner at a time, from snapshots.** Every ``interval``
seconds each process tries to take the learner's lease. The holder starts from
the latest snapshot, learns the waiting rounds (once at least ``batch`` wait, in
mini-batches of ``batch``, as one process does), and publishes the policy as the
next version — replacing the snapshot and dropping the rounds it learned in one
atomic step, and only if the version it started from is still the latest.
These looks happen on a process's decisions and events (no thread of its own):
a decision looks first when ``interval`` seconds have passed since the last
look, so no decision uses a version that was replaced more than ``interval``
seconds before it; and each decision records the version it was made with.

Why snapshots from one learner, and not each process adding its own rounds to
shared sums: LinTS and ε-greedy keep additive statistics (``A``, ``b``), but
NeuralTS trains a network by gradient steps — its state is not a sum of
per-round terms that processes could add in any order. A learner that publishes
whole snapshots is right for every policy, and correct by construction:

* never twice — a round leaves the waiting list only in the publish that learned
  it, and a publish from a version that is no longer the latest (a learner whose
  lease ran out while it learned) is refused, its rounds left for the next;
* never lost — a process that dies while learning published nothing: its
  rounds still wait, its lease expires after ``lease`` seconds, and the next
  learner learns them; a process that dies in a publish left the old version
  (the file's transaction rolls back; a Redis script runs whole or not at all).

Each process draws its Thompson samples from a random stream of its own (a
snapshot's stream is re-seeded on loading), so processes do not make the same
draws. The policy saved at shutdown is the latest snapshot, written under the
lease, so a process saving an older one never overwrites a newer one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

import numpy as np

from lumos._checks import check_number
from lumos.bandits._offer_rounds import WEEK
from lumos.bandits._offer_state import OfferState, open_offer_state, pack_decision
from lumos.bandits._offer_tables import NO_OFFER, event_frame
from lumos.bandits._persist import policy_bytes, policy_from_bytes, write_bytes
from lumos.errors import LumosUserError


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


class SharedPolicy:
    """An offer model's policy and caps, kept in an :class:`OfferState`; see the module's text.

    Parameters
    ----------
    model : OfferModel
    state : OfferState or str
        The state, or its target (:func:`open_offer_state`; closed by :meth:`close`).
    interval : float, default=5.0
        Seconds between two looks at the shared policy: each process learns (when
        it holds the lease) and takes the latest version at most this often.
    lease : float, default=60.0
        Seconds the learner's lease lasts: how long rounds may wait when a learner dies.
    """

    def __init__(self, model, state, *, interval: float = 5.0, lease: float = 60.0):
        check_number("OfferModel.share", "interval", interval, low=0)
        check_number("OfferModel.share", "lease", lease, strict=True)
        self._owns = not isinstance(state, OfferState)
        if self._owns:
            state = open_offer_state(state, namespace=model.settings.model_id)
        self.model, self.state = model, state
        self.interval, self.lease = float(interval), float(lease)
        self.owner = secrets.token_hex(16)
        self._looked = -np.inf
        policy = model.policy
        layout = json.dumps(
            [type(policy).__name__, policy.d_member, policy.d_arm, model.arm_ids.tolist()]
        )
        blob = policy_bytes(policy)
        self.version, adopted = state.adopt(_digest(layout.encode()), _digest(blob), blob)
        if adopted:
            policy.rng = _fresh_rng()
        else:  # the state has held this policy: take its latest
            self._take()

    # -- the policy -----------------------------------------------------------------------------

    def _take(self) -> None:
        """Make the latest snapshot this process's policy."""
        version, blob = self.state.snapshot()
        policy = policy_from_bytes(blob, source=f"the policy in offer state {self.state.target}")
        policy.rng = _fresh_rng()
        self.model.policy, self.version = policy, version

    def refresh(self, now: float | None = None, *, force: bool = False) -> int:
        """Learn, when it is this process's turn, and take the latest policy — at most once
        per ``interval`` (always with ``force``). The number of rounds learned."""
        looked = time.monotonic()
        if not force and looked - self._looked < self.interval:
            return 0
        self._looked = looked
        learned = self.learn(now)
        if self.state.current() != self.version:
            self._take()
        return learned

    def learn(self, now: float | None = None) -> int:
        """With the learner's lease, learn the waiting rounds and publish the next version;
        the number learned (0 without the lease, or while fewer than ``batch`` wait)."""
        now = time.time() if now is None else float(now)
        if not self.state.lock(self.owner, self.lease):
            return 0
        try:
            settings = self.model.settings
            self.state.tidy(now, settings.window_hours * 3600)
            rounds = self.state.waiting(at_least=settings.batch)
            if rounds is None:
                return 0
            if self.state.current() != self.version:
                self._take()
            policy, n = self.model.policy, len(rounds.arms)
            for start in range(0, n, settings.batch):
                part = slice(start, start + settings.batch)
                policy.update(
                    rounds.contexts[part],
                    self.model.arm_features,
                    rounds.arms[part],
                    rounds.rewards[part],
                )
            blob = policy_bytes(policy)
            published = self.state.publish(self.version, blob, _digest(blob), rounds.through)
            if not published:  # another learner published first: its version stands
                self._take()
                return 0
            self.version = published
            return n
        finally:
            self.state.unlock(self.owner)

    def save(self, path) -> None:
        """Write the latest snapshot to ``path`` (``policy.npz``), under the lease: after
        learning what waits, and never over a newer one another process saved. (A lease
        not given back within 10 seconds — its holder died — is not waited for longer.)"""
        self.refresh(force=True)
        deadline = time.monotonic() + min(self.lease, 10.0)
        while not self.state.lock(self.owner, self.lease) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            _, blob = self.state.snapshot()
            if not (path.is_file() and _digest(path.read_bytes()) == _digest(blob)):
                write_bytes(path, blob)
        finally:
            self.state.unlock(self.owner)

    # -- caps and rounds ------------------------------------------------------------------------

    def capped(self, member_ids, channels, now: float, tracking_ids) -> np.ndarray:
        """Which requests are at their cap; with ``tracking_ids``, the others' slots are
        reserved under them (atomically with the count)."""
        per_week = self.model.settings.cap_per_week
        if tracking_ids is not None and len(tracking_ids) != len(member_ids):
            raise LumosUserError(
                f"tracking_ids must hold one id per member ({len(member_ids)}); got "
                f"{len(tracking_ids)}.",
                code="bad_shape",
            )
        if tracking_ids is None:
            return ~self.state.allowed(member_ids, channels, now=now, per_week=per_week)
        return ~self.state.reserve(
            [str(t) for t in tracking_ids], member_ids, channels, now=now, per_week=per_week
        )

    def settle(self, tracking_ids, member_ids, channels, capped, no_offer) -> None:
        """Give back the slots reserved for decisions that are "no offer"."""
        if tracking_ids is None:
            return
        back = np.flatnonzero(~np.asarray(capped) & np.asarray(no_offer))
        if len(back):
            self.state.release(
                [str(tracking_ids[i]) for i in back],
                [member_ids[i] for i in back],
                [channels[i] for i in back],
            )

    def served(self, tracking_ids, decisions, contexts, arms, now: float) -> None:
        """Hold decisions shown for their rewards, and count their offers under the caps."""
        tracking_ids = [str(t) for t in tracking_ids]
        held = [pack_decision(a, now, c) for a, c in zip(arms, contexts, strict=True)]
        self.state.hold(tracking_ids, held, [now] * len(held))
        offer = (decisions["arm_id"] != NO_OFFER).to_numpy()
        if offer.any():  # reserved by decide already, unless it was given no tracking ids
            shown = decisions[offer]
            self.state.shown(
                [t for t, o in zip(tracking_ids, offer, strict=True) if o],
                shown["member_id"].astype(str),
                shown["channel"].astype(str),
                [now] * len(shown),
            )

    def observe(self, events, now: float | None = None) -> int:
        """Conversions among ``events`` become rounds; then learn and look for a new policy
        (at most once per ``interval``). The number of rounds learned by this call."""
        conversions = self.model.settings.conversions
        converted = []
        for event in events:
            get = event.get if isinstance(event, dict) else lambda k, e=event: getattr(e, k, None)
            if get("type") == "action" and get("action") in conversions and get("tracking_id"):
                converted.append(get("tracking_id"))
        self.state.convert(converted)
        return self.refresh(now)

    def remember_shown(self, events) -> None:
        """Count the offers a log shows in its last week under the shared caps (each under its
        tracking id: every process may do it, and an offer counts once)."""
        e = event_frame(events)
        shown = e[(e["type"] == "served") & (e["item_type"] == "offer") & e["item_id"].ne(NO_OFFER)]
        shown = shown[shown["ts"] > shown["ts"].max() - WEEK] if len(shown) else shown
        self.state.shown(
            shown["tracking_id"].astype(str),
            shown["member_id"].astype(str),
            shown["channel"].astype(str),
            shown["ts"].astype(float),
        )

    def close(self) -> None:
        """Close the state, if this object opened it."""
        if self._owns:
            self.state.close()


def _fresh_rng() -> np.random.Generator:
    """A random stream of this process's own, for its draws."""
    return np.random.default_rng(secrets.randbits(128))
