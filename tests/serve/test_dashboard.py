"""The dashboard's pages, rendered by the server: sorting, filters, paging, bad input, escaping."""

import contextlib
import html
import re
import threading
import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from lumos._html import fmt
from lumos.errors import LumosError
from lumos.serve import create_app, hash_key
from lumos.store import COLD_START, LMDBStore, build_records


def book(n=120, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"A{i:03d}" for i in range(n)]
    rows = pd.DataFrame({"account_id": ids, "product": None})
    rows = pd.concat([rows, pd.DataFrame({"account_id": ids[:40], "product": "jobs"})])
    rows["score"] = rng.normal(0, 0.3, len(rows))
    rows["class"] = np.where(
        rows["score"] > 0.1, "upsell", np.where(rows["score"] < -0.1, "churn", "flat")
    )
    rows["units"] = rng.integers(1, 400, len(rows)).astype(float)
    rows["predicted_change"] = rows["score"] * rows["units"]  # not in the order of the score
    rows["renewal"] = pd.Timestamp("2026-09-01")
    rows["account_name"] = [f"Company {i[1:]}" for i in rows["account_id"]]
    rows.loc[rows["account_id"] == "A011", "account_name"] = "Smith & <Sons>"  # escaped too
    rows["score_last_month"] = rows["score"] - 0.05
    rows["why_usage"] = "Searches rose from 3 to 9 (+200%) in the last month."
    rows.loc[rows["account_id"] == "A007", "account_id"] = "<b>A007</b>"  # must be escaped
    return rows.set_index("account_id")


@pytest.fixture
def client(tmp_path):
    lists = pd.DataFrame(
        {
            "member_id": "m1",
            "course_id": ["c1", "c2", "c3"],
            "score": [0.9, 0.8, 0.7],
            "reason": ["skill", "skill", "trend"],
            "reason_text": ["Because of your skill 'Python'"] * 2 + ["Trending in your industry"],
        }
    )
    store = LMDBStore(tmp_path / "store")
    store.publish(
        build_records(
            {"glmix": lists, COLD_START: lists.assign(member_id=COLD_START)}, version="v1"
        )
    )
    app = create_app(
        store=store,
        treatment=lambda m: ("B", "glmix"),
        insights=book(),
        course_titles={"c1": "Python <Basics>"},
    )
    with TestClient(app) as c:
        yield c


def settle(client) -> None:
    """Wait for the Offers and Model health figures the app computes in the background."""
    s = client.app.state.services
    for figures in (s.offer_page, s.health_page):
        if figures is not None:
            with contextlib.suppress(LumosError):  # an error is the page's to show
                figures.get()


def scores(page: str) -> list[float]:
    return [float(x) for x in re.findall(r'data-score="([-0-9.]+)"', page)]


def changes(page: str) -> list[float]:
    return [float(x) for x in re.findall(r'data-change="([-0-9.]+)"', page)]


def listed(page: str) -> list[str]:
    return re.findall(r'<tr data-account="([^"]*)"', page)


def test_accounts_sort_filter_and_page(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/accounts"
    page = client.get("/accounts")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    first = changes(page.text)  # by predicted change in units, largest first: the accounts
    assert len(first) == 50 and first == sorted(first, reverse=True)
    assert 'aria-sort="descending"' in page.text and "Page 1 of 3" in page.text
    truth = book().reset_index()
    top = truth[truth["product"].isna()].nlargest(50, "predicted_change")["account_id"]
    assert listed(page.text) == [html.escape(a) for a in top]  # the CLI's order
    assert "<td>jobs</td>" not in page.text and 'data-sort="product"' not in page.text
    every = client.get("/accounts?product=*").text  # the accounts and their products
    assert "Page 1 of 4" in every and changes(every) == sorted(changes(every), reverse=True)
    assert "<td>jobs</td>" in every and "<td>all products</td>" in every
    relative = client.get("/accounts?sort=score").text  # one click away: the header's link
    assert 'href="/accounts?sort=score&amp;order=desc' in page.text
    by_score = scores(relative)
    assert by_score == sorted(by_score, reverse=True) and by_score != scores(page.text)
    up = scores(client.get("/accounts?sort=score&order=asc").text)
    assert up == sorted(up) and up[0] < by_score[-1]
    churn = client.get("/accounts?class=churn&product=jobs").text
    assert "all products" not in churn and churn.count('class="badge churn"') > 0
    assert 'class="badge upsell"' not in churn
    high = scores(client.get("/accounts?min_score=0.2&page=9").text)  # past the end: the last
    assert high and min(high) >= 0.2
    assert "&lt;b&gt;A007&lt;/b&gt;" in client.get("/accounts?sort=account_id&order=asc").text
    assert "<b>A007</b>" not in client.get("/accounts?sort=account_id&order=asc").text
    assert "+0.050" in page.text  # change since last month


def test_every_column_says_what_it_means(client):
    page = client.get("/accounts").text
    legend = dict(re.findall(r'<dd id="(what-[a-z_]+)">([^<]+)</dd>', page))
    heads = re.findall(r'<th scope="col"[^>]*aria-describedby="([^"]+)"', page)
    assert len(heads) == 9 and all(legend.get(h) for h in heads)  # each heading explained
    labels = re.findall(r'data-sort="[a-z_]+" aria-describedby="[^"]+">([^<&]+)&nbsp;<', page)
    assert labels == [
        "Account",
        "Name",
        "Predicted change",
        "Relative change",
        "Units",
        "Renewal",
        "Class",
        "Change since last month",
    ]
    assert "units added (or lost) by the next renewal" in legend["what-predicted_change"]
    assert "predicted change ÷ units under contract" in legend["what-score"]
    assert "since last month" in legend["what-change"] and "upsell" in legend["what-class"]
    assert "Accounts by predicted change, largest first" in page
    every = client.get("/accounts?product=*").text  # the product column, when rows are products
    assert 'aria-describedby="what-product">Product&nbsp;<' in every
    assert "an account&#x27;s own row covers all it holds" in every


def test_accounts_have_names_and_are_searched_by_id_or_name(client):
    page = client.get("/accounts?sort=account_id&order=asc").text
    assert "<td>Smith &amp; &lt;Sons&gt;</td>" in page and "<Sons>" not in page
    assert 'aria-label="Why: account A011 (Smith &amp; &lt;Sons&gt;)"' in page
    by_name = client.get("/accounts?q=smith+%26").text
    assert listed(by_name) == ["A011"]
    by_id = client.get("/accounts?q=a01&product=*").text
    assert set(listed(by_id)) == {f"A01{i}" for i in range(10)} and "Page 1 of 1" in by_id
    row = re.search(r'<tr data-account="A011">(.*?)</tr>', page).group(1)
    truth = book().loc["A011"]
    account = truth[truth["product"].isna()].iloc[0]
    assert f'<td class="num">{account["units"]:,.0f}</td>' in row and "<td>Sep 2026</td>" in row
    assert f"{account['predicted_change']:+.1f}</td>" in row


def test_bad_query_says_what_was_wrong(client):
    bad = client.get("/accounts?sort=magic&order=sideways&min_score=lots")
    assert bad.status_code == 400
    assert "sort must be one of" in bad.text and "order must be asc or desc" in bad.text
    assert "min score must be a number; got &#x27;lots&#x27;" in bad.text
    assert scores(bad.text)  # the defaults are shown
    assert client.get("/accounts?page=0").status_code == 422


def test_learning_groups_by_reason_and_static_files(client):
    page = client.get("/learning?member=m1").text
    sections = re.findall(r'<h2 id="reason-\d+">([^<]+)</h2>', page)
    assert sections == ["Because of your skill &#x27;Python&#x27;", "Trending in your industry"]
    assert "Python &lt;Basics&gt;" in page and "c3" in page  # a title where the table has one
    cold = client.get("/learning?member=stranger").text
    assert "cold start" in cold
    assert "Enter a member id" in client.get("/learning").text
    css = client.get("/static/lumos.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "showModal" in client.get("/static/lumos.js").text
    assert client.get("/static/../_app.py").status_code == 404


def test_pages_without_their_data_say_what_to_start(client, tmp_path):
    network = client.get("/network?member=m1")
    assert network.status_code == 200 and "lumos serve --cohorts" in network.text
    assert client.get("/network/people?member=m1").status_code == 404
    assert client.get("/network/people").status_code == 422  # the member is required
    bare = create_app(store=LMDBStore(tmp_path / "empty"), treatment=lambda m: ("A", "glmix"))
    with TestClient(bare) as c:
        assert "--insights scores.parquet" in c.get("/accounts").text
        missing = c.get("/learning?member=m1")
        assert missing.status_code == 404 and "lumos recommend publish" in missing.text
        assert "--offers MODEL_FOLDER" in c.get("/offers").text
        assert "--health" in c.get("/health").text


def test_an_empty_member_form_offers_the_example_member(client, tmp_path):
    assert "Try member" not in client.get("/learning").text  # none configured: no link
    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        example_member="M1 & <M2>",
    )
    with TestClient(app) as c:
        page = c.get("/learning").text
        link = '<a href="/learning?member=M1+%26+%3CM2%3E">Try member M1 &amp; &lt;M2&gt;</a>'
        assert link in page and "<M2>" not in page
        assert "Try member" not in c.get("/learning?member=m9").text  # only on the empty form


@pytest.fixture(scope="module")
def offer_book():
    from lumos.bandits import OfferModel
    from lumos.data.demo import offers

    book = offers(1500, 12_000, random_state=2)
    cut = book.events["ts"].quantile(0.7)
    model = OfferModel(book.arms, book.members, {"policy": "egreedy", "random_state": 0})
    model.retrain(book.events[book.events["ts"] < cut])
    return model, book.events[book.events["ts"] >= cut].reset_index(drop=True)


def cells(page: str, attribute: str, value: str) -> list[str]:
    row = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', page, re.S)
    assert row, (attribute, value)
    return [
        re.sub(r"<[^>]+>", " ", c).split()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(1), re.S)
    ]


def test_the_offers_page_shows_each_arm_and_the_candidate_policies(offer_book, tmp_path):
    model, log = offer_book
    calls = []

    def read():
        calls.append(1)
        return log

    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        offers=model,
        offer_log=read,
        offer_log_name="week <4>",
        keys={"decide": [hash_key("decider")]},
    )
    with TestClient(app) as c:
        settle(c)
        page = c.get("/offers")
        again = c.get("/offers")
        # a decision right after: the page judged a copy, the live model is untouched
        decided = c.post(
            "/v1/members/om000001/offer?channel=email", headers={"X-API-Key": "decider"}
        )
    assert page.status_code == 200 and again.text == page.text and calls == [1]  # computed once
    assert decided.status_code == 200
    assert "week &lt;4&gt;" in page.text and 'aria-current="page">Offers' in page.text
    arms = model.arm_report(log)
    busiest = arms.loc[arms["shows"].idxmax()]
    row = cells(page.text, "data-arm", busiest["arm_id"])
    assert row[4:6] == [[f"{busiest['shows']:,}"], [f"{busiest['conversions']:,}"]]
    assert row[6:8] == [[fmt(busiest["rate"], "rate")], [fmt(busiest["mean"], "rate")]]
    assert row[8] == [fmt(busiest["low"], "rate"), "–", fmt(busiest["high"], "rate")]
    table = model.compare(log, n_bootstrap=500)
    greedy = cells(page.text, "data-policy", "greedy")
    dr = table.loc[("greedy", "dr")]
    assert greedy[4] == [fmt(dr[k], "rate") for k in ("value", "low")] + [
        "–",
        fmt(dr["high"], "rate"),
    ]  # percentages: '0.46%', not '0.005'
    logged = table.loc[("logged", "logged"), "value"]
    assert f"the {fmt(logged, 'rate')} the log's own policy converted" in page.text
    assert page.text.count("<svg") == 2
    ticks = re.findall(r"text-anchor='middle'>([^<]*)</text>", page.text)  # the plots' axes
    assert len(ticks) >= 6 and all(re.fullmatch(r"-?\d+(\.\d+)?%", t) for t in ticks), ticks


def test_the_offers_page_waits_for_closed_rounds(offer_book, tmp_path):
    model, log = offer_book
    young = log[log["ts"] < log["ts"].min() + 3600]  # an hour of a 72-hour window
    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        offers=model,
        offer_log=young,
    )
    with TestClient(app) as c:
        settle(c)
        page = c.get("/offers")
    assert page.status_code == 200 and "no closed offer rounds" in page.text
    served = young[(young["type"] == "served") & (young["item_type"] == "offer")]
    assert f"{served['tracking_id'].nunique():,} served offers are still inside their window" in (
        page.text
    )


def test_the_health_page_shows_metrics_slices_and_gaps(tmp_path):
    from lumos.evaluate import model_health

    rng = np.random.default_rng(0)
    n = 4000
    data = pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(n)],
            "region": rng.choice(["NA", "EU", "APAC"], n),
            "plan": rng.choice(["free", "pro"], n),
        }
    )
    truth = np.where(data["region"] == "EU", 0.5, 0.2)
    data["label"] = (rng.random(n) < truth).astype(int)
    good = np.clip(truth + rng.normal(0, 0.05, n), 0.01, 0.99)
    bad = np.where(data["plan"] == "free", 0.9, good)  # wrong on free plans
    data = pd.concat([data.assign(score=good, model="good"), data.assign(score=bad, model="bad")])
    calls = []

    def compute():
        calls.append(1)
        return model_health(data, groups=["region"], n_bootstrap=50)

    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        health=compute,
        health_name="held_out.parquet",
    )
    with TestClient(app) as c:
        settle(c)
        first = c.get("/health")
        bad_page = c.get("/health?model=bad")
        unknown = c.get("/health?model=<i>nope</i>")
    assert calls == [1]
    assert first.status_code == 200 and "held_out.parquet" in first.text
    assert "Where good under-performs" in first.text and first.text.count("<svg") >= 5
    assert "region = EU" in first.text  # the largest gap is between EU and the rest
    assert "plan = free" in bad_page.text and "Where bad under-performs" in bad_page.text
    assert unknown.status_code == 404 and "&lt;i&gt;nope&lt;/i&gt;" in unknown.text
    assert "<i>nope" not in unknown.text and "Where good under-performs" in unknown.text
    good = model_health(data, groups=["region"], n_bootstrap=50).metrics.loc["good"]
    row = re.search(r"<tr><td class='text'>good</td>(.*?)</tr>", first.text).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == [  # numbers as their kind reads
        f"{good['rows']:,.0f}",
        f"{good['base_rate']:.1%}",
        f"{good['mean_score']:.1%}",
        *(f"{good[m]:.3f}" for m in ("roc_auc", "pr_auc", "log_loss", "brier")),
    ]
    heads = re.findall(r"<th scope='col'[^>]*>([^<]*)</th>", first.text)
    assert {"Base rate", "ROC-AUC", "Slice", "Share of rows", "p (adjusted)"} <= set(heads)
    assert {"True-positive rate", "Higher group", "95% interval"} <= set(heads)
    assert not [h for h in heads if "_" in h]  # no code names


def test_the_health_page_names_a_table_it_cannot_read(tmp_path):
    from lumos.evaluate import model_health

    data = pd.DataFrame({"label": [0, 1, 2], "score": [0.1, 0.5, 0.9]})
    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        health=lambda: model_health(data, source="p.csv"),
    )
    with TestClient(app) as c:
        settle(c)
        page = c.get("/health")
    assert page.status_code == 422
    assert "p.csv row 2: column &#x27;label&#x27; must be 0 or 1; got" in page.text


def test_the_health_page_shows_the_account_prioritizers_validation(tmp_path):
    report = pd.DataFrame(
        {
            "rows": [814.0, 469.0],
            "mae": [7.6, 2.4],
            "upsell_roc_auc": [0.916, 0.944],
            "upsell_precision": [0.8114, 0.898],
            "churn_roc_auc": [0.877, np.nan],
        },
        index=["account", "product:jobs"],
    )
    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        propensity_report=report,
    )
    with TestClient(app) as c:
        page = c.get("/health")
    assert page.status_code == 200 and "Account propensity" in page.text
    assert "product:jobs" in page.text and "0.944" in page.text and "814" in page.text
    assert page.text.count("<svg") == 2 and "Held-out predictions" not in page.text
    assert "<td>—</td>" in page.text  # a missing figure is a dash, not NaN
    assert "<td>81.1%</td>" in page.text and "Upsell precision" in page.text  # rates in percent


def test_lazy_figures_are_computed_once_or_when_stale():
    from lumos.serve import Lazy

    calls = []
    once = Lazy(lambda: calls.append(1) or len(calls), "x")
    assert [once.get(), once.get()] == [1, 1]
    always = Lazy(lambda: calls.append(1) or len(calls), "y", max_age=0)
    assert always.get() < always.get()


def test_offers_and_health_are_computed_in_the_background(tmp_path):
    """The first visit never waits: it says the figures are being computed and reloads itself;
    once they are ready it shows them; the server stops the thread when it stops."""
    from lumos.evaluate import ModelHealth

    release, computed = threading.Event(), []

    def slow():
        release.wait(30)  # as long as the test holds it
        computed.append(1)
        return ModelHealth(
            metrics=pd.DataFrame(
                {"rows": [1200.0], "base_rate": [0.2], "roc_auc": [0.8123]}, index=["m<1>"]
            ),
            calibration={"m<1>": pd.DataFrame({"mean_score": [0.1], "observed": [0.12]})},
            slices={},
            fairness={},
        )

    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        health=slow,
        health_name="slow.parquet",
    )
    with TestClient(app) as c:
        started = time.monotonic()
        first = c.get("/health?model=m<1>")
        waited = time.monotonic() - started
        figures = c.app.state.services.health_page
        assert figures.running  # began at start-up
        release.set()
        figures.get()  # until the background computation is done
        later = c.get("/health")
    assert waited < 1 and computed == [1]
    assert first.status_code == 200 and '<meta http-equiv="refresh" content="2">' in first.text
    assert (
        "Computing the figures from slow.parquet…" in first.text and 'role="status"' in first.text
    )
    assert 'href="/health?model=m%3C1%3E">reload it now' in first.text
    assert later.status_code == 200 and "http-equiv" not in later.text
    assert "Computing" not in later.text and "<td>0.812</td>" in later.text
    assert not figures.running  # stopped with the server


def test_background_figures_refresh_and_keep_their_error():
    """Refreshed every max_age on their thread; an error is kept (and raised) until the next
    computation, and the figures before it are shown until then; stop() ends the thread."""
    from lumos.serve import Lazy

    calls, gates = [], {2: threading.Event(), 3: threading.Event()}

    def compute():
        calls.append(1)
        n = len(calls)
        if n in gates:  # the test looks at the page meanwhile
            gates[n].wait(10)
        if n == 2:
            raise LumosError("the log is gone", code="missing")
        return n

    figures = Lazy(compute, "x", max_age=0.01)

    def until(check) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                got = figures.peek()
            except LumosError as exc:
                got = exc.message
            if check(got):
                return True
            time.sleep(0.002)
        return False

    assert figures.peek() is None  # starts the thread; never waits
    assert until(lambda got: got == 1)
    assert figures.peek() == 1  # while the next computation is under way
    gates[2].set()
    assert until(lambda got: got == "the log is gone")
    with pytest.raises(LumosError, match="the log is gone"):
        figures.peek()  # kept while the next computation is under way
    gates[3].set()
    assert until(lambda got: isinstance(got, int) and got >= 3)
    figures.stop()
    assert not figures.running
    done = len(calls)
    figures.peek()  # a stopped page starts no thread again
    assert len(calls) == done and not figures.running


def test_the_insights_api_gives_the_pop_up_its_name_figures_and_headline(tmp_path):
    rows = book().reset_index()
    rows["headline"] = np.where(rows["product"].isna(), "Likely to add seats by renewal.", "")
    app = create_app(
        store=LMDBStore(tmp_path / "s"),
        treatment=lambda m: ("A", "glmix"),
        insights=rows.iloc[::-1].set_index("account_id"),  # products before their account
    )
    with TestClient(app) as c:
        got = c.get("/v1/accounts/A011/insights").json()
        plain = create_app(
            store=LMDBStore(tmp_path / "t"),
            treatment=lambda m: ("A", "glmix"),
            insights=book().drop(columns=["account_name", "units", "renewal"]),
        )
        with TestClient(plain) as bare:
            old = bare.get("/v1/accounts/A011/insights").json()
    account = rows[(rows["account_id"] == "A011") & rows["product"].isna()].iloc[0]
    assert got["name"] == "Smith & <Sons>" and [r["product"] for r in got["rows"]] == [None, "jobs"]
    own, jobs = got["rows"]
    assert own["headline"] == "Likely to add seats by renewal." and jobs["headline"] is None
    assert own["units"] == account["units"] and own["renewal"] == "2026-09-01"
    assert own["predicted_change"] == pytest.approx(account["predicted_change"])
    assert old["name"] is None and old["rows"][0]["headline"] is None  # without those columns
    assert old["rows"][0]["units"] is None and old["rows"][0]["renewal"] is None
    script = TestClient(app).get("/static/lumos.js").text
    assert "row.headline" in script and "data.name" in script and "relative change" in script
