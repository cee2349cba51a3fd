"""Generated demo data with known answers: accounts, SaaS, learning, a social network, offers.

:func:`population` makes one population — members who work at customer
accounts — that :func:`saas`, :func:`learning`, :func:`social` and
:func:`offers` can all be about (``accounts=pop.accounts``,
``members=pop.members``); without it each makes its own.

``accounts`` makes a book of business: one row per customer account with
usage, engagement and firmographic features over 3/6/12-month windows and
month-over-month pairs, and an upsell label driven by a hidden account health
whose drivers are known, so tests can check that models and narratives find
them. The insights design that narrates a model of it ships beside it
(:func:`accounts_design_path`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from lumos._checks import check_number, renamed
from lumos.data._given import given_table
from lumos.data._learning import LearningBook, learning
from lumos.data._offers import OfferBook, offers
from lumos.data._population import Population, population
from lumos.data._social import SocialBook, social
from lumos.errors import LumosUserError

__all__ = [
    "ACCOUNT_DRIVERS",
    "ACCOUNT_FEATURES",
    "SAAS_DRIVERS",
    "LearningBook",
    "OfferBook",
    "Population",
    "SaaSBook",
    "SocialBook",
    "accounts",
    "accounts_design_path",
    "learning",
    "offers",
    "population",
    "saas",
    "social",
]

INDUSTRIES = ("Software", "Finance", "Healthcare", "Retail", "Manufacturing", "Education")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")

#: The hidden health's drivers and their signs: what a good model must find.
ACCOUNT_DRIVERS = {
    "seat_utilization_3m": +1,
    "employees_growth": +1,
    "inmail_response_rate": +1,
    "hires_12m": +1,
    "open_tickets": -1,
}


def accounts(
    n_accounts: int = 5000, random_state: int = 0, *, seed: int | None = None
) -> pd.DataFrame:
    """A book of customer accounts with an upsell label.

    Parameters
    ----------
    n_accounts : int, default=5000
    random_state : int, default=0
        The data depend on ``random_state`` and the arguments only (``seed`` is its
        older name).

    Returns
    -------
    DataFrame
        ``account_id``, ``industry``, ``region``, numeric features, the hidden
        ``health`` and the label ``upsell`` (1 if the account added seats at
        renewal). About 3% of the prev-month engagement values are missing.

    Examples
    --------
    >>> book = accounts(200, random_state=1)
    >>> book.shape[0], book["upsell"].isin([0, 1]).all()
    (200, np.True_)
    """
    check_number("accounts", "n_accounts", n_accounts, low=1, integer=True)
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="accounts")
    rng = np.random.default_rng(random_state)
    n = n_accounts
    industry = rng.choice(INDUSTRIES, n)
    region = rng.choice(REGIONS, n, p=[0.45, 0.3, 0.15, 0.1])
    employees = np.round(np.exp(rng.normal(6.0, 1.3, n))).clip(10, None)
    growth = rng.normal(0.04, 0.12, n)
    employees_prev = np.round(employees / (1 + growth)).clip(5, None)
    seats = np.maximum(1, np.round(employees * rng.uniform(0.005, 0.05, n)))

    util_trend = rng.normal(0, 0.08, n)
    util_12m = rng.beta(4, 3, n)
    util_6m = np.clip(util_12m + util_trend / 2 + rng.normal(0, 0.03, n), 0, 1)
    util_3m = np.clip(util_12m + util_trend + rng.normal(0, 0.03, n), 0, 1)
    searches_12m = rng.gamma(3, 40, n)
    searches_3m = searches_12m * np.exp(util_trend * 2 + rng.normal(0, 0.1, n))
    response = rng.beta(5, 8, n)
    response_prev = np.clip(response - rng.normal(0, 0.05, n), 0.01, 1)
    job_posts = rng.poisson(4 + 20 * np.clip(growth, 0, None) + employees / 2000)
    job_posts_prev = rng.poisson(job_posts + 0.5)
    viewers = rng.gamma(5, 30, n)
    viewers_prev = viewers * np.exp(rng.normal(0, 0.2, n))
    hires = rng.poisson(0.3 * job_posts * 3 * (0.5 + response))
    tickets = rng.poisson(0.5 + 3 * (1 - util_3m) ** 2)
    premium = (rng.random(n) < 0.3).astype(float)
    months = rng.integers(1, 13, n).astype(float)

    z = lambda x: (x - x.mean()) / (x.std() + 1e-12)  # noqa: E731
    health = (
        1.2 * z(util_3m)
        + 0.6 * z(util_3m - util_12m)
        + 0.8 * z(growth)
        + 0.7 * z(response)
        + 0.5 * z(np.log1p(hires))
        - 0.6 * z(tickets)
        + 0.3 * premium
    )
    p = 1 / (1 + np.exp(-(health - 0.3)))
    upsell = (rng.random(n) < p).astype(np.int64)

    book = pd.DataFrame(
        {
            "account_id": [f"A{i:06d}" for i in range(n)],
            "industry": industry,
            "region": region,
            "seats": seats,
            "seat_utilization_3m": util_3m,
            "seat_utilization_6m": util_6m,
            "seat_utilization_12m": util_12m,
            "searches_per_seat_3m": searches_3m,
            "searches_per_seat_12m": searches_12m,
            "inmail_response_rate": response,
            "inmail_response_rate_prev_1m": response_prev,
            "job_posts": job_posts.astype(float),
            "job_posts_prev_1m": job_posts_prev.astype(float),
            "viewers_per_job": viewers,
            "viewers_per_job_prev_1m": viewers_prev,
            "hires_12m": hires.astype(float),
            "employees": employees,
            "employees_prev_12m": employees_prev,
            "employees_growth": employees / employees_prev - 1,
            "open_tickets": tickets.astype(float),
            "premium_support": premium,
            "months_to_renewal": months,
        }
    )
    for col in ("inmail_response_rate_prev_1m", "viewers_per_job_prev_1m", "job_posts_prev_1m"):
        book.loc[rng.random(n) < 0.03, col] = np.nan
    book["health"] = health
    book["upsell"] = upsell
    return book


ACCOUNT_FEATURES = [
    "seats",
    "seat_utilization_3m",
    "seat_utilization_6m",
    "seat_utilization_12m",
    "searches_per_seat_3m",
    "searches_per_seat_12m",
    "inmail_response_rate",
    "inmail_response_rate_prev_1m",
    "job_posts",
    "job_posts_prev_1m",
    "viewers_per_job",
    "viewers_per_job_prev_1m",
    "hires_12m",
    "employees",
    "employees_prev_12m",
    "employees_growth",
    "open_tickets",
    "premium_support",
    "months_to_renewal",
]


def accounts_design_path() -> Path:
    """The folder of the insights design that narrates an upsell model of :func:`accounts`."""
    return Path(str(resources.files("lumos.data") / "demo_design"))


# -- a book of SaaS business over time -------------------------------------------------------

PRODUCTS = ("recruiter", "jobs", "learning")
PRICES = {"recruiter": 9000.0, "jobs": 3000.0, "learning": 400.0}  # per unit and year
USAGE_METRICS = ("seat_utilization", "searches", "messages_sent", "response_rate", "hires")

#: How each usage metric moves with the hidden health (its sign): what models must find.
SAAS_DRIVERS = {
    "seat_utilization": +1,
    "searches": +1,
    "messages_sent": +1,
    "response_rate": +1,
    "hires": +1,
    "employees": +1,
}


@dataclass(frozen=True)
class SaaSBook:
    """The tables of :func:`saas`, and the hidden health that drove them."""

    accounts: pd.DataFrame
    contracts: pd.DataFrame
    usage: pd.DataFrame
    firmographics: pd.DataFrame
    health: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp


def saas(
    n_accounts: int | None = None,
    months: int = 36,
    random_state: int = 0,
    start="2023-01-01",
    *,
    accounts: pd.DataFrame | None = None,
    seed: int | None = None,
) -> SaaSBook:
    """A book of SaaS business: 12-month contracts, add-ons, renewals, usage and firmographics.

    Every account has a hidden monthly health (an AR(1) process around an
    account level, raised by headcount growth). Health drives usage (seat
    utilization, searches, messages sent, response rate, hires delivered), the
    chance of a mid-cycle add-on, and the renewal: churn of a product, or a
    larger or smaller renewal, from the health of the cycle's last six months;
    a healthy account may also sign an all-in deal at renewal, adding every
    product it never held. Products of one account are co-termed on 12-month
    cycles.

    Parameters
    ----------
    n_accounts : int, optional
        2000 by default; the number of ``accounts`` when they are given.
    months : int, default=36
        Months of history from ``start``; the data ends at ``start + months``.
    random_state : int, default=0
        The data depend on ``random_state`` and the arguments only (``seed`` is its
        older name).
    start : date-like, default="2023-01-01"
    accounts : DataFrame, optional
        The accounts to use (a population's ``accounts``: ``account_id, name,
        industry, region``) instead of generated ones: the book's ids,
        industries and regions are theirs, and its ``accounts`` table names
        them. Their business is drawn as for generated accounts, so the book
        is the one ``saas(len(accounts), …)`` makes, with these accounts.

    Returns
    -------
    SaaSBook
        ``accounts``, ``contracts``, ``usage`` (long: account, product, month,
        metric, value), ``firmographics`` (employees, hiring), and ``health``.

    Examples
    --------
    >>> book = saas(50, months=24, random_state=1)
    >>> sorted(book.contracts["kind"].unique()) <= ["add_on", "new", "renewal"]
    True
    >>> book.usage["metric"].nunique()
    5
    """
    given, n_accounts = given_table(
        accounts,
        n_accounts,
        default=2000,
        owner="saas",
        n_name="n_accounts",
        what="accounts",
        columns=["account_id", "name", "industry", "region"],
    )
    if not isinstance(months, int) or months < 13:
        raise LumosUserError(
            f"months must be an int >= 13 (one renewal). Got {months!r}.", code="bad_argument"
        )
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="saas")
    rng = np.random.default_rng(random_state)
    first = pd.Timestamp(start).to_period("M")
    month_dates = pd.period_range(first, periods=months + 1, freq="M").to_timestamp()
    n, P = n_accounts, len(PRODUCTS)
    ids = np.array([f"C{i:06d}" for i in range(n)], dtype=object)
    industry = rng.choice(INDUSTRIES, n)
    region = rng.choice(REGIONS, n, p=[0.45, 0.3, 0.15, 0.1])
    if given is not None:  # drawn all the same: the business is saas(n)'s, the accounts these
        ids = given["account_id"].astype(str).to_numpy(dtype=object)
        industry = given["industry"].astype(str).to_numpy(dtype=object)
        region = given["region"].astype(str).to_numpy(dtype=object)
    employees = np.round(np.exp(rng.normal(6.0, 1.2, n))).clip(20, None)
    growth = rng.normal(0.004, 0.01, n)  # monthly headcount growth
    level = rng.normal(0, 0.8, n) + 25 * growth
    holds = rng.random((n, P)) < np.array([0.9, 0.6, 0.35])
    holds[~holds.any(1), 0] = True
    potential = np.maximum(1, np.round(employees[:, None] * rng.uniform(0.004, 0.03, (n, P))))
    seats = np.where(holds, potential, 0)
    begin = rng.integers(0, 12, n)  # month each account first signs

    health = np.zeros((n, months))
    h = level + rng.normal(0, 0.5, n)
    rows_c, rows_u, rows_f = [], [], []
    qty = seats.astype(float)  # contracted units per product (base + add-ons)
    base = qty.copy()
    alive = np.zeros((n, P), dtype=bool)
    for t in range(months):
        g = growth + rng.normal(0, 0.01, n)
        employees = np.round(employees * np.exp(g))
        h = 0.85 * h + 0.15 * level + 8 * (g - 0.004) + rng.normal(0, 0.35, n)
        health[:, t] = h
        cycle_pos = t - begin
        starting = cycle_pos == 0
        renewing = (cycle_pos > 0) & (cycle_pos % 12 == 0)
        if renewing.any():
            recent = health[:, max(t - 6, 0) : t].mean(1)
            churn = rng.random((n, P)) < 1 / (1 + np.exp(2.2 + 1.6 * recent[:, None]))
            factor = np.exp(0.18 * recent[:, None] + rng.normal(0, 0.08, (n, P)))
            new_qty = np.where(churn, 0, np.maximum(1, np.round(qty * factor)))
            new_qty = np.where(renewing[:, None] & alive, new_qty, qty)
            alive &= ~(renewing[:, None] & (new_qty == 0))
            qty = np.where(renewing[:, None], new_qty, qty)
            base = np.where(renewing[:, None], qty, base)
            a, p = np.nonzero(renewing[:, None] & alive)
            rows_c.append((a, p, t, qty[a, p], "renewal"))
            # an all-in deal: a healthy account adds every product it never held
            missing = ~holds & alive.any(1, keepdims=True)
            deal = (
                renewing & missing.any(1) & (rng.random(n) < 1 / (1 + np.exp(3.2 - 1.5 * recent)))
            )
            a, p = np.nonzero(deal[:, None] & missing)
            qty[a, p] = base[a, p] = potential[a, p]
            holds[a, p] = alive[a, p] = True
            rows_c.append((a, p, t, qty[a, p], "new"))
        if starting.any():
            alive |= starting[:, None] & holds
            a, p = np.nonzero(starting[:, None] & holds)
            rows_c.append((a, p, t, qty[a, p], "new"))
        mid = (cycle_pos % 12 >= 2) & (cycle_pos % 12 <= 9) & (cycle_pos > 0)
        chance = np.clip(0.02 * np.exp(1.2 * h), 0, 0.3)[:, None]
        add = mid[:, None] & alive & (rng.random((n, P)) < chance)
        if add.any():
            extra = np.maximum(1, np.round(base * rng.uniform(0.1, 0.3, (n, P))))
            a, p = np.nonzero(add)
            qty[a, p] += extra[a, p]
            rows_c.append((a, p, t, extra[a, p], "add_on"))
        active = alive.any(1)
        hiring = rng.poisson(employees[active] * 0.01 * np.exp(0.4 * h[active]))
        rows_f.append((np.flatnonzero(active), t, employees[active], hiring))
        a, p = np.nonzero(alive)
        if len(a):
            hs, units = h[a], qty[a, p]
            noise = rng.normal(0, 0.25, (5, len(a)))
            values = np.stack(
                [
                    1 / (1 + np.exp(-(0.4 + 1.1 * hs + noise[0]))),
                    np.round(units * np.exp(3.0 + 0.45 * hs + noise[1])),
                    np.round(units * np.exp(2.3 + 0.35 * hs + noise[2])),
                    1 / (1 + np.exp(-(-0.6 + 0.7 * hs + noise[3]))),
                    rng.poisson(units * 0.12 * np.exp(0.6 * hs)).astype(float),
                ]
            )
            rows_u.append((a, p, t, values))

    contracts = _contract_table(rows_c, ids, begin, month_dates, months)
    products, metrics = np.asarray(PRODUCTS, dtype=object), np.asarray(USAGE_METRICS, dtype=object)
    usage = pd.concat(
        [
            pd.DataFrame(
                {
                    "account_id": np.tile(ids[a], len(metrics)),
                    "product": np.tile(products[p], len(metrics)),
                    "month": month_dates[t],
                    "metric": np.repeat(metrics, len(a)),
                    "value": values.ravel(),
                }
            )
            for a, p, t, values in rows_u
        ],
        ignore_index=True,
    )
    firmographics = pd.concat(
        [
            pd.DataFrame(
                {
                    "account_id": ids[a],
                    "month": month_dates[t],
                    "employees": e,
                    "hiring": hire.astype(float),
                }
            )
            for a, t, e, hire in rows_f
        ],
        ignore_index=True,
    )
    named = {} if given is None else {"name": given["name"].astype(str).to_numpy(dtype=object)}
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            **named,
            "industry": industry,
            "region": region,
            "size": pd.cut(
                employees,
                [0, 200, 1000, 5000, np.inf],
                labels=["small", "mid", "large", "enterprise"],
            ).astype(str),
        }
    )
    health_table = pd.DataFrame(
        {
            "account_id": np.repeat(ids, months),
            "month": np.tile(month_dates[:months], n),
            "health": health.ravel(),
        }
    )
    return SaaSBook(
        accounts, contracts, usage, firmographics, health_table, month_dates[0], month_dates[months]
    )


def _contract_table(rows, ids, begin, month_dates, months) -> pd.DataFrame:
    a = np.concatenate([r[0] for r in rows])
    p = np.concatenate([r[1] for r in rows])
    t = np.concatenate([np.full(len(r[0]), r[2]) for r in rows])
    q = np.concatenate([r[3] for r in rows])
    kind = np.concatenate([np.full(len(r[0]), r[4], dtype=object) for r in rows])
    cycle_end = begin[a] + ((t - begin[a]) // 12 + 1) * 12
    all_months = pd.period_range(
        month_dates[0].to_period("M"), periods=months + 13, freq="M"
    ).to_timestamp()
    products = np.asarray(PRODUCTS, dtype=object)[p]
    frame = pd.DataFrame(
        {
            "account_id": ids[a],
            "product": products,
            "start": all_months[t],
            "end": all_months[cycle_end],
            "quantity": q,
            "amount": q * np.array([PRICES[x] for x in PRODUCTS])[p] * (cycle_end - t) / 12,
            "kind": kind,
        }
    )
    return frame.sort_values(["account_id", "product", "start", "kind"]).reset_index(drop=True)
