"""One generated population for every demo system: members who work at customer accounts.

The account prioritizer scores the accounts; the learning platform, the
network and the offer log are about the members. Every member works at one
account, and carries what the generators model: a name (the network), a
title and its seniority (learning; the network's titles include them all), an
industry and a region (the account's), and the company they work at (the
account's name). Members gather at few accounts, in heavy-tailed numbers, so
colleagues meet in the network as they do in :func:`~lumos.data.demo.social`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lumos._checks import check_number, renamed
from lumos.data._learning import INDUSTRIES, REGIONS, TITLES, _unique
from lumos.data._social_words import _FIRST, _LAST, _PREFIXES

#: The words that end an account's name, by industry: "Cedar Software", "Harbor Clinics".
NAME_SUFFIXES = {
    "Software": ("Software", "Labs", "Systems", "Cloud", "Digital"),
    "Finance": ("Capital", "Bank", "Financial", "Partners", "Insurance"),
    "Healthcare": ("Health", "Medical", "Clinics", "Care", "Pharma"),
    "Retail": ("Stores", "Market", "Goods", "Outfitters", "Brands"),
    "Manufacturing": ("Industries", "Manufacturing", "Works", "Materials", "Machines"),
    "Education": ("Academy", "Learning", "Institute", "Schools", "Education"),
}
_MIDDLES = ("North", "Blue", "Bright", "Grand", "Silver", "Summit", "Pacific", "Atlas")


@dataclass(frozen=True)
class Population:
    """The tables of :func:`population`.

    ``members``: ``member_id, name, title, industry, region, seniority,
    account_id, company`` — one row per member, ``company`` the name of the
    account they work at. ``accounts``: ``account_id, name, industry, region``.
    Pass ``members`` to :func:`~lumos.data.demo.learning`,
    :func:`~lumos.data.demo.social` and :func:`~lumos.data.demo.offers`, and
    ``accounts`` to :func:`~lumos.data.demo.saas`, and every book is about the
    same people and companies.
    """

    members: pd.DataFrame
    accounts: pd.DataFrame


def population(
    n_members: int = 3000,
    n_accounts: int = 2000,
    *,
    random_state: int = 0,
    seed: int | None = None,
) -> Population:
    """Members and the customer accounts they work at.

    Parameters
    ----------
    n_members : int, default=3000
    n_accounts : int, default=2000
    random_state : int, default=0
        The data depend on ``random_state`` and the arguments only (``seed`` is its
        older name).

    Returns
    -------
    Population
        Members work at ``max(5, n_members // 40)`` of the accounts (all of
        them, when there are fewer), in heavy-tailed numbers; a member's
        industry and region are their account's, their title one of
        :data:`lumos.data._learning.TITLES` (with its seniority).

    Examples
    --------
    >>> pop = population(200, 50, random_state=1)
    >>> list(pop.members.columns)
    ['member_id', 'name', 'title', 'industry', 'region', 'seniority', 'account_id', 'company']
    >>> at = pop.accounts.set_index("account_id").loc[pop.members["account_id"]]
    >>> bool((at["name"].to_numpy() == pop.members["company"].to_numpy()).all())
    True
    """
    check_number("population", "n_members", n_members, low=1, integer=True)
    check_number("population", "n_accounts", n_accounts, low=1, integer=True)
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="population")
    check_number("population", "random_state", random_state, integer=True)
    rng = np.random.default_rng(int(random_state))
    n, a = int(n_members), int(n_accounts)

    industry = rng.choice(len(INDUSTRIES), a)
    accounts = pd.DataFrame(
        {
            "account_id": np.array([f"A{i:06d}" for i in range(a)], dtype=object),
            "name": _account_names(rng, industry),
            "industry": np.asarray(INDUSTRIES, dtype=object)[industry],
            "region": rng.choice(REGIONS, a, p=[0.45, 0.3, 0.15, 0.1]).astype(object),
        }
    )

    # members gather at a few accounts, in heavy-tailed numbers (as the network's companies)
    employers = np.sort(rng.choice(a, min(a, max(5, n // 40)), replace=False))
    weight = rng.lognormal(0, 1.0, len(employers))
    at = employers[rng.choice(len(employers), n, p=weight / weight.sum())]
    titles = np.asarray(list(TITLES), dtype=object)
    share = rng.gamma(2.0, 1.0, len(titles))
    title = rng.choice(len(titles), n, p=share / share.sum())
    seniority = np.array([TITLES[t][0] for t in titles], dtype=np.float64)[title]
    first = np.asarray(_FIRST, dtype=object)[rng.integers(0, len(_FIRST), n)]
    last = np.asarray(_LAST, dtype=object)[rng.integers(0, len(_LAST), n)]
    members = pd.DataFrame(
        {
            "member_id": np.array([f"M{i:06d}" for i in range(n)], dtype=object),
            "name": first + " " + last,
            "title": titles[title],
            "industry": accounts["industry"].to_numpy()[at],
            "region": accounts["region"].to_numpy()[at],
            "seniority": seniority,
            "account_id": accounts["account_id"].to_numpy()[at],
            "company": accounts["name"].to_numpy()[at],
        }
    )
    return Population(members, accounts)


def _account_names(rng, industry: np.ndarray) -> np.ndarray:
    """Readable, distinct company names that say their industry: "Cedar Software"; three
    words ("Cedar North Software") once an industry's two-word names run out."""
    names = np.empty(len(industry), dtype=object)
    for i, sector in enumerate(INDUSTRIES):  # six industries
        idx = np.flatnonzero(industry == i)
        short = [f"{p} {s}" for p in _PREFIXES for s in NAME_SUFFIXES[sector]]
        long = [f"{p} {m} {s}" for p in _PREFIXES for m in _MIDDLES for s in NAME_SUFFIXES[sector]]
        combos = np.array(
            [
                *np.asarray(short)[rng.permutation(len(short))],
                *np.asarray(long)[rng.permutation(len(long))],
            ],
            dtype=object,
        )
        names[idx] = combos[np.arange(len(idx)) % len(combos)]
    return _unique(names)
