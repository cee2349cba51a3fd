"""lumos recommend courses on a folder of tables, and its error paths."""

import pandas as pd
import pytest
from click.testing import CliRunner

from lumos.cli import main
from lumos.data.demo import learning

TABLES = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learning")
    book = learning(200, 80, days=21, random_state=7)
    for name in TABLES:
        table = getattr(book, name)
        if name == "skills":
            table.to_csv(folder / f"{name}.csv", index=False)
        else:
            table.to_parquet(folder / f"{name}.parquet")
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_recommend_courses_writes_reasons(folder, tmp_path, suffix):
    out = tmp_path / f"recs{suffix}"
    result = run(
        "recommend",
        "courses",
        "--tables",
        folder,
        "--as-of",
        "2025-01-22",
        "--top-k",
        4,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "800 recommendations for 200 members" in result.output
    read = {".parquet": pd.read_parquet, ".csv": pd.read_csv}.get(suffix)
    table = read(out) if read else pd.read_json(out, lines=True)
    assert list(table.columns) == [
        "member_id",
        "rank",
        "course_id",
        "score",
        "reason",
        "reason_text",
    ]
    one = run(
        "recommend",
        "courses",
        "--tables",
        folder,
        "--as-of",
        "2025-01-22",
        "--member",
        "M000003",
        "--scorer",
        "affinity",
        "--out",
        tmp_path / "one.csv",
    )
    assert one.exit_code == 0 and "for 1 members" in one.output


def test_bad_input(folder, tmp_path):
    out = tmp_path / "recs.csv"
    cases = [
        (["--tables", tmp_path / "none"], "does not exist"),
        (["--tables", tmp_path], "has no members table; add members.parquet"),
        (["--tables", folder, "--member", "nobody"], "'nobody' is not in the members table"),
        (["--tables", folder, "--as-of", "soon"], "'soon' is not a date"),
    ]
    for args, message in cases:
        full = ["recommend", "courses", "--as-of", "2025-01-22", *args, "--out", out]
        result = run(*full)
        assert result.exit_code == 2 and message in result.output, result.output
        assert not out.exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in TABLES:
        src = folder / f"{name}.parquet"
        table = pd.read_parquet(src) if src.exists() else pd.read_csv(folder / f"{name}.csv")
        if name == "interactions":
            table.loc[5, "type"] = "view"
        table.to_parquet(bad / f"{name}.parquet")
    result = run("recommend", "courses", "--tables", bad, "--as-of", "2025-01-22", "--out", out)
    assert result.exit_code == 2
    assert "interactions row 5, column 'type': 'view' is not one of" in result.output
    result = run(
        "recommend",
        "courses",
        "--tables",
        folder,
        "--as-of",
        "2025-01-22",
        "--out",
        tmp_path / "r.xlsx",
    )
    assert result.exit_code == 2 and ".parquet, .csv or .jsonl" in result.output


def test_publish_then_bad_publish_and_serve_options(folder, tmp_path):
    from lumos.store import LMDBStore

    config = tmp_path / "experiments.yaml"
    config.write_text(
        "experiments:\n  course_ranker:\n    unit: member_id\n    variants:\n"
        "      a: {weight: 1, payload: {models: [affinity]}}\n"
        "      g: {weight: 1, payload: {models: [glmix]}}\n"
    )
    store = tmp_path / "store"
    args = [
        "recommend",
        "publish",
        "--tables",
        folder,
        "--as-of",
        "2025-01-22",
        "--store",
        store,
        "--top-k",
        5,
        "--experiments",
        config,
        "--experiment",
        "course_ranker",
    ]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "200 members, each with the list of their treatment's model" in result.output
    with LMDBStore(store, readonly=True) as s:
        assert s.get("M000001") is not None and len(s.versions()) == 1
    unknown = run(*args[:-1], "nope")
    assert unknown.exit_code == 2 and "experiment 'nope' is not in the config" in unknown.output
    half = run(*args[:-2])
    assert half.exit_code == 2 and "--experiments and --experiment together" in half.output
    missing = run("serve", "--store", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "Cannot open the LMDB store" in missing.output
    pd.DataFrame({"account": ["A1"]}).to_csv(tmp_path / "scores.csv", index=False)
    bad = run("serve", "--store", store, "--insights", tmp_path / "scores.csv")
    assert bad.exit_code == 2 and "has no column 'account_id'" in bad.output
    pd.DataFrame({"course_id": ["C1"]}).to_csv(tmp_path / "cs.csv", index=False)
    bad = run("serve", "--store", store, "--course-skills", tmp_path / "cs.csv")
    assert bad.exit_code == 2 and "has no column 'skill'" in bad.output
    no_key = run("serve", "--store", store, "--read-keys")
    assert no_key.exit_code == 2 and "no key is configured" in no_key.output
    slow = run("serve", "--store", store, "--flush-ms", 0)
    assert slow.exit_code == 2 and "--flush-ms" in slow.output


def test_events_convert_writes_legacy_tables_beside_a_writer(tmp_path):
    from lumos.events import EventLog, served_lines

    def action(i, name, **more):
        return {
            "event_id": f"a{i}",
            "tracking_id": "t1",
            "type": "action",
            "action": name,
            "member_id": "M1",
            "item_id": f"C{i}",
            "item_type": "course",
            "ts": 1735787045 + i,
            **more,
        }

    with EventLog(tmp_path / "log") as log:  # a server holds the writer's lock all along
        log.append_served(served_lines("M1", [("s1", "t1", "C1", 0)], ts=1735787040))
        log.append([action(1, "click"), action(2, "watch", value=120.0), action(3, "follow")])
        with open(log.folder / "segment-00000001.jsonl", "ab") as f:
            f.write(b'{"event_id":"half')  # a line being written: not read yet
        out = tmp_path / "legacy"
        result = run("events", "convert", "--events", log.folder, "--out", out, "--format", "csv")
        assert result.exit_code == 0, result.output
        assert "4 events" in result.output
    names = sorted(p.name for p in out.iterdir())
    kinds = ("click", "follow", "impression", "interactions", "served", "watch")
    assert names == [f"{n}.csv" for n in kinds]
    interactions = pd.read_csv(out / "interactions.csv")
    assert interactions["type"].tolist() == ["click", "watch"]
    assert interactions["seconds"].tolist() == [0.0, 120.0]
    assert pd.read_csv(out / "served.csv")["item_id"].tolist() == ["C1"]
    missing = run("events", "convert", "--events", tmp_path / "nowhere", "--out", out)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert not (tmp_path / "nowhere").exists()
    fmt = run("events", "convert", "--events", tmp_path / "log", "--out", out, "--format", "xls")
    assert fmt.exit_code == 2 and "'xls' is not one of" in fmt.output
