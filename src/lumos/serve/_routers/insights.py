"""``GET /v1/accounts/{account_id}/insights``: an account's scores and narratives."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, Request

from lumos.errors import ApiError
from lumos.serve._routers.recommendations import finite
from lumos.serve._services import services

router = APIRouter()


@router.get("/v1/accounts/{account_id}/insights")
def account_insights(request: Request, account_id: str) -> dict:
    """The account's rows (itself and each product): score, class, predicted change and the
    narratives by category."""
    s = services(request)
    s.authorize(request.headers, write=False)
    insights = s.insights
    if insights is None or account_id not in insights.index:
        raise ApiError(404, "not_found", f"no insights for account {account_id!r}", "account_id")
    rows = insights.loc[[account_id]]
    out = []
    for _, row in rows.iterrows():  # an account's few rows (itself and its products)
        why = {c[4:]: row[c] for c in rows.columns if c.startswith("why_") and row[c]}
        out.append(
            {
                "product": None if pd.isna(row.get("product")) else row.get("product"),
                "score": finite(row.get("score")),
                "class": row.get("class"),
                "predicted_change": finite(row.get("predicted_change")),
                "narratives": why,
            }
        )
    return {"account_id": account_id, "rows": out}
