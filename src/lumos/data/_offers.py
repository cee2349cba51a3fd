"""Generated offer logs with a known conversion model: members, arms, and a uniform policy's funnel.

Members have a tenure, a network size and how much they look for jobs,
recruit, sell and learn. Each Premium product suits one of those intents
(Career: job seeking, Recruiter Lite: recruiting, Sales Navigator: selling,
Learning: learning, Business: a large network); creatives and channels work
differently for different members (a discount converts new members, a
testimonial those with large networks; notifications reach recent members,
email older ones). The conversion probability of a (member, arm) pair is a
logistic function of these, with the intent entering as the cube of its share of the
member's main intent, so it is not linear in member × arm features. ``truth`` computes it, so a
test can check a policy's value and an off-policy estimate against it.

The log is that of a uniform-random policy: each request names a channel and
the policy picks one of that channel's arms or "no offer" uniformly, logging
its propensity; a purchase follows within three days with the arm's
conversion probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lumos._checks import check_number, renamed
from lumos.data._given import given_table

NO_OFFER = "none"
PRODUCTS = {  # product: (monthly price, the member column it serves)
    "career": (39.99, "job_seeking"),
    "business": (59.99, "network"),
    "sales_navigator": (99.99, "selling"),
    "recruiter_lite": (169.99, "recruiting"),
    "learning": (29.99, "learning"),
}
CREATIVES = ("discount", "testimonial", "feature_tour")
CHANNELS = ("email", "feed", "notification")
MEMBER_FEATURES = ("tenure_years", "network", "job_seeking", "recruiting", "selling", "learning")


@dataclass
class OfferBook:
    """The tables of :func:`offers` and the conversion model behind them.

    ``members`` (``member_id`` and :data:`MEMBER_FEATURES`), ``arms``
    (``arm_id``, ``product``, ``creative``, ``channel``, ``price``; the
    "no offer" arm has ``arm_id`` ``"none"`` and empty product, creative and
    channel) and ``events`` (funnel events: ``served`` offers with their
    propensity and ``purchase`` actions; ``ts`` in epoch seconds; each row
    passes :func:`lumos.events.validate_event`). ``truth(member_rows, arm_rows)``
    gives the conversion probabilities of ``members.iloc[member_rows]`` under
    ``arms.iloc[arm_rows]`` (broadcast).
    """

    members: pd.DataFrame
    arms: pd.DataFrame
    events: pd.DataFrame
    truth: object = field(repr=False)


def offer_arms() -> pd.DataFrame:
    """Product × creative × channel, plus the "no offer" arm first."""
    rows = [(NO_OFFER, "", "", "", 0.0)]
    for product, (price, _) in PRODUCTS.items():
        for creative in CREATIVES:
            for channel in CHANNELS:
                rows.append((f"{product}/{creative}/{channel}", product, creative, channel, price))
    return pd.DataFrame(rows, columns=["arm_id", "product", "creative", "channel", "price"])


def offers(
    n_members: int | None = None,
    n_requests: int = 30_000,
    *,
    random_state: int = 0,
    start="2026-01-05",
    members: pd.DataFrame | None = None,
    seed: int | None = None,
) -> OfferBook:
    """Members, arms and a uniform-random policy's offer log with known conversion rates.

    Parameters
    ----------
    n_members : int, optional
        5000 by default; the number of ``members`` when they are given.
    n_requests : int, default=30_000
        Offer requests in the log, over four weeks from ``start``.
    random_state : int, default=0
        The data depend on ``random_state`` and the arguments only (``seed`` is its
        older name).
    start : date-like, default="2026-01-05"
    members : DataFrame, optional
        The members to make offers to (a population's ``members``; only their
        ``member_id`` is read) instead of generated ids. Their intents, tenure
        and network are drawn as for generated members, so the book is the one
        ``offers(len(members), …)`` makes, with these ids.

    Returns
    -------
    OfferBook

    Examples
    --------
    >>> book = offers(200, 1000, random_state=0)
    >>> len(book.arms), sorted(book.events.type.unique())
    (46, ['action', 'served'])
    >>> p = book.truth(np.arange(3), np.arange(46))
    >>> p.shape, bool((p[:, 0] == 0).all())
    ((3, 46), True)
    """
    given, n_members = given_table(
        members,
        n_members,
        default=5000,
        owner="offers",
        n_name="n_members",
        what="members",
        columns=["member_id"],
    )
    check_number("offers", "n_requests", n_requests, low=1, integer=True)
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="offers")
    rng = np.random.default_rng(random_state)
    intents = rng.dirichlet(
        np.full(5, 0.4), n_members
    )  # career, business, sales, recruiting, learning
    tenure = rng.lognormal(1.0, 0.8, n_members)
    members = pd.DataFrame(
        {
            "member_id": (
                [f"om{i:06d}" for i in range(n_members)]
                if given is None
                else given["member_id"].astype(str).to_numpy(dtype=object)
            ),
            "tenure_years": tenure.round(2),
            "network": np.log1p(rng.lognormal(5.0, 1.2, n_members)) + 2 * intents[:, 1],
            "job_seeking": intents[:, 0] + rng.normal(0, 0.05, n_members),
            "recruiting": intents[:, 3] + rng.normal(0, 0.05, n_members),
            "selling": intents[:, 2] + rng.normal(0, 0.05, n_members),
            "learning": intents[:, 4] + rng.normal(0, 0.05, n_members),
        }
    )
    arms = offer_arms()
    product_index = {p: i for i, p in enumerate(PRODUCTS)}
    arm_product = np.array([product_index.get(p, -1) for p in arms["product"]])
    arm_creative = np.array([CREATIVES.index(c) if c else -1 for c in arms["creative"]])
    arm_channel = np.array([CHANNELS.index(c) if c else -1 for c in arms["channel"]])
    young = 1 / (1 + np.exp(tenure - 2.0))  # new members: near 1
    wide = (members["network"].to_numpy() - 5.0) / 2.0

    def truth(member_rows, arm_rows) -> np.ndarray:
        m, a = np.ix_(np.atleast_1d(member_rows), np.atleast_1d(arm_rows))
        own = intents[m, np.maximum(arm_product[a], 0)]  # the intent the product serves
        fit = (own / intents[m[:, 0]].max(axis=1)[:, None]) ** 3  # 1 for the main intent
        creative = np.select(
            [arm_creative[a] == 0, arm_creative[a] == 1],
            [1.2 * young[m] - 0.4, 0.6 * np.tanh(wide[m])],
            0.1,
        )
        channel = np.select(
            [arm_channel[a] == 0, arm_channel[a] == 2],
            [0.5 * (1 - young[m]) - 0.2, 0.7 * young[m] - 0.3],
            0.0,
        )
        logit = -4.2 + 3.5 * fit + creative + channel
        return np.where(arm_product[a] < 0, 0.0, 1 / (1 + np.exp(-logit)))

    # the uniform-random log
    start = pd.Timestamp(start, tz="UTC").timestamp()
    who = rng.integers(0, n_members, n_requests)
    channel = rng.integers(0, len(CHANNELS), n_requests)
    when = start + np.sort(rng.random(n_requests)) * 28 * 86400  # epoch seconds, as logged
    choices = [np.flatnonzero((arm_channel == c) | (arm_product < 0)) for c in range(len(CHANNELS))]
    pick = rng.integers(0, len(choices[0]), n_requests)
    arm = np.array([choices[c][j] for c, j in zip(channel, pick, strict=True)])
    p = truth(np.arange(n_members), np.arange(len(arms)))[who, arm]
    bought = rng.random(n_requests) < p
    tracking = [f"ot{i:08x}" for i in range(n_requests)]
    served = pd.DataFrame(
        {
            "event_id": [f"{t}-s" for t in tracking],
            "tracking_id": tracking,
            "type": "served",
            "action": None,
            "member_id": members["member_id"].to_numpy()[who],
            "item_id": arms["arm_id"].to_numpy()[arm],
            "item_type": "offer",
            "channel": np.array(CHANNELS)[channel],
            "model_id": "uniform",
            "propensity": 1.0 / len(choices[0]),
            "value": np.nan,
            "ts": when,
        }
    )
    rows = np.flatnonzero(bought)
    delay = rng.exponential(12 * 3600, len(rows)).clip(60, 70 * 3600)
    actions = served.iloc[rows].assign(
        event_id=[f"{tracking[i]}-p" for i in rows],
        type="action",
        action="purchase",
        propensity=np.nan,
        value=arms["price"].to_numpy()[arm[rows]],
        ts=when[rows] + delay,
    )
    events = pd.concat([served, actions]).sort_values("ts", kind="stable").reset_index(drop=True)
    for column in ("propensity", "value"):  # None, not NaN, where a field is absent
        events[column] = events[column].astype(object).where(events[column].notna(), None)
    return OfferBook(members, arms, events, truth)
