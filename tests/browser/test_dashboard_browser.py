"""The dashboard in Chromium: sort the book, open an account's narratives, read the API's words."""

import json
import urllib.request

import pytest

from conftest import shoot


def test_accounts_sort_and_the_why_pop_up(page, server):
    page.goto(f"{server}/")
    assert page.url.endswith("/accounts")
    assert page.get_attribute('header nav a[aria-current="page"]', "href") == "/accounts"
    # sort by score, lowest first, with the keyboard: the header link takes Enter
    page.focus('th a[data-sort="score"]')
    page.keyboard.press("Enter")  # the book is by score, highest first: this flips it
    page.wait_for_url("**/accounts?*order=asc*")
    values = [float(v) for v in page.eval_on_selector_all(
        "td[data-score]", "cells => cells.map(c => c.dataset.score)")]  # fmt: skip
    assert len(values) == 50 and values == sorted(values)
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    # the "i" button of the first row opens a modal dialog of that account's narratives
    button = page.locator("button.info").first
    account = button.get_attribute("data-account")
    button.click()
    dialog = page.locator("dialog#insight")
    dialog.locator("p.narrative").first.wait_for()
    assert dialog.get_attribute("role") == "dialog" and dialog.get_attribute("aria-modal") == "true"
    assert page.inner_text("#insight-title") == f"Why: account {account}"
    shown = dialog.locator("p.narrative").all_inner_texts()
    with urllib.request.urlopen(f"{server}/v1/accounts/{account}/insights") as answer:
        api = json.load(answer)
    texts = [text for row in api["rows"] for text in row["narratives"].values()]
    assert texts and all(any(t in s for s in shown) for t in texts)  # the API's sentences
    shoot(page, "accounts-why", full_page=False)
    page.keyboard.press("Escape")  # closes, and focus goes back to the button
    assert not dialog.evaluate("d => d.open")
    assert page.evaluate("document.activeElement.dataset.account") == account


def test_filters_and_paging_by_hand(page, server):
    page.goto(f"{server}/accounts")
    page.select_option('select[name="class"]', "churn")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**class=churn**")
    badges = page.locator("td .badge").all_inner_texts()
    assert badges and set(badges) == {"churn"}
    page.goto(f"{server}/accounts")
    rows = "rows => rows.map(r => r.children[0].innerText + ' | ' + r.children[1].innerText)"
    seen = page.eval_on_selector_all("tbody tr", rows)
    for number in (2, 3):  # page through the book: no row comes twice
        page.click('a[rel="next"]')
        page.wait_for_url(f"**page={number}**")
        now = page.eval_on_selector_all("tbody tr", rows)
        assert len(now) == 50 and not set(now) & set(seen)
        seen += now
    assert len(set(seen)) == len(seen)
    shoot(page, "accounts-page-3")


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_loads_without_console_errors(page, server, demo, width):
    import pandas as pd

    page.set_viewport_size({"width": width, "height": 900})
    member = pd.read_parquet(demo / "learning" / "members.parquet")["member_id"].iloc[0]
    for name, path in (("accounts", "/accounts"), ("learning", f"/learning?member={member}")):
        response = page.goto(f"{server}{path}")
        assert response.status == 200, path
        assert page.locator("main h1").inner_text()
        if name == "learning":
            assert page.locator("section.carousel").count() >= 1
            assert page.locator("section.carousel li.card").count() >= 5
        # readable on a phone: nothing but the table's own scroller is wider than the window
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width + 1, (path, wide)
        shoot(page, f"{name}-{width}")
