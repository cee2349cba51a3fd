"""The Narrative Exporter's HTML report: one card per row, self-contained, no network.

Cards are in the order of the scores, each score labelled, and the page says
what every figure means. A little inline script searches the cards (by id, and
name), filters them (by class and product), orders and pages them; without it
every card shows. Given the account prioritizer's score table, each card is an
account: its name, predicted change by the renewal, relative change, units,
class, change since last month, headline and products.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lumos._html import esc, num
from lumos.explain._format import format_one

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f5f7;color:#1d2129}
header{background:#123;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.8}main{display:grid;gap:12px;padding:0 24px 16px;
grid-template-columns:repeat(auto-fill,minmax(340px,1fr))}
.about{padding:12px 24px 0;font-size:13px;color:#4a5563}.about dl{margin:0;columns:2 22rem;
column-gap:2rem}.about div{break-inside:avoid;margin-bottom:2px}.about dt,.about dd{display:inline;
margin:0}.about dt{font-weight:600;color:#1d2129}.about dt::after{content:" — "}
form{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:end;padding:12px 24px}
form label{display:flex;flex-direction:column;font-size:13px;color:#4a5563}
input,select,button{font:inherit;padding:4px 8px;border:1px solid #c9d0da;border-radius:4px;
background:#fff;color:#1d2129}button{cursor:pointer}button:disabled{opacity:.5;cursor:default}
:focus-visible{outline:3px solid #f0a500;outline-offset:2px}
#status{margin:0;font-size:13px;color:#4a5563;align-self:center}
.pager{display:flex;gap:12px;align-items:center;padding:0 24px 24px}
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.12)}
.card h2{font-size:16px;margin:0 0 4px;display:flex;justify-content:space-between;gap:8px;
align-items:baseline}.card h2 .id{font-size:13px;font-weight:400;color:#5e6b7a}
.figure{margin:0 0 6px}.score{color:#0a66c2;font-size:17px;font-weight:600}.label{color:#5e6b7a;
font-size:13px}.figures{margin:0 0 6px;font-size:13px;color:#4a5563;display:flex;flex-wrap:wrap;
gap:2px 14px}.figures div{display:flex;gap:4px}.figures dt::after{content:":"}
.figures dd{margin:0;color:#1d2129}.headline{font-weight:600;margin:6px 0}
.card h3{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#5e6b7a;
margin:10px 0 2px}.card ul{margin:0;padding-left:18px}
.badge{display:inline-block;padding:0 7px;border-radius:999px;font-size:12px;color:#fff;
background:#5b6473;vertical-align:1px}.badge.upsell{background:#0d7a3f}
.badge.churn{background:#b3261e}
"""

#: What each figure of an account's card means: its label and one line (the page's legend).
_FIGURES = {
    "predicted_change": (
        "Predicted change",
        "units added (or lost) by the next renewal, as the model predicts; the cards are in "
        "its order, largest first.",
    ),
    "score": (
        "Relative change",
        "predicted change ÷ units under contract: +0.25 is a quarter more units.",
    ),
    "units": ("Units", "units under contract now."),
    "class": (
        "Class",
        "upsell or churn when the predicted change is more than the model's tolerance up or "
        "down; flat otherwise.",
    ),
    "change": ("Change since last month", "how much the relative change moved since last month."),
    "products": ("Products", "each product the account holds: its own predicted change and class."),
}
_SCORE = ("Score", "the model's score of the row; the cards are in its order, highest first.")
PAGE_SIZE = 50  # cards per page of the HTML report


def _accounts(table: pd.DataFrame) -> dict[str, dict]:
    """Each account of a score table: its figures, headline and products, by account id."""
    t = table.reset_index(drop=True)
    if "product" not in t:
        t = t.assign(product=None)
    own = t["product"].isna() | (t["product"].astype(str) == "")

    def get(row, column):
        value = row.get(column)
        return None if value is None or pd.isna(value) else value

    out = {}
    for row in t[own].to_dict("records"):
        score, before = get(row, "score"), get(row, "score_last_month")
        out[str(row["account_id"])] = {
            "name": str(get(row, "account_name") or ""),
            "class": str(get(row, "class") or ""),
            "predicted_change": get(row, "predicted_change"),
            "score": score,
            "units": get(row, "units"),
            "renewal": get(row, "renewal"),
            "change": None if score is None or before is None else score - before,
            "headline": str(get(row, "headline") or ""),
            "products": [],
        }
    products = t[~own].sort_values("predicted_change", ascending=False, kind="stable")
    for row in products.to_dict("records"):
        account = out.get(str(row["account_id"]))
        if account is not None:
            account["products"].append(
                (str(row["product"]), get(row, "predicted_change"), str(get(row, "class") or ""))
            )
    return out


def _figure(account: dict) -> str:
    """The card's main figure, labelled: the predicted change in units, by the renewal."""
    change, renewal = account["predicted_change"], account["renewal"]
    by = "" if renewal is None else f" by {pd.Timestamp(renewal):%b %Y}"
    return (
        '<p class="figure"><span class="label">Predicted change</span> '
        f'<strong class="score">{num(change, 1, signed=True)}</strong> units{esc(by)}</p>'
    )


def _account_card(record, account: dict) -> str:
    rid = str(record["id"])
    products = {  # for the script: each product's class and predicted change
        p: [c, None if change is None else round(change, 3)] for p, change, c in account["products"]
    }
    attrs = (
        f' data-id="{esc(rid)}" data-name="{esc(account["name"])}"'
        f' data-class="{esc(account["class"])}"'
        f' data-change="{num(account["predicted_change"], 6)}"'
        f' data-relative="{num(account["score"], 6)}"'
        f" data-products='{esc(json.dumps(products))}'"
    )
    name = account["name"] or rid
    heading = f'<h2><span class="name">{esc(name)}</span>'
    if account["name"]:
        heading += f'<span class="id">{esc(rid)}</span>'
    figures = [
        ("score", num(account["score"], 3, signed=True)),
        ("units", "—" if account["units"] is None else f"{account['units']:,.0f}"),
        ("change", num(account["change"], 3, signed=True)),
    ]
    dl = "".join(
        f"<div><dt>{_FIGURES[key][0]}</dt><dd>{esc(text)}</dd></div>"
        for key, text in figures
        if key != "change" or account["change"] is not None
    )
    badge = account["class"]
    parts = [
        f'<article class="card"{attrs}>{heading}</h2>',
        _figure(account),
        f'<dl class="figures"><div><dt>Class</dt><dd><span class="badge {esc(badge)}">'
        f"{esc(badge)}</span></dd></div>{dl}</dl>",
    ]
    if account["headline"]:
        parts.append(f'<p class="headline">{esc(account["headline"])}</p>')
    parts.append(_reasons(record))
    if account["products"]:
        items = "".join(
            f"<li>{esc(p)} <span class='badge {esc(c)}'>{esc(c)}</span> "
            f"{num(change, 1, signed=True)} units</li>"
            for p, change, c in account["products"]
        )
        parts.append(f'<h3>Products</h3><ul class="products">{items}</ul>')
    return "".join(parts) + "</article>"


def _row_card(record) -> str:
    score = record["score"]
    rid = str(record["id"])
    shown = ""
    if score is not None:
        shown = format_one(score, "pct") if 0 <= score <= 1 else format_one(score)
    figure = (
        ""
        if score is None
        else '<p class="figure"><span class="label">Score</span> '
        f'<strong class="score">{esc(shown)}</strong></p>'
    )
    return (
        f'<article class="card" data-id="{esc(rid)}" data-change="{num(score, 6)}">'
        f'<h2><span class="name">{esc(rid)}</span></h2>{figure}{_reasons(record)}</article>'
    )


def _reasons(record) -> str:
    by_category: dict[str, list[str]] = {}
    for item in record["narratives"]:
        by_category.setdefault(item["category"], []).append(item["text"])
    return "".join(
        f"<h3>{esc(category)}</h3><ul>{''.join(f'<li>{esc(t)}</li>' for t in texts)}</ul>"
        for category, texts in by_category.items()
    )


def _controls(accounts: dict | None) -> str:
    """The search, filters and sort the script runs (hidden without it) and its pager."""
    parts = [
        '<form id="find" role="search" aria-label="Find cards" hidden onsubmit="return false">',
        '<label>Search <input id="q" type="search" size="18" placeholder="'
        + ("account id or name" if accounts else "id")
        + '"></label>',
    ]
    if accounts:
        classes = sorted({a["class"] for a in accounts.values() if a["class"]})
        products = sorted({p for a in accounts.values() for p, _, _ in a["products"]})

        def options(values):
            return "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)

        parts.append(
            f'<label>Class <select id="class"><option value="">any</option>{options(classes)}'
            "</select></label>"
        )
        if products:
            parts.append(
                '<label>Product <select id="product"><option value="">any (the account)</option>'
                f"{options(products)}</select></label>"
            )
        parts.append(
            '<label>Order <select id="sort"><option value="change">predicted change, largest '
            'first</option><option value="relative">relative change, largest first</option>'
            "</select></label>"
        )
    parts.append('<p id="status" role="status" aria-live="polite"></p></form>')
    return "".join(parts)


_PAGER = (
    '<nav class="pager" id="pager" aria-label="Pages" hidden>'
    '<button type="button" id="prev">Previous</button><span id="where"></span>'
    '<button type="button" id="next">Next</button></nav>'
)

# Search, filter, order and page the cards; without it every card shows. It reads only the page.
_SCRIPT = """
(function () {
  "use strict";
  var SIZE = %(size)d;
  var main = document.getElementById("cards");
  var cards = Array.prototype.slice.call(main.querySelectorAll("article.card"));
  function $(id) { return document.getElementById(id); }
  var q = $("q"), klass = $("class"), product = $("product"), order = $("sort");
  var status = $("status"), where = $("where"), prev = $("prev"), next = $("next");
  var page = 1;
  cards.forEach(function (c, i) {
    c.products = JSON.parse(c.getAttribute("data-products") || "{}");
    c.words = (c.getAttribute("data-id") + " " + (c.getAttribute("data-name") || ""))
      .toLowerCase();
    c.at = i;
  });
  function figure(c) {
    var p = product ? product.value : "";
    var relative = order && order.value === "relative";
    if (p && c.products[p] && !relative) return c.products[p][1];
    var v = parseFloat(c.getAttribute(relative ? "data-relative" : "data-change"));
    return isNaN(v) ? -Infinity : v;
  }
  function fits(c) {
    var words = q.value.trim().toLowerCase();
    var p = product ? product.value : "", k = klass ? klass.value : "";
    if (words && c.words.indexOf(words) < 0) return false;
    if (p && !c.products[p]) return false;
    if (k && (p ? c.products[p][0] : c.getAttribute("data-class")) !== k) return false;
    return true;
  }
  function show() {
    var shown = cards.filter(fits);
    shown.sort(function (a, b) { return figure(b) - figure(a) || a.at - b.at; });
    var pages = Math.max(1, Math.ceil(shown.length / SIZE));
    page = Math.min(Math.max(page, 1), pages);
    var first = (page - 1) * SIZE;
    cards.forEach(function (c) { c.hidden = true; });
    shown.forEach(function (c, i) {
      main.appendChild(c);
      c.hidden = i < first || i >= first + SIZE;
    });
    var last = Math.min(first + SIZE, shown.length);
    var p = product ? product.value : "", relative = order && order.value === "relative";
    status.textContent = (shown.length ? "Showing " + (first + 1) + "–" + last + " of " +
      shown.length + " (" + cards.length + " in all)" : "No card matches.") +
      (p && !relative ? "; by the predicted change of " + p : "");
    where.textContent = "Page " + page + " of " + pages;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  }
  function again() { page = 1; show(); }
  q.addEventListener("input", again);
  [klass, product, order].forEach(function (s) { if (s) s.addEventListener("change", again); });
  prev.addEventListener("click", function () { page -= 1; show(); window.scrollTo(0, 0); });
  next.addEventListener("click", function () { page += 1; show(); window.scrollTo(0, 0); });
  $("find").hidden = false;
  $("pager").hidden = false;
  show();
})();
"""


def write_html(tmp: Path, records: list, narratives, scores, title: str, table=None) -> None:
    """Write the report of ``records`` (:func:`~lumos.explain._export._records`) to ``tmp``."""
    n_rows = narratives["row"].nunique()
    accounts = None if table is None else _accounts(table)
    if accounts is not None:  # the largest predicted change first, as every page lists them
        known = [r for r in records if str(r["id"]) in accounts]

        def change(record):
            value = accounts[str(record["id"])]["predicted_change"]
            return np.inf if value is None else -value

        records = sorted(known, key=change)
        legend = [_FIGURES[k] for k in ("predicted_change", "score", "units", "class")]
        if any(a["change"] is not None for a in accounts.values()):
            legend.append(_FIGURES["change"])
        if any(a["products"] for a in accounts.values()):
            legend.append(_FIGURES["products"])
        what = f"{len(records):,} accounts"
    else:
        if scores is not None:  # the most likely first, as a sales book reads
            records = sorted(records, key=lambda r: np.inf if r["score"] is None else -r["score"])
        legend = [] if scores is None else [_SCORE]
        what = f"{n_rows:,} rows"
    about = ""
    if legend:
        about = (
            '<section class="about" aria-label="What the figures mean"><dl>'
            + "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in legend)
            + "</dl></section>"
        )
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{what}, "
            f"{len(narratives):,} narratives</p></header>{about}{_controls(accounts)}"
            '<main id="cards">'
        )
        for record in records:
            if accounts is not None:
                fh.write(_account_card(record, accounts[str(record["id"])]))
            else:
                fh.write(_row_card(record))
        fh.write(f"</main>{_PAGER}<script>{_SCRIPT % {'size': PAGE_SIZE}}</script></body></html>")
