"""From unified funnel events to the shapes older consumers read.

:func:`to_interactions` closes the loop: served, impression and action events
become the ``interactions`` table (:mod:`lumos.data`) that the next round of
labels and models reads. :func:`by_type` splits events into one table per
legacy event type (``served``, ``impression``, ``click``, ``dismiss``, …),
each with only the columns that type uses.
"""

from __future__ import annotations

import pandas as pd

from lumos.events._event import FIELDS

INTERACTION_ACTIONS = ("click", "watch", "bookmark", "dismiss")
_LEGACY = {
    "served": [
        "tracking_id",
        "member_id",
        "item_id",
        "item_type",
        "cohort",
        "position",
        "channel",
        "model_id",
        "treatment",
        "propensity",
        "ts",
    ],
    "impression": ["tracking_id", "member_id", "item_id", "item_type", "position", "channel", "ts"],
    "action": ["tracking_id", "member_id", "item_id", "item_type", "channel", "value", "ts"],
}


def _frame(events) -> pd.DataFrame:
    frame = pd.DataFrame(events) if not isinstance(events, pd.DataFrame) else events
    return frame.reindex(columns=list(FIELDS))


def to_interactions(events, *, item_type: str | None = "course") -> pd.DataFrame:
    """Impressions and click/watch/bookmark/dismiss actions as the ``interactions`` table.

    ``item_type`` keeps those items only (None: all). A watch's ``value`` is
    its seconds watched. Events without a channel get ``"unknown"``.

    Examples
    --------
    >>> events = [{"event_id": "1", "tracking_id": "t", "type": "impression", "member_id": "m",
    ...            "item_id": "c", "item_type": "course", "channel": "email", "ts": 1735787045},
    ...           {"event_id": "2", "tracking_id": "t", "type": "action", "action": "watch",
    ...            "member_id": "m", "item_id": "c", "item_type": "course", "value": 300,
    ...            "ts": 1735787100}]
    >>> to_interactions(events)[["type", "seconds"]].values.tolist()
    [['impression', 0.0], ['watch', 300.0]]
    """
    e = _frame(events)
    if item_type is not None:
        e = e[e["item_type"] == item_type]
    keep = (e["type"] == "impression") | (
        (e["type"] == "action") & e["action"].isin(INTERACTION_ACTIONS)
    )
    e = e[keep]
    kind = e["type"].where(e["type"] == "impression", e["action"])
    seconds = pd.to_numeric(e["value"], errors="coerce").where(kind == "watch", 0.0)
    return pd.DataFrame(
        {
            "member_id": e["member_id"].astype(str).to_numpy(),
            "course_id": e["item_id"].astype(str).to_numpy(),
            "channel": e["channel"].fillna("unknown").astype(str).to_numpy(),
            "type": kind.to_numpy(),
            "seconds": seconds.fillna(0.0).to_numpy(float),
            "timestamp": pd.to_datetime(e["ts"].to_numpy(float), unit="s").astype("datetime64[s]"),
        }
    )


def by_type(events) -> dict[str, pd.DataFrame]:
    """One table per legacy event type: ``served``, ``impression`` and each action's name."""
    e = _frame(events)
    out = {}
    for kind in ("served", "impression"):
        out[kind] = e.loc[e["type"] == kind, _LEGACY[kind]].reset_index(drop=True)
    actions = e[e["type"] == "action"]
    for name, part in actions.groupby("action", sort=True):
        out[str(name)] = part[_LEGACY["action"]].reset_index(drop=True)
    return out


def funnel(events, *, by: str = "cohort") -> pd.DataFrame:
    """Served → impression → action counts and rates per ``by`` (cohort, item type, channel).

    Served items are those the API returned (served events of the ``midtier``
    channel record the layer below and are not counted); impressions and
    actions count the distinct served items (tracking ids) they reached,
    whatever fields the client filled.

    Examples
    --------
    >>> def e(i, t, **f):
    ...     return {"event_id": str(i), "tracking_id": f.pop("tr"), "type": t, "member_id": "m",
    ...             "item_id": "x", "ts": 1735787045, **f}
    >>> events = [e(1, "served", tr="a", cohort="groups"), e(2, "served", tr="b", cohort="groups"),
    ...           e(3, "served", tr="a", cohort="groups", channel="midtier"),
    ...           e(4, "impression", tr="a"), e(5, "impression", tr="b"),
    ...           e(6, "action", tr="a", action="click")]
    >>> funnel(events)[["served", "actions", "action_rate"]]  # doctest: +NORMALIZE_WHITESPACE
            served  actions  action_rate
    cohort
    groups       2        1          0.5
    """
    e = _frame(events)
    served = e[(e["type"] == "served") & e["channel"].ne("midtier") & e[by].notna()]
    served = served.drop_duplicates("tracking_id")
    group = served.set_index("tracking_id")[by]
    seen = e.loc[e["type"] == "impression", "tracking_id"].drop_duplicates()
    acted = e.loc[e["type"] == "action", "tracking_id"].drop_duplicates()
    out = pd.DataFrame(
        {
            "served": group.value_counts(),
            "impressions": group.reindex(seen).dropna().value_counts(),
            "actions": group.reindex(acted).dropna().value_counts(),
        }
    )
    out = out.fillna(0).astype(int).rename_axis(by).sort_index()
    out["impression_rate"] = out["impressions"] / out["served"]
    out["action_rate"] = (out["actions"] / out["impressions"]).where(out["impressions"] > 0, 0.0)
    out["actions_per_served"] = out["actions"] / out["served"]
    return out
