"""The HTML report: labelled figures, one order, names, search/filter/paging markup, no network."""

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import export
from lumos.explain._export_html import PAGE_SIZE


def narratives(ids) -> pd.DataFrame:
    rows = []
    for i, row in enumerate(ids):
        for rank, category in enumerate(("Usage", "Contract"), start=1):
            rows.append(
                {
                    "row": row,
                    "rank": rank,
                    "category": category,
                    "super_feature": f"f{rank}",
                    "importance": 1.0 / rank,
                    "text": f"Reason {rank} of {row} <{i}>.",
                }
            )
    return pd.DataFrame(rows)


def score_table(n=120, seed=0, headline=False) -> pd.DataFrame:
    """Rows as AccountPrioritizer.score writes them, and the demo's names."""
    rng = np.random.default_rng(seed)
    ids = [f"A{i:03d}" for i in range(n)]
    accounts = pd.DataFrame({"account_id": ids, "product": None})
    products = pd.DataFrame(
        {"account_id": ids[: n // 2] * 2, "product": ["jobs"] * (n // 2) + ["learning"] * (n // 2)}
    )
    t = pd.concat([accounts, products], ignore_index=True)
    t["units"] = rng.integers(1, 500, len(t)).astype(float)
    t["predicted_change"] = rng.normal(0, 30, len(t))
    t["score"] = t["predicted_change"] / t["units"]
    t["class"] = np.select(
        [t["predicted_change"] > 0.5, t["predicted_change"] < -0.5], ["upsell", "churn"], "flat"
    )
    t["renewal"] = pd.Timestamp("2026-09-01")
    t["score_last_month"] = t["score"] - 0.01
    t.insert(1, "account_name", [f"Company {a[1:]}" for a in t["account_id"]])
    t.loc[t["account_id"] == "A003", "account_name"] = "Smith & <Sons>"
    if headline:
        t["headline"] = np.where(t["product"].isna(), "Adds seats: " + t["account_id"], "")
    return t


def write(tmp_path, table=None, **options):
    t = score_table() if table is None else table
    accounts = t[t["product"].isna()].set_index("account_id")
    path = tmp_path / "report.html"
    export(
        narratives(accounts.index),
        path,
        scores=accounts["predicted_change"],
        title="Book <demo>",
        table=t,
        **options,
    )
    return path.read_text(), t, accounts


def cards(page: str) -> list[str]:
    return re.findall(r'<article class="card"[^>]*>.*?</article>', page, re.S)


def test_cards_are_the_accounts_by_predicted_change_with_their_names(tmp_path):
    page, _, accounts = write(tmp_path)
    found = cards(page)
    ids = [re.search(r'data-id="([^"]+)"', c)[1] for c in found]
    assert ids == accounts["predicted_change"].sort_values(ascending=False).index.tolist()
    first = accounts.loc[ids[0]]
    assert f'<span class="name">{first["account_name"]}</span>' in found[0]
    assert f'<span class="id">{ids[0]}</span>' in found[0]
    assert "Smith &amp; &lt;Sons&gt;" in page and "<Sons>" not in page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page.split("<body>")[1]
    assert "Book &lt;demo&gt;" in page and f"{len(accounts):,} accounts" in page


def test_every_figure_on_a_card_has_its_label_and_the_page_says_what_it_means(tmp_path):
    page, table, accounts = write(tmp_path)
    legend = dict(
        re.findall(r"<div><dt>([^<]+)</dt><dd>([^<]+)</dd></div>", page.split("<form")[0])
    )
    assert legend["Predicted change"].startswith("units added (or lost) by the next renewal")
    assert legend["Relative change"].startswith("predicted change ÷ units under contract")
    assert {"Units", "Class", "Change since last month", "Products"} <= set(legend)
    for card in cards(page):
        account = accounts.loc[re.search(r'data-id="([^"]+)"', card)[1]]
        assert (
            '<p class="figure"><span class="label">Predicted change</span> <strong class="score">'
            f"{account['predicted_change']:+.1f}</strong> units by Sep 2026</p>"
        ) in card
        assert f"<dt>Relative change</dt><dd>{account['score']:+.3f}</dd>" in card
        assert f"<dt>Units</dt><dd>{account['units']:,.0f}</dd>" in card
        assert "<dt>Change since last month</dt><dd>+0.010</dd>" in card
        assert f'<span class="badge {account["class"]}">{account["class"]}</span>' in card
    a000 = next(c for c in cards(page) if 'data-id="A000"' in c)
    jobs = table[(table["account_id"] == "A000") & (table["product"] == "jobs")].iloc[0]
    assert f"jobs <span class='badge {jobs['class']}'>" in a000
    assert f"{jobs['predicted_change']:+.1f} units</li>" in a000
    products = json.loads(html.unescape(re.search(r"data-products='([^']*)'", a000)[1]))
    assert products["jobs"] == [jobs["class"], round(jobs["predicted_change"], 3)]


def test_search_filter_and_paging_markup_shows_every_card_without_script(tmp_path):
    page, _, accounts = write(tmp_path)
    assert '<form id="find" role="search" aria-label="Find cards" hidden' in page
    assert '<input id="q" type="search"' in page and "account id or name" in page
    classes = re.search(r'<select id="class">(.*?)</select>', page, re.S)[1]
    assert re.findall(r'<option value="([^"]*)">', classes) == ["", "churn", "flat", "upsell"]
    products = re.search(r'<select id="product">(.*?)</select>', page, re.S)[1]
    assert re.findall(r'<option value="([^"]*)">', products) == ["", "jobs", "learning"]
    assert '<nav class="pager" id="pager" aria-label="Pages" hidden>' in page
    assert 'role="status" aria-live="polite"' in page
    assert f"var SIZE = {PAGE_SIZE};" in page and len(accounts) > PAGE_SIZE  # pages by script
    assert len(cards(page)) == len(accounts) and " hidden" not in "".join(cards(page))
    for card in cards(page):  # what the script searches and filters on
        account = accounts.loc[re.search(r'data-id="([^"]+)"', card)[1]]
        assert f'data-name="{html.escape(account["account_name"])}"' in card
        assert f'data-class="{account["class"]}"' in card


def test_a_headline_shows_above_the_reasons_when_the_table_has_one(tmp_path):
    page, _, _ = write(tmp_path, score_table(headline=True))
    for card in cards(page):
        account = re.search(r'data-id="([^"]+)"', card)[1]
        headline = f'<p class="headline">Adds seats: {account}</p>'
        assert headline in card and card.index(headline) < card.index("<h3>")
    assert 'class="headline"' not in write(tmp_path)[0]  # none without the column


def test_without_a_table_each_card_labels_its_score(tmp_path):
    ids = [f"r{i}" for i in range(5)]
    scores = pd.Series([0.1, 0.9, 0.5, 0.3, 0.7], index=ids)
    export(narratives(ids), tmp_path / "plain.html", scores=scores)
    page = (tmp_path / "plain.html").read_text()
    shown = re.findall(r'<span class="label">Score</span> <strong class="score">([^<]+)<', page)
    assert shown == ["90%", "70%", "50%", "30%", "10%"]
    assert "<dt>Score</dt><dd>the model&#x27;s score of the row" in page
    assert '<input id="q"' in page and '<select id="class"' not in page  # search by id only


def test_a_bad_table_is_refused_and_writes_nothing(tmp_path):
    text = narratives(["A1"])
    with pytest.raises(LumosUserError, match="table must be a pandas DataFrame"):
        export(text, tmp_path / "r.html", table=[1, 2])
    with pytest.raises(DataValidationError, match="table has no column 'predicted_change'"):
        export(text, tmp_path / "r.html", table=pd.DataFrame({"account_id": ["A1"]}))
    assert not (tmp_path / "r.html").exists()
