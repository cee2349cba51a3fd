"""lumos offers retrain | evaluate and lumos serve --offers, on files, and their error paths."""

import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from lumos.cli import main
from lumos.data.demo import offers
from lumos.events import EventLog
from lumos.serve import ServeConfig, app_from_config, hash_key
from lumos.store import LMDBStore


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("offers")
    book = offers(600, 5000, random_state=3)
    book.arms.to_csv(folder / "arms.csv", index=False)
    book.members.to_parquet(folder / "members.parquet")
    cut = book.events["ts"].quantile(0.6)
    book.events[book.events["ts"] < cut].to_json(folder / "old.jsonl", orient="records", lines=True)
    with EventLog(folder / "log") as log:  # the later log, in the event log's own folder form
        log.append(book.events[book.events["ts"] >= cut].to_dict("records"))
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_retrain_evaluate_and_serve(folder):
    made = run(
        "offers",
        "retrain",
        "--events",
        folder / "old.jsonl",
        "--model",
        folder / "lin",
        "--arms",
        folder / "arms.csv",
        "--members",
        folder / "members.parquet",
    )
    assert made.exit_code == 0, made.output
    assert "Retrained lints on" in made.output and "46 arms, 600 members" in made.output
    again = run(
        "offers",
        "retrain",
        "--events",
        folder / "log",
        "--model",
        folder / "lin",
        "--algorithm",
        "egreedy",
        "--cap-per-week",
        "1",
    )
    assert again.exit_code == 0 and "Retrained egreedy" in again.output, again.output
    judged = run(
        "offers",
        "evaluate",
        "--events",
        folder / "log",
        "--model",
        folder / "lin",
        "--estimators",
        "ipw,dr",
        "--bootstrap",
        "50",
    )
    assert judged.exit_code == 0, judged.output
    lines = judged.output.splitlines()
    assert "logged rounds" in lines[0]
    assert [line.split()[-5] for line in lines[3:]] == ["ipw", "dr", "logged"]
    both = run(
        "offers",
        "evaluate",
        "--events",
        folder / "log",
        "--model",
        folder / "lin",
        "--estimators",
        "dr",
        "--candidates",
        "greedy,uniform",
        "--bootstrap",
        "50",
    )
    assert both.exit_code == 0, both.output
    assert [line.split()[-6:-4] for line in both.output.splitlines()[3:]] == [
        ["greedy", "dr"],
        ["uniform", "dr"],
        ["logged", "logged"],
    ]
    LMDBStore(folder / "store").close()  # serve opens an existing store
    app = app_from_config(
        ServeConfig(
            store=str(folder / "store"),
            offers=str(folder / "lin"),
            decide_key_hashes=(hash_key("decider"),),
        )
    )
    with TestClient(app) as client:
        offer = client.post(
            "/v1/members/om000003/offer?channel=notification", headers={"X-API-Key": "decider"}
        ).json()
    assert offer["arm_id"] == "none" or offer["arm_id"].endswith("/notification")
    # the Offers page judges the model on --offer-log (a file here), read in the background
    # from the server's start: wait for the figures, then visit
    app = app_from_config(
        ServeConfig(
            store=str(folder / "store"),
            offers=str(folder / "lin"),
            offer_log=str(folder / "old.jsonl"),
        )
    )
    with TestClient(app) as client:
        client.app.state.services.offer_page.get()
        page = client.get("/offers").text
    assert "old.jsonl" in page and "Candidate policies" in page and "Greedy on the" in page
    # without --offer-log, on the --events log (here the later one)
    app = app_from_config(
        ServeConfig(
            store=str(folder / "store"), events=str(folder / "log"), offers=str(folder / "lin")
        )
    )
    with TestClient(app) as client:
        client.app.state.services.offer_page.get()
        page = client.get("/offers").text
    assert "the event log" in page and "This model (as it decides now)" in page


def test_serve_names_bad_dashboard_inputs(folder, tmp_path):
    LMDBStore(tmp_path / "store").close()
    base = ("serve", "--store", tmp_path / "store")
    alone = run(*base, "--offer-log", folder / "old.jsonl")
    assert alone.exit_code == 2 and "give --offers" in alone.output
    nowhere = run(*base, "--offers", folder / "lin", "--offer-log", tmp_path / "nope.jsonl")
    assert nowhere.exit_code == 2 and "--offer-log" in nowhere.output
    assert "is neither an event log folder nor a file" in nowhere.output
    held = tmp_path / "held.csv"
    pd.DataFrame({"label": [0, 1, 1], "score": [0.2, 0.7, 1.5], "region": ["a", "b", "a"]}).to_csv(
        held, index=False
    )
    score = run(*base, "--health", held, "--health-groups", "region")
    assert score.exit_code == 2 and "row 2: column 'score' must be a probability" in score.output
    assert "got 1.5" in score.output
    group = run(*base, "--health", held, "--health-groups", "region,segment")
    assert group.exit_code == 2 and "has no column 'segment'" in group.output
    label = run(*base, "--health", held, "--health-label", "clicked")
    assert label.exit_code == 2 and "has no column 'clicked'" in label.output
    model = run(*base, "--model", folder)
    assert model.exit_code == 2 and "is not a saved AccountPrioritizer" in model.output
    courses = tmp_path / "courses.csv"
    pd.DataFrame({"course_id": ["c1"], "name": ["Python"]}).to_csv(courses, index=False)
    titles = run(*base, "--courses", courses)
    assert (
        titles.exit_code == 2 and "has no column 'title'; give course_id and title" in titles.output
    )


def test_error_paths_are_named(folder, tmp_path):
    no_model = run("offers", "retrain", "--events", folder / "old.jsonl", "--model", tmp_path / "x")
    assert no_model.exit_code == 2 and "give --arms and --members" in no_model.output
    no_logs = run(
        "offers",
        "retrain",
        "--events",
        tmp_path / "nope",
        "--model",
        tmp_path / "x",
        "--arms",
        folder / "arms.csv",
        "--members",
        folder / "members.parquet",
    )
    assert no_logs.exit_code == 2 and "is neither an event log folder nor a file" in no_logs.output
    bad_arms = tmp_path / "arms.csv"
    pd.DataFrame({"arm_id": ["a"], "product": ["p"]}).to_csv(bad_arms, index=False)
    arms = run(
        "offers",
        "retrain",
        "--events",
        folder / "old.jsonl",
        "--model",
        tmp_path / "y",
        "--arms",
        bad_arms,
        "--members",
        folder / "members.parquet",
    )
    assert arms.exit_code == 2 and "needs column 'creative'" in arms.output
    assert not (tmp_path / "y" / "offers.json").exists()
    estimators = run(
        "offers",
        "evaluate",
        "--events",
        folder / "log",
        "--model",
        folder / "lin",
        "--estimators",
        "ipw,magic",
    )
    assert estimators.exit_code == 2 and "unknown estimator 'magic'" in estimators.output
    candidates = run(
        "offers",
        "evaluate",
        "--events",
        folder / "log",
        "--model",
        folder / "lin",
        "--candidates",
        "greedy,best",
    )
    assert candidates.exit_code == 2 and "unknown candidate 'best'; use model" in candidates.output
    missing = run("offers", "evaluate", "--events", folder / "log", "--model", tmp_path)
    assert missing.exit_code == 2 and "is not an offer model" in missing.output
    bad_log = tmp_path / "bad.jsonl"
    bad_log.write_text('{"type": "served", "item_type": "offer", "ts": "soon"}\n')
    broken = run("offers", "evaluate", "--events", bad_log, "--model", folder / "lin")
    assert broken.exit_code == 2 and "event row 0: ts 'soon' is not a time" in broken.output
    policy = run(
        "offers",
        "retrain",
        "--events",
        folder / "log",
        "--model",
        folder / "lin",
        "--algorithm",
        "ucb",
    )
    assert policy.exit_code == 2 and "'ucb' is not one of" in policy.output
