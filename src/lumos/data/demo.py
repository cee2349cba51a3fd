"""Generated demo data with known answers.

``accounts`` makes a book of business: one row per customer account with
usage, engagement and firmographic features over 3/6/12-month windows and
month-over-month pairs, and an upsell label driven by a hidden account health
whose drivers are known, so tests can check that models and narratives find
them. The insights design that narrates a model of it ships beside it
(:func:`accounts_design_path`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from lumos.errors import LumosUserError

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


def accounts(n_accounts: int = 5000, seed: int = 0) -> pd.DataFrame:
    """A book of customer accounts with an upsell label.

    Parameters
    ----------
    n_accounts : int, default=5000
    seed : int, default=0

    Returns
    -------
    DataFrame
        ``account_id``, ``industry``, ``region``, numeric features, the hidden
        ``health`` and the label ``upsell`` (1 if the account added seats at
        renewal). About 3% of the prev-month engagement values are missing.

    Examples
    --------
    >>> book = accounts(200, seed=1)
    >>> book.shape[0], book["upsell"].isin([0, 1]).all()
    (200, np.True_)
    """
    if not isinstance(n_accounts, int) or n_accounts < 1:
        raise LumosUserError(
            f"n_accounts must be an int >= 1. Got {n_accounts!r}.", code="bad_argument"
        )
    rng = np.random.default_rng(seed)
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
