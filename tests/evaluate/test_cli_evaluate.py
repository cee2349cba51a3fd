"""lumos evaluate slices | fairness | abtest on files, their HTML reports and error paths."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lumos.cli import main
from lumos.events import EventLog


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def predictions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    rng = np.random.default_rng(0)
    n = 5000
    df = pd.DataFrame(
        {
            "industry": rng.choice(["Retail", "Software", "Finance"], n),
            "gender": rng.choice(["F", "M"], n),
            "tenure": rng.exponential(10, n),
        }
    )
    p = 1 / (1 + np.exp(-rng.normal(size=n)))
    df["label"] = (rng.random(n) < p).astype(int)
    wrong = (df["industry"] == "Retail").to_numpy()
    df["score"] = np.where(wrong, 1 - p, p)
    df.to_parquet(folder / "pred.parquet")
    return folder


def test_slices_and_fairness_print_tables_and_write_reports(predictions, tmp_path):
    found = run(
        "evaluate",
        "slices",
        "--data",
        predictions / "pred.parquet",
        "--label",
        "label",
        "--score",
        "score",
        "--features",
        "industry,tenure",
        "--max-order",
        2,
        "--out",
        tmp_path / "slices.html",
    )
    assert found.exit_code == 0, found.output
    assert "industry = Retail" in found.output.splitlines()[1]
    assert "• Log loss is" in found.output
    page = (tmp_path / "slices.html").read_text()
    assert "<svg" in page and "industry = Retail" in page and "http" not in page
    fair = run(
        "evaluate",
        "fairness",
        "--data",
        predictions / "pred.parquet",
        "--label",
        "label",
        "--score",
        "score",
        "--groups",
        "gender,industry",
        "--bootstrap",
        50,
        "--out",
        tmp_path / "fair.html",
    )
    assert fair.exit_code == 0, fair.output
    assert "calibration" in fair.output and (tmp_path / "fair.html").stat().st_size > 2000


def test_slices_rank_by_sliceline_prints_its_score(predictions, tmp_path):
    args = ["evaluate", "slices", "--data", predictions / "pred.parquet"]
    args += ["--label", "label", "--score", "score", "--features", "industry,tenure"]
    found = run(*args, "--rank-by", "sliceline", "--sliceline-alpha", 0.95)
    assert found.exit_code == 0, found.output
    header = found.output.splitlines()[0].split()
    assert header[-1] == "score" and "industry = Retail" in found.output.splitlines()[1]
    effect = run(*args)
    assert effect.output.splitlines()[0].split()[-1] == "p_adjusted"
    bad = run(*args, "--rank-by", "sliceline", "--metric", "calibration_gap")
    assert bad.exit_code == 2 and "calibration_gap" in bad.output
    alpha = run(*args, "--rank-by", "sliceline", "--sliceline-alpha", 0)
    assert alpha.exit_code == 2 and "--sliceline-alpha" in alpha.output


def test_abtest_reads_an_event_log(tmp_path):
    rng = np.random.default_rng(1)
    events = []
    for i in range(2000):
        t = "B" if i % 2 else "A"
        base = {"tracking_id": f"t{i}", "member_id": f"m{i}", "item_id": "c", "ts": 1.7e9}
        events.append({**base, "event_id": f"s{i}", "type": "served", "treatment": t})
        if rng.random() < (0.2 if t == "B" else 0.1):
            events.append({**base, "event_id": f"c{i}", "type": "action", "action": "click"})
    with EventLog(tmp_path / "log") as log:
        log.append(events)
    result = run(
        "evaluate",
        "abtest",
        "--events",
        tmp_path / "log",
        "--control",
        "A",
        "--out",
        tmp_path / "ab.html",
    )
    assert result.exit_code == 0, result.output
    assert "ctr" in result.output and "members per treatment" in result.output
    assert (tmp_path / "ab.html").exists()


def test_error_paths_are_named(predictions, tmp_path):
    missing = run(
        "evaluate",
        "slices",
        "--data",
        predictions / "pred.parquet",
        "--label",
        "y",
        "--score",
        "score",
    )
    assert missing.exit_code == 2 and "has no column 'y'" in missing.output
    nofile = run(
        "evaluate",
        "fairness",
        "--data",
        tmp_path / "none.csv",
        "--label",
        "label",
        "--score",
        "score",
        "--groups",
        "gender",
    )
    assert nofile.exit_code == 2 and "does not exist" in nofile.output
    group = run(
        "evaluate",
        "fairness",
        "--data",
        predictions / "pred.parquet",
        "--label",
        "label",
        "--score",
        "score",
        "--groups",
        "race",
    )
    assert group.exit_code == 2 and "no column 'race'" in group.output
    nolog = run("evaluate", "abtest", "--events", tmp_path / "nolog")
    assert nolog.exit_code == 2 and "neither an event log folder nor a file" in nolog.output
    assert not (tmp_path / "slices.html").exists()
