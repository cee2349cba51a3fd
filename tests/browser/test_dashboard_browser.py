"""The dashboard in a real Chromium (Debian's package, driven by Playwright) on loopback.

The demo's data is generated once; the app `lumos demo` serves runs in a
uvicorn thread on a free port, with the first-pass rankers of its cohorts as
their own services. The tests skip where Playwright or Chromium is missing
(`.ci/run` installs both; no browser is ever downloaded). Sort the book, open
an account's narratives and read the API's words; page through a cohort; read
the Offers and Model health figures; load every page at desktop and phone
width with no console error.
"""

import json
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from browser_helpers import shoot

pytest.importorskip("playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("chromium is not on PATH; apt-get install chromium", allow_module_level=True)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine's closed network refuses the rest
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The folder `lumos demo` wrote, and what it printed."""
    from click.testing import CliRunner

    from lumos.cli import main

    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--out", str(out), "--accounts", "300", "--months", "26", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="session")
def demo(demo_run):
    return demo_run[0]


@pytest.fixture(scope="session")
def server(demo, tmp_path_factory):
    """The base URL of the app `lumos demo` serves, on a free loopback port."""
    from lumos.cohorts import downstream_services
    from lumos.demo import demo_config
    from lumos.serve import app_from_config

    events = tmp_path_factory.mktemp("events")
    with downstream_services(  # the first-pass rankers, as `lumos demo` starts them
        tmp_path_factory.mktemp("cohorts"),
        data=demo / "social",
        store=demo / "store",
        tables={"courses": demo / "learning" / "courses.parquet"},
    ) as cohorts:
        yield from _serve(app_from_config(demo_config(demo, cohorts, events)))


def _serve(app):
    """Run ``app`` in a uvicorn thread on a free loopback port; yield its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    # module scope: Playwright's sync API runs an event loop on this thread until it exits,
    # and the tests after this module call asyncio.run()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chrome
        chrome.close()


@pytest.fixture
def page(browser):
    """A fresh page whose console errors and failed requests fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    yield page
    context.close()
    assert problems == [], problems


def test_accounts_sort_and_the_why_pop_up(page, server, demo_run):
    page.goto(f"{server}/")
    assert page.url.endswith("/accounts")
    assert page.get_attribute('header nav a[aria-current="page"]', "href") == "/accounts"
    # the book is by predicted change, largest first: the account `lumos demo` names first
    first = page.locator("tbody tr").first.get_attribute("data-account")
    assert first == re.search(r"Top upsell: (A\d+) ", demo_run[1])[1]
    # flip it, smallest first, with the keyboard: the header link takes Enter
    page.focus('th a[data-sort="predicted_change"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/accounts?*order=asc*")
    values = [
        float(v)
        for v in page.eval_on_selector_all(
            "td[data-change]", "cells => cells.map(c => c.dataset.change)"
        )
    ]
    assert len(values) == 50 and values == sorted(values)
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    # relative change is one click away
    page.click('th a[data-sort="score"]')
    page.wait_for_url("**/accounts?sort=score*")
    relative = page.eval_on_selector_all("td[data-score]", "cs => cs.map(c => +c.dataset.score)")
    assert len(relative) == 50 and relative == sorted(relative, reverse=True)
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


def test_every_column_of_the_book_says_what_it_means(page, server):
    from playwright.sync_api import expect

    page.goto(f"{server}/accounts")
    heads = page.locator("table.book thead th")
    assert heads.count() == 9  # account, name, five figures, class, why
    for i in range(heads.count()):
        expect(heads.nth(i)).to_have_accessible_description(re.compile(r"\w{3,}"))
    expect(page.locator('th:has(a[data-sort="predicted_change"])')).to_have_accessible_description(
        re.compile(r"^units added \(or lost\) by the next renewal")
    )
    expect(page.locator('th:has(a[data-sort="score"])')).to_have_accessible_description(
        re.compile(r"^predicted change ÷ units under contract")
    )
    expect(page.locator('a[data-sort="change"]')).to_have_accessible_description(
        re.compile("since last month")
    )
    assert page.locator("dl.legend dt").count() == 9  # and the same words on the page
    names = page.eval_on_selector_all("tbody tr td:nth-child(2)", "cs => cs.map(c => c.innerText)")
    assert len(names) == 50 and all(names)  # the accounts' names


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


def tried(demo) -> str:
    """The member the demo names to try (and the dashboard offers)."""
    return json.loads((demo / "try.json").read_text())["member"]


def test_see_all_pages_through_a_cohort_without_repeats(page, server, demo):
    page.goto(f"{server}/network?member={tried(demo)}")
    assert page.locator("section.carousel").count() >= 5
    shoot(page, "network")
    page.locator("a.see-all").first.click()
    page.wait_for_url("**/network/**")
    seen, pages = [], 0
    while True:
        seen += page.eval_on_selector_all("ol.grid li.card", "cs => cs.map(c => c.dataset.item)")
        pages += 1
        following = page.locator('a[rel="next"]')
        if following.count() == 0:
            break
        following.click()
        page.wait_for_load_state()
    total = int(page.inner_text("main p.muted").split(" of ")[1])
    assert pages >= 2 and len(seen) == total == len(set(seen))  # every item once
    shoot(page, "network-see-all")
    with pytest.raises(urllib.error.HTTPError) as unknown:  # an unknown cohort: a clear 404 page
        urllib.request.urlopen(f"{server}/network/nope?member={tried(demo)}")
    said = unknown.value.read().decode()
    assert unknown.value.code == 404 and "no cohort &#x27;nope&#x27;" in said


def test_offers_and_model_health_show_what_the_library_computes(page, server, demo):
    from lumos._html import fmt
    from lumos.bandits import OfferModel
    from lumos.events import EventLog

    page.goto(f"{server}/offers")  # at once: computed in the background since start-up
    page.locator('tr[data-policy="greedy"]').wait_for(timeout=120_000)  # it reloads till then
    log = EventLog(demo / "offers_data" / "log_week_4", readonly=True).read()
    model = OfferModel.load(demo / "offers")
    greedy = model.compare(log, candidates="greedy", n_bootstrap=500).loc[("greedy", "dr")]
    row = page.locator('tr[data-policy="greedy"] td').nth(3)  # IPW, SNIPW, DM, DR
    assert row.inner_text().split() == [
        fmt(greedy["value"], "rate"),
        fmt(greedy["low"], "rate"),
        "–",
        fmt(greedy["high"], "rate"),
    ]
    arms = model.arm_report(log)
    top = arms.loc[arms["mean"].idxmax()]
    first = page.locator("tr[data-arm]").first
    assert first.get_attribute("data-arm") == top["arm_id"]
    assert first.locator("td").nth(3).inner_text() == f"{top['shows']:,}"
    shoot(page, "offers")

    page.goto(f"{server}/health")
    page.locator("#slices").wait_for(timeout=120_000)
    assert page.locator("#slices").inner_text() == "Where glmix under-performs"
    link = page.get_by_role("link", name="global", exact=True)
    link.focus()
    page.keyboard.press("Enter")  # by keyboard to the other model
    page.wait_for_url("**/health?model=global")
    assert page.locator("#slices").inner_text() == "Where global under-performs"
    assert page.locator('nav[aria-label="Models"] [aria-current="page"]').inner_text() == "global"
    assert page.locator("#slices ~ ul li, #slices + p + ul li").count() >= 1
    shoot(page, "health-global")


def test_the_empty_member_forms_offer_the_demos_member_by_keyboard(page, server, demo):
    member = tried(demo)
    for path in ("/learning", "/network"):
        page.goto(f"{server}{path}", wait_until="networkidle")  # the icon too: none cut off
        link = page.get_by_role("link", name=f"Try member {member}")
        link.focus()
        assert page.evaluate("document.activeElement.textContent") == f"Try member {member}"
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{path}?member={member}")
        assert page.locator("section.carousel").count() >= 1


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_loads_without_console_errors(page, server, demo, width):
    page.set_viewport_size({"width": width, "height": 900})
    member = tried(demo)
    paths = (
        ("accounts", "/accounts"),
        ("learning", f"/learning?member={member}"),
        ("network", f"/network?member={member}"),
        ("offers", "/offers"),
        ("health", "/health"),
    )
    for name, path in paths:
        response = page.goto(f"{server}{path}")  # at once, even while figures are computed
        assert response.status == 200, path
        if name in ("offers", "health"):  # the page reloads itself until they are ready
            page.locator("figure.plot svg").nth(1).wait_for(timeout=120_000)
        assert page.locator("main h1").inner_text()
        if name in ("learning", "network"):
            assert page.locator("section.carousel").count() >= 1
            assert page.locator("section.carousel li.card").count() >= 5
        if name in ("offers", "health"):  # the plots are drawn and fit the window
            assert page.locator("figure.plot svg").count() >= 2
            for box in page.locator("figure.plot svg").evaluate_all(
                "nodes => nodes.map(n => n.getBoundingClientRect().width)"
            ):
                assert 0 < box <= width, (path, box)
        # readable on a phone: nothing but the table's own scroller is wider than the window
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width + 1, (path, wide)
        if name in ("offers", "health") and width >= 1280:  # on a laptop the tables fit too
            boxes = page.locator(".scroll").evaluate_all(
                "ns => ns.map(n => [n.getAttribute('aria-label'), n.scrollWidth - n.clientWidth])"
            )
            assert boxes and all(over <= 1 for _, over in boxes), (path, boxes)
        if name == "accounts" and width < 640:  # the table's box scrolls by keyboard
            box = page.get_by_role("region", name="accounts")
            box.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("el => el.scrollLeft > 0", arg=box.element_handle())
        shoot(page, f"{name}-{width}")


def test_the_report_is_searched_filtered_and_paged_from_disk(page, demo_run):
    """report.html opened as a file: the same first account, then search, filter and pages."""
    import pandas as pd

    demo, output = demo_run
    page.goto((demo / "report.html").as_uri())
    visible = page.locator("article.card:visible")
    assert visible.count() == 50 and page.locator("#pager").is_visible()
    first = visible.first.get_attribute("data-id")
    assert first == re.search(r"Top upsell: (A\d+) ", output)[1]  # the order of the CLI
    scores = pd.read_parquet(demo / "scores.parquet")
    accounts = scores[scores["product"].isna()]
    name = accounts.set_index("account_id").loc[first, "account_name"]
    assert visible.first.locator(".name").inner_text() == name
    # search by name, then by id
    page.fill("#q", name.split()[0].lower())
    same = accounts["account_name"].str.lower().str.contains(name.split()[0].lower(), regex=False)
    assert visible.count() == min(50, int(same.sum())) and "Showing 1–" in page.inner_text(
        "#status"
    )
    page.fill("#q", first)
    assert visible.count() == 1 and visible.first.get_attribute("data-id") == first
    page.fill("#q", "no such account")
    assert visible.count() == 0 and page.inner_text("#status") == "No card matches."
    page.fill("#q", "")
    # filter by class, then by a product's class: each card shown is one of them
    page.select_option("#class", "churn")
    churn = int((accounts["class"] == "churn").sum())
    assert f"of {churn} (" in page.inner_text("#status")
    assert set(visible.evaluate_all("cs => cs.map(c => c.dataset.class)")) == {"churn"}
    product = sorted(scores["product"].dropna().unique())[0]
    page.select_option("#product", product)
    held = scores[(scores["product"] == product) & (scores["class"] == "churn")]
    assert f"of {len(held)} (" in page.inner_text("#status")
    shown = visible.evaluate_all("cs => cs.map(c => c.dataset.id)")
    assert shown and set(shown) <= set(held["account_id"])
    # pages: every card once
    page.select_option("#product", "")
    page.select_option("#class", "")
    seen = []
    while True:
        seen += visible.evaluate_all("cs => cs.map(c => c.dataset.id)")
        if page.locator("#next").is_disabled():
            break
        page.click("#next")
    assert len(seen) == len(set(seen)) == len(accounts)
    shoot(page, "report")


@pytest.fixture(scope="module")
def keyed_server(demo, tmp_path_factory):
    """The demo's app with a read key: the dashboard asks for it once."""
    from lumos.cohorts import downstream_services
    from lumos.demo import demo_config
    from lumos.serve import app_from_config, hash_key

    with downstream_services(
        tmp_path_factory.mktemp("keyed-cohorts"),
        data=demo / "social",
        store=demo / "store",
        tables={"courses": demo / "learning" / "courses.parquet"},
    ) as cohorts:
        config = demo_config(demo, cohorts, tmp_path_factory.mktemp("keyed-events"))
        config = config.replace(  # no Offers or Model health figures computing in the back
            read_key_hashes=(hash_key("reader-key"),), offers=None, offer_log=None, health=None
        )
        yield from _serve(app_from_config(config))


def test_with_a_read_key_the_dashboard_signs_in_once_and_its_calls_carry_the_session(
    browser, keyed_server
):
    # a page of its own: the sign-in navigates away from pages whose icon may still be on its
    # way, and the browser aborts that fetch (net::ERR_ABORTED), which is no fault of a page
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "requestfailed",
        lambda r: (
            (r.url.endswith("/favicon.svg") and r.failure == "net::ERR_ABORTED")
            or problems.append(f"request failed: {r.url} ({r.failure})")
        ),
    )
    page.goto(f"{keyed_server}/network?member=M000001")
    assert "/login?next=" in page.url  # asked, and sent back after
    page.fill('input[name="key"]', "not-the-key")
    page.click('button[type="submit"]')
    assert "not a read key" in page.inner_text('p[role="alert"]')
    page.fill('input[name="key"]', "reader-key")
    page.click('button[type="submit"]')
    page.wait_for_url("**/network?member=M000001")
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "lumos_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    page.goto(f"{keyed_server}/accounts")  # every page now, and the pop-up's API call
    page.locator("button.info").first.click()
    page.locator("dialog#insight p.narrative").first.wait_for()
    page.goto(f"{keyed_server}/logout")
    page.goto(f"{keyed_server}/accounts")
    assert "/login?next=" in page.url
    context.close()
    assert problems == [], problems
