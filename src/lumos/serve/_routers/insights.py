"""``GET /v1/accounts/{account_id}/insights``: an account's scores and narratives."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, Path, Request

from lumos.errors import ApiError
from lumos.serve._limits import ID
from lumos.serve._routers.recommendations import finite
from lumos.serve._services import services

router = APIRouter()


@router.get("/v1/accounts/{account_id}/insights")
def account_insights(request: Request, account_id: str = Path(max_length=ID)) -> dict:
    """The account's name, and its rows (itself first, then each product): predicted change
    in units, score (that change ÷ the units under contract), class, units, renewal, the
    headline when the score table has one, and the narratives by category."""
    s = services(request)
    insights = s.insights
    if insights is None or account_id not in insights.index:
        raise ApiError(404, "not_found", f"no insights for account {account_id!r}", "account_id")
    rows = insights.loc[[account_id]]
    if "product" in rows:  # the account's own row first, then its products in the table's order
        own = rows["product"].isna() | (rows["product"] == "")
        rows = pd.concat([rows[own], rows[~own]])
    out = []
    for _, row in rows.iterrows():  # an account's few rows (itself and its products)
        why = {c[4:]: row[c] for c in rows.columns if c.startswith("why_") and row[c]}
        out.append(
            {
                "product": text(row.get("product")),
                "score": finite(row.get("score")),
                "class": row.get("class"),
                "predicted_change": finite(row.get("predicted_change")),
                "units": finite(row.get("units")),
                "renewal": day(row.get("renewal")),
                "headline": text(row.get("headline")),
                "narratives": why,
            }
        )
    name = text(rows["account_name"].iloc[0]) if "account_name" in rows else None
    return {"account_id": account_id, "name": name, "rows": out}


def text(value) -> str | None:
    """``value`` as text, or None when missing or empty."""
    return None if value is None or pd.isna(value) or value == "" else str(value)


def day(value) -> str | None:
    """A date as ``YYYY-MM-DD``, or None."""
    if value is None or pd.isna(value):
        return None
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        return str(value)
