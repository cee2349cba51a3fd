"""Offer rounds and frequency caps: what the event log says was shown and what converted.

* A **round** is a ``served`` offer event; its reward is 1 when an action in
  the model's conversions (``purchase``) with its tracking id follows within
  the reward window (``window_hours``), else 0. A round counts once its window
  has closed (:func:`closed_rounds`).
* A **frequency cap** (:class:`FrequencyCap`) allows at most ``per_week``
  offers per member and channel in any seven days.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

import pandas as pd

from lumos.bandits._offer_tables import NO_OFFER, event_frame

WEEK = 7 * 86400.0


class FrequencyCap:
    """At most ``per_week`` offers per member and channel in any seven days.

    Examples
    --------
    >>> cap = FrequencyCap(2)
    >>> cap.record("m1", "email", 0.0); cap.record("m1", "email", 3600.0)
    >>> bool(cap.allowed("m1", "email", 7200.0)), bool(cap.allowed("m1", "email", WEEK + 1.0))
    (False, True)
    """

    def __init__(self, per_week: int):
        self.per_week = int(per_week)
        self._shown: dict[tuple[str, str], deque] = defaultdict(deque)

    def record(self, member_id: str, channel: str, ts: float) -> None:
        """Count an offer shown to ``member_id`` on ``channel`` at ``ts`` (epoch seconds)."""
        self._shown[(member_id, channel)].append(float(ts))

    def allowed(self, member_id: str, channel: str, now: float) -> bool:
        """Whether one more offer fits under the cap at ``now``."""
        shown = self._shown.get((member_id, channel))
        if not shown:
            return self.per_week > 0
        while shown and shown[0] <= now - WEEK:
            shown.popleft()
        return len(shown) < self.per_week

    @classmethod
    def from_events(cls, per_week: int, events) -> FrequencyCap:
        """A cap that has seen the served offers (not "no offer") of the log's last week."""
        cap = cls(per_week)
        e = event_frame(events)
        shown = e[(e["type"] == "served") & (e["item_type"] == "offer") & e["item_id"].ne(NO_OFFER)]
        if len(shown):  # only the last week can count against a cap from now on
            shown = shown[shown["ts"] > shown["ts"].max() - WEEK].sort_values("ts", kind="stable")
        for member, channel, ts in shown[["member_id", "channel", "ts"]].itertuples(index=False):
            cap.record(str(member), str(channel), ts)
        return cap


def closed_rounds(
    events, arm_index: dict, conversions, window_hours: float, *, now=None, model_id=None
) -> tuple[pd.DataFrame, int]:
    """The closed rounds of a log and the number of served rows of unknown arms.

    See :meth:`~lumos.bandits.OfferModel.rounds`; ``arm_index`` maps an arm id
    to its row in the arms table.
    """
    e = event_frame(events)
    served = e[(e["type"] == "served") & (e["item_type"] == "offer")]
    if model_id is not None:  # a shared policy's decisions name its version: offers@v17
        named = served["model_id"].astype("string")
        ours = (named == model_id) | named.str.startswith(f"{model_id}@v")
        served = served[ours.fillna(False).astype(bool)]
    served = served.drop_duplicates("tracking_id", keep="first")
    actions = e[(e["type"] == "action") & e["action"].isin(conversions)]
    first = actions.groupby("tracking_id")["ts"].min()
    if now is None:
        now = float(e["ts"].max()) if len(e) else time.time()
    window = window_hours * 3600
    converted_at = pd.to_numeric(served["tracking_id"].map(first), errors="coerce")
    converted = (converted_at >= served["ts"]) & (converted_at <= served["ts"] + window)
    # a round counts once its window has closed, converted or not: keeping early
    # conversions of open rounds would leave only the successes at the log's end
    closed = served["ts"] + window <= now
    served, converted = served[closed], converted[closed]
    arm = served["item_id"].map(arm_index)
    known = arm.notna()
    out = pd.DataFrame(
        {
            "tracking_id": served["tracking_id"].to_numpy(),
            "member_id": served["member_id"].astype(str).to_numpy(),
            "arm": arm.fillna(-1).astype(int).to_numpy(),
            "channel": served["channel"].to_numpy(),
            "propensity": pd.to_numeric(served["propensity"], errors="coerce").to_numpy(),
            "reward": converted.astype(float).to_numpy(),
            "ts": served["ts"].to_numpy(),
        }
    )
    return out[known.to_numpy()].reset_index(drop=True), int((~known).sum())
