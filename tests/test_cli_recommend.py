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
    book = learning(200, 80, days=21, seed=7)
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
        "recommend", "courses", "--tables", folder, "--as-of", "2025-01-22", "--k", 4, "--out", out
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
        "--k",
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
