"""The lumos command: the demo, explain run, suggest-design, and every error path."""

import html
import json
import re

import pandas as pd
import pytest
import xgboost as xgb
from click.testing import CliRunner

from lumos.cli import main
from lumos.data.demo import ACCOUNT_FEATURES, accounts, accounts_design_path, population
from lumos.demo._run import MEMBERS

DEMO_DECIDE = "demo-decide-key"  # the decide key the tests give the demo's server


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    book = accounts(400, random_state=3)
    clf = xgb.XGBClassifier(n_estimators=30, max_depth=3).fit(
        book[ACCOUNT_FEATURES], book["upsell"]
    )
    clf.save_model(folder / "model.json")
    book.to_parquet(folder / "accounts.parquet")
    book.to_csv(folder / "accounts.csv", index=False)
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def explain(files, out, **overrides):
    opts = {
        "--model": files / "model.json",
        "--data": files / "accounts.parquet",
        "--design": accounts_design_path(),
        "--id-column": "account_id",
        "--out": out,
    }
    opts.update(overrides)
    return run("explain", "run", *[x for kv in opts.items() for x in kv])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".html"])
def test_explain_run_writes_every_format(files, tmp_path, suffix):
    out = tmp_path / f"narratives{suffix}"
    result = explain(files, out)
    assert result.exit_code == 0, result.output
    assert "400 rows explained with tree_shap[lumos]" in result.output
    if suffix == ".jsonl":
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert records[0]["id"].startswith("A") and 0 <= records[0]["score"] <= 1
        assert records[0]["narratives"][0]["rank"] == 1
        assert set(records[0]["summary"]) <= {"Product usage", "Engagement", "Hiring", "Company"}
    elif suffix == ".csv":
        assert list(pd.read_csv(out).columns)[:3] == ["id", "score", "rank"]
    elif suffix == ".parquet":
        assert pd.read_parquet(out)["rank"].max() <= 5
    else:
        page = out.read_text()
        assert page.startswith("<!DOCTYPE html>") and "http" not in page.split("<body>")[1]
        shown = [float(v) for v in re.findall(r'class="score">([\d.]+)%<', page)]
        assert len(shown) == 400 and shown == sorted(shown, reverse=True)


def test_explain_run_options(files, tmp_path):
    out = tmp_path / "neg.csv"
    result = explain(
        files,
        out,
        **{
            "--top-k": 2,
            "--direction": "negative",
            "--data": files / "accounts.csv",
            "--method": "lime",
        },
    )
    assert result.exit_code == 0, result.output
    assert "with lime" in result.output
    assert pd.read_csv(out).groupby("id").size().max() <= 2


def test_explain_run_lime_options_reach_lime(files, tmp_path):
    """--lime-features caps each row's reasons at the features LIME kept; the Gaussian mode
    puts weight on every feature; a LIME flag without --method lime names what to add."""
    one = explain(
        files,
        tmp_path / "one.csv",
        **{"--method": "lime", "--lime-features": 1, "--lime-samples": 500, "--top-k": 5},
    )
    assert one.exit_code == 0, one.output
    per_row = pd.read_csv(tmp_path / "one.csv").groupby("id")["super_feature"].nunique()
    assert per_row.max() == 1
    wide = explain(
        files,
        tmp_path / "wide.csv",
        **{"--method": "lime", "--lime-sampling": "gaussian", "--lime-samples": 500},
    )
    assert wide.exit_code == 0, wide.output
    assert pd.read_csv(tmp_path / "wide.csv").groupby("id")["super_feature"].nunique().max() > 1
    alone = explain(files, tmp_path / "no.csv", **{"--lime-features": 3})
    assert alone.exit_code == 2
    assert "--lime-features set LIME's options; add --method lime" in alone.output
    assert not (tmp_path / "no.csv").exists()
    wrong = explain(
        files,
        tmp_path / "no.csv",
        **{"--method": "lime", "--lime-sampling": "gaussian", "--lime-features": 3},
    )
    assert wrong.exit_code == 2 and "sampling='quartile' only" in wrong.output
    assert not (tmp_path / "no.csv").exists()


def _fails(result, code, *fragments):
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error [{code}]: "), result.output
    for fragment in fragments:
        assert fragment in result.output


def test_error_paths_name_the_problem_and_write_nothing(files, tmp_path):
    out = tmp_path / "out.jsonl"
    data = pd.read_parquet(files / "accounts.parquet")
    data.drop(columns="seats").to_parquet(tmp_path / "no_seats.parquet")
    _fails(
        explain(files, out, **{"--data": tmp_path / "no_seats.parquet"}),
        "missing_column",
        "no_seats.parquet",
        "'seats'",
    )
    (tmp_path / "broken.json").write_text('{"learner": ')
    _fails(
        explain(files, out, **{"--model": tmp_path / "broken.json"}),
        "unreadable_file",
        "broken.json",
    )
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    _fails(
        explain(files, out, **{"--model": tmp_path / "model.pkl"}), "untrusted_pickle", "--trust"
    )
    design = tmp_path / "design"
    design.mkdir()
    for name in ("features.csv", "insights.csv", "templates.yaml"):
        (design / name).write_text((accounts_design_path() / name).read_text())
    with open(design / "templates.yaml", "a") as fh:
        fh.write('evil:\n  text: "{value.__globals__}"\n')
    _fails(
        explain(files, out, **{"--design": design}),
        "bad_template",
        "templates.yaml line",
        "attribute access",
    )
    (design / "templates.yaml").write_text((accounts_design_path() / "templates.yaml").read_text())
    with open(design / "features.csv", "a") as fh:
        fh.write("ghost,Ghost feature,Ghosts,Company,\n")
    _fails(
        explain(files, out, **{"--design": design}),
        "bad_design",
        "features.csv row 21",
        "'Ghost feature' has no insight type",
    )
    _fails(explain(files, out, **{"--id-column": "acct"}), "missing_column", "'acct'")
    data.assign(account_id="same").to_parquet(tmp_path / "dup.parquet")
    _fails(explain(files, out, **{"--data": tmp_path / "dup.parquet"}), "duplicate", "row 1")
    _fails(explain(files, out, **{"--data": tmp_path / "nothere.csv"}), "file_not_found")
    assert not out.exists()
    assert list(tmp_path.glob(".out.jsonl*")) == []
    bad_suffix = explain(files, tmp_path / "out.txt")
    assert bad_suffix.exit_code == 2 and "--out" in bad_suffix.output


def test_failure_keeps_an_existing_output(files, tmp_path):
    out = tmp_path / "keep.jsonl"
    out.write_text("previous run\n")
    _fails(explain(files, out, **{"--id-column": "nope"}), "missing_column")
    assert out.read_text() == "previous run\n"


def test_suggest_design_then_explain_with_it(files, tmp_path):
    design = tmp_path / "suggested"
    args = ("--model", files / "model.json", "--data", files / "accounts.parquet", "--out", design)
    result = run("explain", "suggest-design", *args, "--peers", "accounts")
    assert result.exit_code == 0, result.output
    assert "settings:\n  peers: accounts\n" in (design / "templates.yaml").read_text()
    again = run("explain", "suggest-design", *args)
    _fails(again, "exists")
    out = tmp_path / "n.jsonl"
    done = explain(files, out, **{"--design": design})
    assert done.exit_code == 0, done.output
    assert out.read_text().count("\n") == 400
    assert " 0 incoherent, 0 immaterial changes" in done.output and " 0 unreadable" in done.output


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "--out", out, "--accounts", 300, "--months", 26, "--no-serve")
    assert result.exit_code == 0, result.output
    assert "Trained 5 models on renewals before 2025-03-01" in result.output
    assert "Scored " in result.output and "Top churn risk" in result.output
    scores = pd.read_parquet(out / "scores.parquet")
    accounts = scores[scores["product"].isna()]
    lines = (out / "narratives.jsonl").read_text().splitlines()
    assert len(lines) == len(accounts) > 200
    assert (out / "report.html").stat().st_size > 10_000
    record = json.loads(lines[0])
    assert all("nan" not in n["text"] for n in record["narratives"])
    change = accounts.set_index("account_id")["predicted_change"]
    assert record["score"] == pytest.approx(change[record["id"]])
    # the files it wrote rerun through the other commands
    again = run(
        "propensity",
        "score",
        "--model",
        out / "model",
        "--contracts",
        out / "tables" / "contracts.parquet",
        "--usage",
        out / "tables" / "usage.parquet",
        "--firmographics",
        out / "tables" / "firmographics.parquet",
        "--as-of",
        "2025-02-01",
        "--out",
        tmp_path / "s.csv",
    )
    assert again.exit_code == 0, again.output
    written = pd.read_csv(out / "scores.csv")
    pd.testing.assert_frame_equal(  # the same rows in the same order, less the accounts' names
        pd.read_csv(tmp_path / "s.csv").drop(columns=["as_of", "renewal"]),
        written.drop(columns=["as_of", "renewal", "account_name"]),
    )
    # one order everywhere: the largest predicted change first, the first account named first
    assert written["predicted_change"].is_monotonic_decreasing
    first = accounts.nlargest(1, "predicted_change").iloc[0]
    assert result.output.split("Top upsell: ")[1].startswith(
        f"{first['account_id']} ({first['account_name']}), "
    )
    assert f"Largest predicted change: account {first['account_id']}, " in again.output
    names = population(MEMBERS, 300, random_state=0).accounts.set_index("account_id")["name"]
    assert (scores["account_name"] == scores["account_id"].map(names)).all()
    courses = pd.read_parquet(out / "course_recommendations.parquet")
    assert "Courses: " in result.output and (courses["reason_text"] != "").all()
    rerun = run(
        "recommend",
        "courses",
        "--tables",
        out / "learning",
        "--as-of",
        "2025-03-02",
        "--top-k",
        20,
        "--member",
        courses["member_id"].iloc[0],
        "--out",
        tmp_path / "c.csv",
    )
    assert rerun.exit_code == 0, rerun.output
    mine = courses[courses["member_id"] == courses["member_id"].iloc[0]]
    assert pd.read_csv(tmp_path / "c.csv")["course_id"].tolist() == mine["course_id"].tolist()
    # what `lumos demo` serves when it ends: the store, the experiment, the account scores
    from fastapi.testclient import TestClient

    from lumos.cohorts import downstream_services
    from lumos.demo import demo_config
    from lumos.serve import app_from_config

    assert "Discovery: 8 first-pass rankers" in result.output
    # one member and one account to try, named in the summary and saved for the dashboard
    named = re.search(r"Try member (M\d{6}) \((.+?)\) and their account (A\d{6})", result.output)
    tried, tried_account = named[1], named[3]
    assert json.loads((out / "try.json").read_text()) == {
        "member": tried,
        "account": tried_account,
    }
    assert "sees:" in result.output and f"({tried}, " in result.output  # the cohorts page
    assert f"  {tried} on email now: " in result.output  # the offer decision
    assert f"For {tried} (" in result.output  # the course list
    with downstream_services(  # as `lumos demo` does before it serves
        tmp_path / "cohorts",
        data=out / "social",
        store=out / "store",
        tables={"courses": out / "learning" / "courses.parquet"},
    ) as cohorts:
        served = app_from_config(
            demo_config(out, cohorts, tmp_path / "events", keys={"decide": DEMO_DECIDE})
        )
        with TestClient(served) as app:  # leaving it closes the store and the event log
            member = courses["member_id"].iloc[0]
            got = app.get(f"/v1/members/{member}/recommendations?count=3").json()
            assert len(got["items"]) == 3 and got["model_id"] in ("glmix", "affinity")
            account = scores["account_id"].iloc[0]
            rows = app.get(f"/v1/accounts/{account}/insights").json()["rows"]
            assert rows[0]["class"] in ("upsell", "flat", "churn")
            page = app.get(f"/v1/members/{tried}/cohorts?max_items=2").json()
            assert page["left_out"] == [] and len(page["cohorts"]) >= 5
            assert all(c["items"][0]["name"] for c in page["cohorts"])
            offer = app.post(
                f"/v1/members/{tried}/offer?channel=feed", headers={"X-API-Key": DEMO_DECIDE}
            ).json()
            assert not offer["cold_start"]  # the member it names is one the offer model knows
            assert offer["channel"] == "feed" and 0 < offer["propensity"] <= 1
            _the_member_and_account_it_names_work_everywhere(app, out, tried, tried_account)
            # the dashboard's pages over the demo's offer log, held-out clicks and titles,
            # computed in the background since the server started: wait for them
            for figures in (served.state.services.offer_page, served.state.services.health_page):
                figures.get()
            offers_page = app.get("/offers").text
            assert "log_week_4" in offers_page and "Greedy on the posterior mean" in offers_page
            health = app.get("/health").text
            assert "course_health.parquet" in health and "Where glmix under-performs" in health
            assert "industry" in health and app.get("/health?model=global").status_code == 200
            assert "Account propensity" in health and "product:recruiter" in health
            titles = pd.read_parquet(out / "learning" / "courses.parquet")["title"]
            learning = app.get(f"/learning?member={member}").text
            assert sum(html.escape(t) in learning for t in titles) >= 5
    assert "Model health: a GLMix trained on all but the last 14 days" in result.output
    assert "Offers: LinTS learned from" in result.output and "simulator's truth" in result.output
    judged = run(
        "offers",
        "evaluate",
        "--events",
        out / "offers_data" / "log_week_4",
        "--model",
        out / "offers",
        "--bootstrap",
        100,
    )
    assert judged.exit_code == 0 and "dr" in judged.output, judged.output
    model = out / "model"
    narrated = run(
        "explain",
        "run",
        "--model",
        model / "models" / "account.json",
        "--data",
        out / "features.parquet",
        "--design",
        model / "designs" / "account",
        "--id-column",
        "account_id",
        "--out",
        tmp_path / "n.jsonl",
    )
    assert narrated.exit_code == 0, narrated.output


def test_scores_only_table_is_explained_with_klime(files, tmp_path):
    book = pd.read_parquet(files / "accounts.parquet")
    table = book[["account_id", *ACCOUNT_FEATURES]].assign(p=book["health"].rank(pct=True))
    table.to_csv(tmp_path / "scores.csv", index=False)
    out = tmp_path / "n.jsonl"
    result = explain(
        files,
        out,
        **{
            "--model": tmp_path / "scores.csv",
            "--data": tmp_path / "scores.csv",
            "--score-column": "p",
        },
    )
    assert result.exit_code == 0, result.output
    assert "with klime" in result.output
    first = json.loads(out.read_text().splitlines()[0])
    assert first["score"] == pytest.approx(table["p"].iloc[0])
    missing = explain(files, out, **{"--model": tmp_path / "scores.csv"})
    _fails(missing, "missing_column", "no score column 'score'", "--score-column")


def test_bad_options_of_demo_and_suggest_design(files, tmp_path):
    assert run("demo", "--accounts", 0).exit_code == 2
    data = pd.read_parquet(files / "accounts.parquet").drop(columns="hires_12m")
    data.to_parquet(tmp_path / "d.parquet")
    result = run(
        "explain",
        "suggest-design",
        "--model",
        files / "model.json",
        "--data",
        tmp_path / "d.parquet",
        "--out",
        tmp_path / "design",
    )
    _fails(result, "missing_column", "'hires_12m'")
    assert not (tmp_path / "design").exists()


def test_chunking_does_not_change_lime_or_linear_explanations(files):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from lumos.explain import InsightsDesign, explain_table, import_model

    book = pd.read_parquet(files / "accounts.parquet")
    design = InsightsDesign.load(accounts_design_path())
    linear = make_pipeline(StandardScaler(), LogisticRegression())
    linear.fit(book[ACCOUNT_FEATURES].fillna(0), book["upsell"])
    data = book.fillna(0)
    for model, method in (
        (import_model(files / "model.json"), "lime"),
        (import_model(linear), "linear_shap"),
    ):
        whole, _, _ = explain_table(model, data, design, id_column="account_id", method=method)
        parts, _, _ = explain_table(
            model, data, design, id_column="account_id", method=method, chunk_size=150
        )
        pd.testing.assert_frame_equal(whole, parts)


def test_export_refuses_duplicate_score_labels(tmp_path):
    from lumos.errors import LumosUserError
    from lumos.explain import export

    narratives = pd.DataFrame(
        {
            "row": [0, 1],
            "rank": [1, 1],
            "category": ["c", "c"],
            "ultra_feature": ["u", "u"],
            "super_feature": ["s", "s"],
            "importance": [1.0, 1.0],
            "text": ["a.", "b."],
        }
    )
    with pytest.raises(LumosUserError, match="more than once"):
        export(narratives, tmp_path / "o.jsonl", scores=pd.Series([0.1, 0.2], index=[1, 1]))
    assert not (tmp_path / "o.jsonl").exists()


def test_lumos_help_names_every_command_without_importing_them():
    import importlib
    import subprocess
    import sys

    from lumos.cli import COMMANDS

    for name, (module, attr, short) in COMMANDS.items():
        command = main.get_command(None, name)
        assert command is getattr(importlib.import_module(f"lumos.cli.{module}"), attr)
        assert command.name == name and command.get_short_help_str(limit=200) == short, name
    code = (
        "import sys; from click.testing import CliRunner; from lumos.cli import main; "
        "out = CliRunner().invoke(main, ['--help']).output; "
        "print(sorted(m for m in sys.modules if m.startswith('lumos.cli.')), 'demo' in out)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] True"


def test_old_option_names_still_work_warn_and_stay_out_of_help(tmp_path):
    import click
    from click.testing import CliRunner

    from lumos.cli._common import renamed

    @click.command()
    @renamed("--top-k", "top_k", old=("--k",), default=50, type=int)
    @renamed("--model", "folders", old=("--policy",), multiple=True)
    def command(top_k, folders):
        click.echo(f"{top_k} {list(folders)}")

    runner = CliRunner()
    new = runner.invoke(command, ["--top-k", "3", "--model", "a"])
    assert new.stdout == "3 ['a']\n" and new.stderr == ""
    old = runner.invoke(command, ["--k", "4", "--policy", "a", "--model", "b"])
    assert old.exit_code == 0 and old.stdout == "4 ['b', 'a']\n"
    assert "--k is now --top-k" in old.stderr and "--policy is now --model" in old.stderr
    assert "--k" not in runner.invoke(command, ["--help"]).stdout
    # a real command: the old name reaches the same option
    done = runner.invoke(main, ["report", "funnel", "--logs", str(tmp_path / "nowhere")])
    assert done.exit_code == 2 and "--logs is now --events" in done.stderr
    assert "error [file_not_found]: --events" in done.stderr


def _the_member_and_account_it_names_work_everywhere(app, out, member, account):
    """The demo's member and account on the five dashboard pages and every API endpoint."""
    from urllib.parse import quote

    people = pd.read_parquet(out / "social" / "members.parquet").set_index("member_id")
    # the API: the member's own list, cohorts and a cohort's pages, an offer; the account
    got = app.get(f"/v1/members/{member}/recommendations").json()
    assert got["cold_start"] is False and len(got["items"]) >= 5
    page = app.get(f"/v1/members/{member}/cohorts").json()
    assert page["left_out"] == [] and len(page["cohorts"]) >= 5
    first = page["cohorts"][0]["cohort_id"]
    whole = app.get(f"/v1/members/{member}/cohorts/{first}?count=12").json()
    assert whole["total"] > 12 and whole["next_page_token"] and len(whole["items"]) == 12
    offer = app.post(
        f"/v1/members/{member}/offer?channel=email", headers={"X-API-Key": DEMO_DECIDE}
    )
    assert offer.status_code == 200 and offer.json()["member_id"] == member
    assert offer.json()["channel"] == "email"
    insights = app.get(f"/v1/accounts/{account}/insights").json()
    assert insights["account_id"] == account and insights["rows"][0]["product"] is None
    assert any(row["narratives"] for row in insights["rows"])
    # the dashboard: the account in the book, the member's Learning and My Network pages
    scores = pd.read_parquet(out / "scores.parquet")
    accounts = scores[scores["product"].isna()]  # the book lists the accounts as a whole
    before = int((accounts["account_id"] < account).sum())  # rows ahead of it by account id
    book = app.get(f"/accounts?sort=account_id&order=asc&page={before // 50 + 1}")
    assert book.status_code == 200 and f'<tr data-account="{account}">' in book.text
    learning = app.get(f"/learning?member={member}")
    assert learning.status_code == 200 and f"Learning — {member}" in learning.text
    assert "cold start" not in learning.text and learning.text.count('class="card"') >= 5
    network = app.get(f"/network?member={member}")
    assert network.status_code == 200 and network.text.count('class="carousel"') >= 5
    colleague = html.escape(people.loc[member, "company"])
    assert f"People you may know from {colleague}" in network.text
    see_all = app.get(f"/network/{quote(first)}?member={member}")
    assert see_all.status_code == 200 and 'rel="next"' in see_all.text
    assert app.get("/offers").status_code == 200 and app.get("/health").status_code == 200
    # the empty member forms offer the member, by a link a keyboard reaches
    for path in ("/learning", "/network"):
        empty = app.get(path).text
        assert f'<a href="{path}?member={member}">Try member {member}</a>' in empty
