"""The member and the account ``lumos demo`` offers to try: one of each that works everywhere.

The member has a course list of their own in the store (not the cold-start
one), discovery cohorts in the network — enough of them, the first with more
than one "See all" page — and is among the offer model's members; the account
is the one they work at, and has insights rows. Both are saved in the demo
folder (``try.json``), where the dashboard reads them to offer them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lumos.data import atomic_path

TRY_FILE = "try.json"
MIN_COHORTS = 5  # of the demo's 8: a page worth looking at
SEE_ALL = 12  # items per "See all" page of the dashboard: the first cohort has more


def candidates(members: pd.DataFrame, scored, lists: dict, router) -> list[str]:
    """Members, in id order, whose account has scores and whose treatment's model has a list
    for them (so the store serves them their own list, not the cold-start one)."""
    mine = members[members["account_id"].isin(set(scored))].sort_values("member_id")
    listed = {model: set(table["member_id"]) for model, table in lists.items()}
    out = []
    for member in mine["member_id"]:  # stops at the first few that fit: not a hot path
        _, model = router(member)
        if member in listed.get(model, ()):
            out.append(member)
            if len(out) >= 200:
                break
    return out


async def first_with_cohorts(service, members: list[str]) -> tuple[str, dict]:
    """The first of ``members`` whose page shows at least :data:`MIN_COHORTS` cohorts, the
    first with more than one "See all" page; else the one with the most. And their page."""
    best = None
    for member in members:
        page = await service.page(member, max_items=4)
        shown = len(page["cohorts"])
        if shown >= MIN_COHORTS:
            first = page["cohorts"][0]["cohort_id"]
            whole = await service.cohort(member, first, count=SEE_ALL)
            if whole["next_page_token"]:
                return member, page
        if best is None or shown > len(best[1]["cohorts"]):
            best = member, page
    if best is None or not best[1]["cohorts"]:
        raise RuntimeError("no member of the demo has a list and discovery cohorts")
    return best


def save_try(out, member: str, account: str) -> Path:
    """Write ``try.json`` in the demo folder ``out``."""
    path = Path(out) / TRY_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"member": member, "account": account}, indent=1))
    return path


def read_try(out) -> dict:
    """``{"member", "account"}`` from the demo folder ``out`` (empty for an older one)."""
    path = Path(out) / TRY_FILE
    return json.loads(path.read_text()) if path.is_file() else {}
