"""The web dashboard: server-rendered pages over the same data the API serves.

``add_dashboard`` adds ``/`` (the Accounts book), ``/accounts``,
``/learning``, ``/network`` and its "See all" pages, ``/offers`` and
``/health`` (Model health) to an app, and
``/static/`` for the one stylesheet, script and icon, served by Lumos itself:
no build step and nothing fetched from elsewhere.
Pages are plain HTML that works with a keyboard and without JavaScript (sorting,
filtering and paging are links and a GET form); the script only opens an
account's narratives in a pop-up (a modal ``dialog``), read from
``GET /v1/accounts/{id}/insights`` — the page shows what the API says.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from lumos.errors import ApiError
from lumos.serve._health_page import health_body
from lumos.serve._html import Lazy, _e, _empty, _num, _page, _scroller
from lumos.serve._offers_page import offers_body

STATIC = Path(__file__).parent / "static"
PAGE_SIZE = 50
SORTS = ("account_id", "product", "score", "class", "predicted_change", "change")
COHORT_PAGE = 12  # items per "See all" page
NO_COHORTS = "No discovery cohorts are configured (lumos serve --cohorts)."


def add_dashboard(
    app: FastAPI,
    *,
    insights: pd.DataFrame | None,
    store,
    treatment,
    cohorts=None,
    offers: Lazy | None = None,
    health: Lazy | None = None,
    propensity: pd.DataFrame | None = None,
    titles: dict | None = None,
) -> None:
    """Add the dashboard's pages and static files to ``app``.

    ``offers`` and ``health`` compute the Offers and Model health pages' figures
    (:func:`~lumos.serve._offers_page.offer_figures`,
    :func:`lumos.evaluate.model_health`) on first visit; ``propensity`` is an
    account prioritizer's validation report, which Model health shows first.
    ``titles`` maps course ids to the titles Learning's cards show.
    """
    titles = titles or {}
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    whole = None if insights is None else _book(insights)  # the table is read once, at start

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse("/accounts", status_code=307)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return RedirectResponse("/static/favicon.svg", status_code=308)

    @app.get("/accounts", response_class=HTMLResponse, include_in_schema=False)
    def accounts(
        sort: str = Query("score"),
        order: str = Query("desc"),
        klass: str = Query("", alias="class"),
        product: str = Query(""),
        min_score: str = Query(""),
        page: int = Query(1, ge=1, le=1_000_000),
    ):
        if insights is None:
            return _page(
                "accounts",
                "Accounts",
                _empty(
                    "No account scores are loaded. Start the server with --insights scores.parquet "
                    "(the table lumos propensity score writes)."
                ),
            )
        problems = []
        if sort not in SORTS:
            problems.append(f"sort must be one of {', '.join(SORTS)}; got {sort!r}")
            sort = "score"
        if order not in ("asc", "desc"):
            problems.append(f"order must be asc or desc; got {order!r}")
            order = "desc"
        low = None
        if min_score:
            try:
                low = float(min_score)
                if not math.isfinite(low):
                    raise ValueError
            except ValueError:
                problems.append(f"min score must be a number; got {min_score!r}")
        book = whole
        if klass:
            book = book[book["class"] == klass]
        if product:
            book = book[book["product"] == product]
        if low is not None:
            book = book[book["score"] >= low]
        book = book.sort_values(
            [sort, "account_id"],
            ascending=[order == "asc", True],
            na_position="last",
            kind="stable",
        )
        pages = max(1, math.ceil(len(book) / PAGE_SIZE))
        page = min(page, pages)
        shown = book.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        state = {
            "sort": sort,
            "order": order,
            "class": klass,
            "product": product,
            "min_score": min_score,
        }
        body = _accounts_body(whole, shown, state, page, pages, len(book), problems)
        return _page("accounts", "Accounts", body, status=400 if problems else 200)

    @app.get("/learning", response_class=HTMLResponse, include_in_schema=False)
    def learning(request: Request, member: str = Query("", max_length=200)):
        from lumos.store import COLD_START, ranked

        form = (
            '<form class="filters" method="get" action="/learning" role="search">'
            '<label>Member <input name="member" value="'
            f'{_e(member)}" required></label> <button type="submit">Show</button></form>'
        )
        if not member:
            ask = "Enter a member id to see their course recommendations, grouped by reason."
            return _page("learning", "Learning", form + _empty(ask))
        _, model = treatment(member)
        record = store.get(member)
        cold = record is None or model not in record["models"]
        if cold:
            record, model = store.get(COLD_START), COLD_START
        if record is None or model not in record["models"]:
            return _page(
                "learning",
                "Learning",
                form
                + _empty(
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
            f'<p class="muted">Model {_e(model)}'
            f"{' (cold start: popular courses)' if cold else ''}; "
            f"{len(rows)} courses.</p>",
        ]
        for n, (reason, items) in enumerate(groups.items()):
            cards = "".join(
                f'<li class="card" data-item="{_e(i["item_id"])}"><span class="course">'
                f'{_e(titles.get(i["item_id"], i["item_id"]))}</span><span class="muted">'
                f"{_e(i['item_id']) + ' · ' if i['item_id'] in titles else ''}"
                f"score {_num(i['score'], 3)}</span></li>"
                for i in items
            )
            parts.append(
                f'<section class="carousel" aria-labelledby="reason-{n}">'
                f'<h2 id="reason-{n}">{_e(reason)}</h2>'
                f'<ul class="track" tabindex="0" aria-label="{_e(reason)}">{cards}</ul></section>'
            )
        return _page("learning", f"Learning — {member}", "".join(parts))

    def member_form(action: str, member: str) -> str:
        return (
            f'<form class="filters" method="get" action="{action}" role="search">'
            f'<label>Member <input name="member" value="{_e(member)}" required></label> '
            '<button type="submit">Show</button></form>'
        )

    @app.get("/network", response_class=HTMLResponse, include_in_schema=False)
    async def network(member: str = Query("", max_length=200)):
        form = member_form("/network", member)
        if cohorts is None:
            return _page("network", "My Network", _empty(NO_COHORTS))
        if not member:
            return _page(
                "network",
                "My Network",
                form + _empty("Enter a member id to see their discovery cohorts."),
            )
        page = await cohorts.page(member, max_items=4)
        parts = [form]
        if page["left_out"]:
            parts.append(
                f'<p class="alert" role="status">Not shown (their rankers did not '
                f"answer in time): {_e(', '.join(page['left_out']))}.</p>"
            )
        for n, cohort in enumerate(page["cohorts"]):
            see_all = f"/network/{quote(cohort['cohort_id'])}?" + urlencode({"member": member})
            parts.append(
                f'<section class="carousel" aria-labelledby="cohort-{n}">'
                f'<h2 id="cohort-{n}">{_e(cohort["header"])}</h2>'
                f'<ul class="track" tabindex="0" aria-label="{_e(cohort["header"])}">'
                f"{''.join(_cohort_card(i) for i in cohort['items'])}</ul>"
                f'<a class="see-all" href="{_e(see_all)}">{_e(cohort["see_all"]["label"])}'
                f'<span class="sr-only">: {_e(cohort["header"])}</span></a></section>'
            )
        if not page["cohorts"]:
            parts.append(_empty(f"No cohorts for member {member!r}."))
        return _page("network", f"My Network — {member}", "".join(parts))

    @app.get("/offers", response_class=HTMLResponse, include_in_schema=False)
    def offers_page():
        body, status = offers_body(offers)
        return _page("offers", "Offers", body, status=status)

    @app.get("/health", response_class=HTMLResponse, include_in_schema=False)
    def health_page(model: str = Query("", max_length=200)):
        body, status = health_body(health, model, propensity)
        return _page("health", "Model health", body, status=status)

    @app.get("/network/{cohort_id}", response_class=HTMLResponse, include_in_schema=False)
    async def see_all(
        cohort_id: str,
        member: str = Query(..., min_length=1, max_length=200),
        page_token: str | None = Query(None, max_length=512),
    ):

        if cohorts is None:
            return _page("network", "My Network", _empty(NO_COHORTS), status=404)
        try:
            got = await cohorts.cohort(member, cohort_id, page_token=page_token, count=COHORT_PAGE)
        except ApiError as exc:
            return _page(
                "network",
                "My Network",
                f'<p class="alert" role="alert">{_e(exc.message)}</p>',
                status=exc.status,
            )
        first = got["items"][0]["position"] + 1 if got["items"] else 0
        last = first + len(got["items"]) - 1
        items = "".join(_cohort_card(i, tag="li") for i in got["items"])
        links = [f'<a href="/network?{_e(urlencode({"member": member}))}">All cohorts</a>']
        if got["next_page_token"]:
            nxt = f"/network/{quote(cohort_id)}?" + urlencode(
                {"member": member, "page_token": got["next_page_token"]}
            )
            links.append(f'<a href="{_e(nxt)}" rel="next">Next page</a>')
        body = (
            f'<p class="muted">{first}–{last} of {got["total"]}</p>'
            f'<ol class="grid" start="{first}">{items}</ol>'
            f'<nav class="pager" aria-label="Pages">{" ".join(links)}</nav>'
        )
        return _page("network", got["header"], body)


def _cohort_card(item: dict, tag: str = "li") -> str:
    name = item.get("name") or item["item_id"]
    detail = item.get("headline") or item.get("title") or item.get("item_type", "")
    return (
        f'<{tag} class="card" data-item="{_e(item["item_id"])}"><span class="course">'
        f'{_e(name)}</span><span class="muted">{_e(detail)}</span></{tag}>'
    )


def _book(insights: pd.DataFrame) -> pd.DataFrame:
    """One row per account and product: the columns the Accounts table shows."""
    frame = insights.reset_index()
    out = pd.DataFrame(
        {
            "account_id": frame["account_id"].astype(str),
            "product": frame["product"].fillna("") if "product" in frame else "",
            "score": pd.to_numeric(frame.get("score"), errors="coerce"),
            "class": frame["class"].astype(str) if "class" in frame else "",
            "predicted_change": pd.to_numeric(frame.get("predicted_change"), errors="coerce"),
        }
    )
    if "score_last_month" in frame:
        out["change"] = out["score"] - pd.to_numeric(frame["score_last_month"], errors="coerce")
    else:
        out["change"] = float("nan")
    return out


def _accounts_body(book, shown, state, page, pages, total, problems) -> str:
    classes = sorted(c for c in book["class"].unique() if c)
    products = sorted(p for p in book["product"].unique() if p)

    def options(values, chosen, blank):
        opts = [f'<option value="">{blank}</option>']
        opts += [
            f'<option value="{_e(v)}"{" selected" if v == chosen else ""}>{_e(v)}</option>'
            for v in values
        ]
        return "".join(opts)

    alert = ""
    if problems:
        alert = (
            '<div class="alert" role="alert">'
            + "; ".join(map(_e, problems))
            + ". The table shows the defaults instead.</div>"
        )
    form = (
        '<form class="filters" method="get" action="/accounts" role="search" '
        'aria-label="Filter accounts">'
        f'<label>Class <select name="class">{options(classes, state["class"], "any")}</select>'
        f'</label><label>Product <select name="product">'
        f"{options(products, state['product'], 'any (and account rows)')}</select></label>"
        f'<label>Min score <input name="min_score" inputmode="decimal" size="6" '
        f'value="{_e(state["min_score"])}"></label>'
        f'<input type="hidden" name="sort" value="{_e(state["sort"])}">'
        f'<input type="hidden" name="order" value="{_e(state["order"])}">'
        '<button type="submit">Apply</button></form>'
    )
    heads = (
        ("account_id", "Account"),
        ("product", "Product"),
        ("score", "Score"),
        ("class", "Class"),
        ("predicted_change", "Predicted change"),
        ("change", "Change since last month"),
    )
    th = []
    for key, label in heads:
        active = state["sort"] == key
        flip = "asc" if active and state["order"] == "desc" else "desc"
        link = "/accounts?" + urlencode({**state, "sort": key, "order": flip})
        sort_attr = (
            f' aria-sort="{"ascending" if state["order"] == "asc" else "descending"}"'
            if active
            else ""
        )
        arrow = ("▲" if state["order"] == "asc" else "▼") if active else ""
        th.append(
            f'<th scope="col"{sort_attr}><a href="{_e(link)}" data-sort="{key}">'
            f'{label} <span aria-hidden="true">{arrow}</span></a></th>'
        )
    th.append('<th scope="col"><span class="sr-only">Why</span></th>')
    rows = []
    for r in shown.itertuples(index=False):
        product = r.product or "all products"
        rows.append(
            f'<tr data-account="{_e(r.account_id)}">'
            f'<th scope="row">{_e(r.account_id)}</th><td>{_e(product)}</td>'
            f'<td class="num" data-score="{_num(r.score, 6)}">{_num(r.score, 3)}</td>'
            f'<td><span class="badge {_e(r[3])}">{_e(r[3])}</span></td>'
            f'<td class="num">{_num(r.predicted_change, 1, signed=True)}</td>'
            f'<td class="num">{_num(r.change, 3, signed=True)}</td>'
            f'<td><button type="button" class="info" data-account="{_e(r.account_id)}" '
            f'aria-haspopup="dialog" aria-label="Why: account {_e(r.account_id)}">i</button>'
            "</td></tr>"
        )
    nav = []
    for label, target, rel in (("Previous", page - 1, "prev"), ("Next", page + 1, "next")):
        if 1 <= target <= pages:
            link = "/accounts?" + urlencode({**state, "page": target})
            nav.append(f'<a href="{_e(link)}" rel="{rel}">{label}</a>')
    pager = (
        f'<nav class="pager" aria-label="Pages">{" ".join(nav)} '
        f"<span>Page {page} of {pages} · {total:,} rows</span></nav>"
    )
    table = (
        _scroller("accounts") + '<table class="book"><caption>Accounts by propensity: the '
        "account row and one row per product it holds</caption>"
        f"<thead><tr>{''.join(th)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    dialog = (
        '<dialog id="insight" role="dialog" aria-modal="true" aria-labelledby="insight-title">'
        '<h2 id="insight-title">Why</h2><div id="insight-body" aria-live="polite"></div>'
        '<form method="dialog"><button type="submit" class="close">Close</button></form>'
        "</dialog>"
    )
    return alert + form + table + pager + dialog
