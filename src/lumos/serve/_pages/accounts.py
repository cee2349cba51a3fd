"""The Accounts page: the book of accounts by their predicted change in units, largest first —
the order ``lumos demo`` and the HTML report list them in — sorted, filtered, searched and paged
by links and a GET form; every column says what it means; an "i" button opens the account's
narratives.

Each account's row is the account as a whole; the product filter shows the rows of one product
(or of every product, with the accounts).
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from lumos._html import esc, num, scroller
from lumos.serve._limits import ID, SHORT
from lumos.serve._pages.shell import empty, page
from lumos.serve._services import services

PAGE_SIZE = 50
DEFAULT_SORT = "predicted_change"  # the figure every page and command ranks by
EVERY = "*"  # the product filter's value for every row: the accounts and all their products

#: Each column: its heading, and what it means — the legend above the table, and each
#: heading's accessible description.
COLUMNS = {
    "account_id": ("Account", "the customer account's id."),
    "account_name": ("Name", "the account's name."),
    "product": ("Product", "the product a row is about; an account's own row covers all it holds."),
    "predicted_change": (
        "Predicted change",
        "units added (or lost) by the next renewal, as the model predicts.",
    ),
    "score": (
        "Relative change",
        "predicted change ÷ units under contract: +0.25 is a quarter more units.",
    ),
    "units": ("Units", "units under contract now."),
    "renewal": ("Renewal", "the month of the next renewal, when the change is due."),
    "class": (
        "Class",
        "upsell or churn when the predicted change is more than the model's tolerance (half a "
        "unit by default) up or down; flat otherwise.",
    ),
    "change": (
        "Change since last month",
        "how much the relative change moved since last month's scores.",
    ),
}
WHY = ("Why", "the “i” button opens the reasons behind the row's figures.")
SORTS = tuple(COLUMNS)
OPTIONAL = ("account_name", "units", "renewal")  # shown when the score table has them

router = APIRouter()


@router.get("/accounts", response_class=HTMLResponse, include_in_schema=False)
def accounts(
    request: Request,
    sort: str = Query(DEFAULT_SORT, max_length=SHORT),
    order: str = Query("desc", max_length=SHORT),
    klass: str = Query("", alias="class", max_length=SHORT),
    product: str = Query("", max_length=ID),
    q: str = Query("", max_length=ID),
    min_score: str = Query("", max_length=SHORT),
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
        sort = DEFAULT_SORT
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
    if product == "":
        book = book[book["product"] == ""]
    elif product != EVERY:
        book = book[book["product"] == product]
    if klass:
        book = book[book["class"] == klass]
    if q.strip():
        words = q.strip().lower()
        found = book["account_id"].str.lower().str.contains(words, regex=False)
        found |= book["account_name"].str.lower().str.contains(words, regex=False)
        book = book[found]
    if low is not None:
        book = book[book["score"] >= low]
    book = book.sort_values(
        [sort, "account_id", "product"],
        ascending=[order == "asc", True, True],
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
        "q": q,
        "min_score": min_score,
    }
    body = _accounts_body(whole, shown, state, page_number, pages, len(book), problems)
    return page("accounts", "Accounts", body, status=400 if problems else 200)


def accounts_book(insights: pd.DataFrame) -> pd.DataFrame:
    """One row per account (``product`` empty) and product: the columns the Accounts table
    shows, from a score table (``lumos propensity score``'s, with ``account_name`` when the
    accounts have names)."""
    frame = insights.reset_index()

    def column(name, default):
        return frame[name] if name in frame else pd.Series(default, index=frame.index)

    def numbers(name):
        return pd.to_numeric(column(name, float("nan")), errors="coerce")

    out = pd.DataFrame(
        {
            "account_id": frame["account_id"].astype(str),
            "account_name": column("account_name", "").fillna("").astype(str),
            "product": column("product", "").fillna("").astype(str),
            "predicted_change": numbers("predicted_change"),
            "score": numbers("score"),
            "units": numbers("units"),
            "renewal": pd.to_datetime(column("renewal", pd.NaT), errors="coerce"),
            "class": column("class", "").fillna("").astype(str),
        }
    )
    out["change"] = out["score"] - numbers("score_last_month")
    return out


def _columns(book: pd.DataFrame, product: str) -> list[str]:
    """The columns worth a place: the optional ones when the book has them, the product when
    the rows are not all the accounts as a whole."""
    present = {
        "account_name": (book["account_name"] != "").any(),
        "product": product != "",
        "units": book["units"].notna().any(),
        "renewal": book["renewal"].notna().any(),
    }
    return [c for c in COLUMNS if present.get(c, True)]


def _accounts_body(book, shown, state, page_number, pages, total, problems) -> str:
    classes = sorted(c for c in book["class"].unique() if c)
    products = sorted(p for p in book["product"].unique() if p)
    columns = _columns(book, state["product"])

    def options(values, chosen, first):
        opts = [
            f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(label)}</option>'
            for v, label in [*first, *((v, v) for v in values)]
        ]
        return "".join(opts)

    alert = ""
    if problems:
        alert = (
            '<div class="alert" role="alert">'
            + "; ".join(map(esc, problems))
            + ". The table shows the defaults instead.</div>"
        )
    every = [("", "none: the accounts as a whole"), (EVERY, "every product, and the accounts")]
    form = (
        '<form class="filters" method="get" action="/accounts" role="search" '
        'aria-label="Filter accounts">'
        f'<label>Account or name <input name="q" type="search" size="14" '
        f'value="{esc(state["q"])}"></label>'
        f'<label>Class <select name="class">{options(classes, state["class"], [("", "any")])}'
        f'</select></label><label>Product <select name="product">'
        f"{options(products, state['product'], every)}</select></label>"
        f'<label>Min relative change <input name="min_score" inputmode="decimal" size="6" '
        f'value="{esc(state["min_score"])}"></label>'
        f'<input type="hidden" name="sort" value="{esc(state["sort"])}">'
        f'<input type="hidden" name="order" value="{esc(state["order"])}">'
        '<button type="submit">Apply</button></form>'
    )
    legend = (
        '<dl class="legend" aria-label="What the columns mean">'
        + "".join(
            f'<div><dt>{esc(label)}</dt><dd id="what-{key}">{esc(text)}</dd></div>'
            for key, (label, text) in [*((c, COLUMNS[c]) for c in columns), ("why", WHY)]
        )
        + "</dl>"
    )
    th = []
    for key in columns:
        label = COLUMNS[key][0]
        active = state["sort"] == key
        flip = "asc" if active and state["order"] == "desc" else "desc"
        link = "/accounts?" + urlencode({**state, "sort": key, "order": flip})
        sort_attr = (
            f' aria-sort="{"ascending" if state["order"] == "asc" else "descending"}"'
            if active
            else ""
        )
        arrow = ("▲" if state["order"] == "asc" else "▼") if active else ""
        numeric = ' class="num"' if key in ("predicted_change", "score", "units", "change") else ""
        th.append(
            f'<th scope="col"{numeric}{sort_attr} aria-describedby="what-{key}">'
            f'<a href="{esc(link)}" data-sort="{key}" aria-describedby="what-{key}">'
            f'{label}&nbsp;<span aria-hidden="true">{arrow}</span></a></th>'
        )
    th.append('<th scope="col" aria-describedby="what-why"><span class="sr-only">Why</span></th>')
    rows = []
    for r in shown.to_dict("records"):
        cells = {
            "account_id": f'<th scope="row">{esc(r["account_id"])}</th>',
            "account_name": f"<td>{esc(r['account_name'])}</td>",
            "product": f"<td>{esc(r['product'] or 'all products')}</td>",
            "predicted_change": (
                f'<td class="num" data-change="{num(r["predicted_change"], 6)}">'
                f"{num(r['predicted_change'], 1, signed=True)}</td>"
            ),
            "score": (
                f'<td class="num" data-score="{num(r["score"], 6)}">'
                f"{num(r['score'], 3, signed=True)}</td>"
            ),
            "units": f'<td class="num">{_count(r["units"])}</td>',
            "renewal": f"<td>{_month(r['renewal'])}</td>",
            "class": f'<td><span class="badge {esc(r["class"])}">{esc(r["class"])}</span></td>',
            "change": f'<td class="num">{num(r["change"], 3, signed=True)}</td>',
        }
        who = r["account_id"] + (f" ({r['account_name']})" if r["account_name"] else "")
        rows.append(
            f'<tr data-account="{esc(r["account_id"])}">'
            + "".join(cells[c] for c in columns)
            + f'<td><button type="button" class="info" data-account="{esc(r["account_id"])}" '
            f'aria-haspopup="dialog" aria-label="Why: account {esc(who)}">i</button></td></tr>'
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
    by = COLUMNS[state["sort"]][0].lower()
    direction = "largest first" if state["order"] == "desc" else "smallest first"
    if state["sort"] in ("account_id", "account_name", "product", "class"):
        direction = "Z to A" if state["order"] == "desc" else "A to Z"
    elif state["sort"] == "renewal":
        direction = "latest first" if state["order"] == "desc" else "soonest first"
    which = {"": "each account as a whole", EVERY: "each account and each product it holds"}
    what = which.get(state["product"], f"the product {state['product']} of each account")
    table = (
        scroller("accounts") + f'<table class="book"><caption>Accounts by {esc(by)}, '
        f"{direction}: {esc(what)}</caption>"
        f"<thead><tr>{''.join(th)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    dialog = (
        '<dialog id="insight" role="dialog" aria-modal="true" aria-labelledby="insight-title">'
        '<h2 id="insight-title">Why</h2><div id="insight-body" aria-live="polite"></div>'
        '<form method="dialog"><button type="submit" class="close">Close</button></form>'
        "</dialog>"
    )
    return alert + form + legend + table + pager + dialog


def _count(value) -> str:
    return "—" if pd.isna(value) else f"{value:,.0f}"


def _month(value) -> str:
    return "—" if pd.isna(value) else f"{value:%b %Y}"
