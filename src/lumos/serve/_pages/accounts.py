"""The Accounts page: the book of accounts and products by propensity, sorted, filtered and
paged by links and a GET form; an "i" button opens the account's narratives."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from lumos._html import esc, num, scroller
from lumos.serve._pages.shell import empty, page
from lumos.serve._services import services

PAGE_SIZE = 50
SORTS = ("account_id", "product", "score", "class", "predicted_change", "change")

router = APIRouter()


@router.get("/accounts", response_class=HTMLResponse, include_in_schema=False)
def accounts(
    request: Request,
    sort: str = Query("score"),
    order: str = Query("desc"),
    klass: str = Query("", alias="class"),
    product: str = Query(""),
    min_score: str = Query(""),
    page_number: int = Query(1, ge=1, le=1_000_000, alias="page"),
):
    whole = services(request).book
    if whole is None:
        return page(
            "accounts",
            "Accounts",
            empty(
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
    page_number = min(page_number, pages)
    shown = book.iloc[(page_number - 1) * PAGE_SIZE : page_number * PAGE_SIZE]
    state = {
        "sort": sort,
        "order": order,
        "class": klass,
        "product": product,
        "min_score": min_score,
    }
    body = _accounts_body(whole, shown, state, page_number, pages, len(book), problems)
    return page("accounts", "Accounts", body, status=400 if problems else 200)


def accounts_book(insights: pd.DataFrame) -> pd.DataFrame:
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


def _accounts_body(book, shown, state, page_number, pages, total, problems) -> str:
    classes = sorted(c for c in book["class"].unique() if c)
    products = sorted(p for p in book["product"].unique() if p)

    def options(values, chosen, blank):
        opts = [f'<option value="">{blank}</option>']
        opts += [
            f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(v)}</option>'
            for v in values
        ]
        return "".join(opts)

    alert = ""
    if problems:
        alert = (
            '<div class="alert" role="alert">'
            + "; ".join(map(esc, problems))
            + ". The table shows the defaults instead.</div>"
        )
    form = (
        '<form class="filters" method="get" action="/accounts" role="search" '
        'aria-label="Filter accounts">'
        f'<label>Class <select name="class">{options(classes, state["class"], "any")}</select>'
        f'</label><label>Product <select name="product">'
        f"{options(products, state['product'], 'any (and account rows)')}</select></label>"
        f'<label>Min score <input name="min_score" inputmode="decimal" size="6" '
        f'value="{esc(state["min_score"])}"></label>'
        f'<input type="hidden" name="sort" value="{esc(state["sort"])}">'
        f'<input type="hidden" name="order" value="{esc(state["order"])}">'
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
            f'<th scope="col"{sort_attr}><a href="{esc(link)}" data-sort="{key}">'
            f'{label} <span aria-hidden="true">{arrow}</span></a></th>'
        )
    th.append('<th scope="col"><span class="sr-only">Why</span></th>')
    rows = []
    for r in shown.itertuples(index=False):
        product = r.product or "all products"
        rows.append(
            f'<tr data-account="{esc(r.account_id)}">'
            f'<th scope="row">{esc(r.account_id)}</th><td>{esc(product)}</td>'
            f'<td class="num" data-score="{num(r.score, 6)}">{num(r.score, 3)}</td>'
            f'<td><span class="badge {esc(r[3])}">{esc(r[3])}</span></td>'
            f'<td class="num">{num(r.predicted_change, 1, signed=True)}</td>'
            f'<td class="num">{num(r.change, 3, signed=True)}</td>'
            f'<td><button type="button" class="info" data-account="{esc(r.account_id)}" '
            f'aria-haspopup="dialog" aria-label="Why: account {esc(r.account_id)}">i</button>'
            "</td></tr>"
        )
    nav = []
    for label, target, rel in (
        ("Previous", page_number - 1, "prev"),
        ("Next", page_number + 1, "next"),
    ):
        if 1 <= target <= pages:
            link = "/accounts?" + urlencode({**state, "page": target})
            nav.append(f'<a href="{esc(link)}" rel="{rel}">{label}</a>')
    pager = (
        f'<nav class="pager" aria-label="Pages">{" ".join(nav)} '
        f"<span>Page {page_number} of {pages} · {total:,} rows</span></nav>"
    )
    table = (
        scroller("accounts") + '<table class="book"><caption>Accounts by propensity: the '
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
