"""My Network: a member's discovery cohorts as carousels, and "See all" pages that page
through one cohort by the mid-tier's tokens."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from lumos._html import esc
from lumos.errors import ApiError
from lumos.serve._limits import ID, TOKEN
from lumos.serve._pages.shell import empty, member_form, page, try_member
from lumos.serve._services import services

COHORT_PAGE = 12  # items per "See all" page
NO_COHORTS = "No discovery cohorts are configured (lumos serve --cohorts)."

router = APIRouter()


@router.get("/network", response_class=HTMLResponse, include_in_schema=False)
async def network(request: Request, member: str = Query("", max_length=ID)):
    s = services(request)
    cohorts = s.cohorts
    form = member_form("/network", member)
    if cohorts is None:
        return page("network", "My Network", empty(NO_COHORTS))
    if not member:
        return page(
            "network",
            "My Network",
            form
            + empty("Enter a member id to see their discovery cohorts.")
            + try_member("/network", s.example_member),
        )
    got = await cohorts.page(member, max_items=4)
    parts = [form]
    if got["left_out"]:
        parts.append(
            f'<p class="alert" role="status">Not shown (their rankers did not '
            f"answer in time): {esc(', '.join(got['left_out']))}.</p>"
        )
    for n, cohort in enumerate(got["cohorts"]):
        see_all = f"/network/{quote(cohort['cohort_id'])}?" + urlencode({"member": member})
        parts.append(
            f'<section class="carousel" aria-labelledby="cohort-{n}">'
            f'<h2 id="cohort-{n}">{esc(cohort["header"])}</h2>'
            f'<ul class="track" tabindex="0" aria-label="{esc(cohort["header"])}">'
            f"{''.join(_card(i) for i in cohort['items'])}</ul>"
            f'<a class="see-all" href="{esc(see_all)}">{esc(cohort["see_all"]["label"])}'
            f'<span class="sr-only">: {esc(cohort["header"])}</span></a></section>'
        )
    if not got["cohorts"]:
        parts.append(empty(f"No cohorts for member {member!r}."))
    return page("network", f"My Network — {member}", "".join(parts))


@router.get("/network/{cohort_id}", response_class=HTMLResponse, include_in_schema=False)
async def see_all(
    request: Request,
    cohort_id: str = Path(max_length=ID),
    member: str = Query(..., min_length=1, max_length=ID),
    page_token: str | None = Query(None, max_length=TOKEN),
):
    cohorts = services(request).cohorts
    if cohorts is None:
        return page("network", "My Network", empty(NO_COHORTS), status=404)
    try:
        got = await cohorts.cohort(member, cohort_id, page_token=page_token, count=COHORT_PAGE)
    except ApiError as exc:
        return page(
            "network",
            "My Network",
            f'<p class="alert" role="alert">{esc(exc.message)}</p>',
            status=exc.status,
        )
    first = got["items"][0]["position"] + 1 if got["items"] else 0
    last = first + len(got["items"]) - 1
    items = "".join(_card(i) for i in got["items"])
    links = [f'<a href="/network?{esc(urlencode({"member": member}))}">All cohorts</a>']
    if got["next_page_token"]:
        nxt = f"/network/{quote(cohort_id)}?" + urlencode(
            {"member": member, "page_token": got["next_page_token"]}
        )
        links.append(f'<a href="{esc(nxt)}" rel="next">Next page</a>')
    body = (
        f'<p class="muted">{first}–{last} of {got["total"]}</p>'
        f'<ol class="grid" start="{first}">{items}</ol>'
        f'<nav class="pager" aria-label="Pages">{" ".join(links)}</nav>'
    )
    return page("network", got["header"], body)


def _card(item: dict) -> str:
    name = item.get("name") or item["item_id"]
    detail = item.get("headline") or item.get("title") or item.get("item_type", "")
    return (
        f'<li class="card" data-item="{esc(item["item_id"])}"><span class="course">'
        f'{esc(name)}</span><span class="muted">{esc(detail)}</span></li>'
    )
