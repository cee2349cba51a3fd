"""The Learning page: a member's course recommendations in carousels, one per reason."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from lumos._html import esc, num
from lumos.serve._limits import ID
from lumos.serve._pages.shell import empty, member_form, page, try_member
from lumos.serve._services import services
from lumos.store import COLD_START, ranked

router = APIRouter()


@router.get("/learning", response_class=HTMLResponse, include_in_schema=False)
def learning(request: Request, member: str = Query("", max_length=ID)):
    s = services(request)
    form = member_form("/learning", member)
    if not member:
        ask = "Enter a member id to see their course recommendations, grouped by reason."
        return page(
            "learning", "Learning", form + empty(ask) + try_member("/learning", s.example_member)
        )
    _, model = s.treatment(member)
    record = s.store.get(member)
    cold = record is None or model not in record["models"]
    if cold:
        record, model = s.store.get(COLD_START), COLD_START
    if record is None or model not in record["models"]:
        return page(
            "learning",
            "Learning",
            form
            + empty(
                f"No recommendations for member {member!r} and no cold-start list in the "
                "store; publish with lumos recommend publish."
            ),
            status=404,
        )
    rows = ranked(record, model)
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row["reason_text"] or "Recommended for you", []).append(row)
    parts = [
        form,
        f'<p class="muted">Model {esc(model)}'
        f"{' (cold start: popular courses)' if cold else ''}; "
        f"{len(rows)} courses.</p>",
    ]
    titles = s.titles
    for n, (reason, items) in enumerate(groups.items()):
        cards = "".join(
            f'<li class="card" data-item="{esc(i["item_id"])}"><span class="course">'
            f'{esc(titles.get(i["item_id"], i["item_id"]))}</span><span class="muted">'
            f"{esc(i['item_id']) + ' · ' if i['item_id'] in titles else ''}"
            f"score {num(i['score'], 3)}</span></li>"
            for i in items
        )
        parts.append(
            f'<section class="carousel" aria-labelledby="reason-{n}">'
            f'<h2 id="reason-{n}">{esc(reason)}</h2>'
            f'<ul class="track" tabindex="0" aria-label="{esc(reason)}">{cards}</ul></section>'
        )
    return page("learning", f"Learning — {member}", "".join(parts))
