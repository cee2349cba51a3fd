"""The dashboard's pages, rendered by the server: sorting, filters, paging, bad input, escaping."""

import re

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from lumos.serve import create_app
from lumos.store import COLD_START, LMDBStore, build_records


def book(n=120, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"A{i:03d}" for i in range(n)]
    rows = pd.DataFrame({"account_id": ids, "product": None})
    rows = pd.concat([rows, pd.DataFrame({"account_id": ids[:40], "product": "jobs"})])
    rows["score"] = rng.normal(0, 0.3, len(rows))
    rows["class"] = np.where(rows["score"] > 0.1, "upsell", np.where(rows["score"] < -0.1,
                                                                     "churn", "flat"))  # fmt: skip
    rows["predicted_change"] = rows["score"] * 10
    rows["score_last_month"] = rows["score"] - 0.05
    rows["why_usage"] = "Searches rose from 3 to 9 (+200%) in the last month."
    rows.loc[rows["account_id"] == "A007", "account_id"] = "<b>A007</b>"  # must be escaped
    return rows.set_index("account_id")


@pytest.fixture
def client(tmp_path):
    lists = pd.DataFrame({"member_id": "m1", "course_id": ["c1", "c2", "c3"],
                          "score": [0.9, 0.8, 0.7], "reason": ["skill", "skill", "trend"],
                          "reason_text": ["Because of your skill 'Python'"] * 2
                          + ["Trending in your industry"]})  # fmt: skip
    store = LMDBStore(tmp_path / "store")
    store.publish(build_records({"glmix": lists, COLD_START: lists.assign(member_id=COLD_START)},
                                version="v1"))  # fmt: skip
    app = create_app(store=store, treatment=lambda m: ("B", "glmix"), insights=book())
    with TestClient(app) as c:
        yield c


def scores(page: str) -> list[float]:
    return [float(x) for x in re.findall(r'data-score="([-0-9.]+)"', page)]


def test_accounts_sort_filter_and_page(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/accounts"
    page = client.get("/accounts")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    first = scores(page.text)
    assert len(first) == 50 and first == sorted(first, reverse=True)
    assert 'aria-sort="descending"' in page.text and "Page 1 of 4" in page.text
    up = scores(client.get("/accounts?sort=score&order=asc").text)
    assert up == sorted(up) and up[0] < first[-1]
    churn = client.get("/accounts?class=churn&product=jobs").text
    assert "all products" not in churn and churn.count('class="badge churn"') > 0
    assert 'class="badge upsell"' not in churn
    high = scores(client.get("/accounts?min_score=0.2&page=9").text)  # past the end: the last
    assert high and min(high) >= 0.2
    assert "&lt;b&gt;A007&lt;/b&gt;" in client.get("/accounts?sort=account_id&order=asc").text
    assert "<b>A007</b>" not in client.get("/accounts?sort=account_id&order=asc").text
    assert "+0.050" in page.text  # change since last month


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
    assert "c1" in page and "c3" in page
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
