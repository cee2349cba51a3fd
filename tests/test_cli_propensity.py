"""lumos propensity train | score on files, and their error paths."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lumos.cli import main
from lumos.data.demo import saas


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("propensity")
    book = saas(250, months=27, random_state=6)
    book.contracts.to_parquet(folder / "contracts.parquet")
    book.contracts.to_csv(folder / "contracts.csv", index=False)
    book.usage.to_parquet(folder / "usage.parquet")
    book.firmographics.to_csv(folder / "firmographics.csv", index=False)
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def tables(files, contracts="contracts.parquet"):
    return [
        "--contracts",
        files / contracts,
        "--usage",
        files / "usage.parquet",
        "--firmographics",
        files / "firmographics.csv",
    ]


@pytest.fixture(scope="module")
def trained(files):
    out = files / "model"
    result = run("propensity", "train", *tables(files), "--out", out, "--n-estimators", 40)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_writes_a_model_folder_and_reports(trained):
    out, output = trained
    assert "Trained 5 models on data before 2025-03-02" in output
    assert "product:recruiter" in output and "upsell_roc_auc" in output
    assert (out / "prioritizer.json").exists() and (out / "designs" / "account").is_dir()


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_score_writes_one_row_per_account_and_product(files, trained, tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    result = run(
        "propensity",
        "score",
        "--model",
        trained[0],
        *tables(files, "contracts.csv"),
        "--as-of",
        "2025-03-01",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "rows scored on 2025-03-01" in result.output
    read = {".parquet": pd.read_parquet, ".csv": pd.read_csv}.get(suffix)
    table = read(out) if read else pd.read_json(out, lines=True)
    assert {"account_id", "product", "predicted_change", "score", "class", "why_usage"} <= set(
        table.columns
    )
    assert table["class"].isin(["upsell", "flat", "churn"]).all()
    assert table["predicted_change"].is_monotonic_decreasing  # the largest gain first
    top = table[table["product"].isna()].iloc[0]
    assert f"Largest predicted change: account {top['account_id']}, " in result.output


def test_bad_input_gives_one_clear_line(files, trained, tmp_path):
    bad = pd.read_csv(files / "contracts.csv")
    bad.loc[7, "quantity"] = -3
    bad.to_csv(tmp_path / "bad.csv", index=False)
    out = tmp_path / "model"
    result = run(
        "propensity",
        "train",
        "--contracts",
        tmp_path / "bad.csv",
        "--usage",
        files / "usage.parquet",
        "--out",
        out,
    )
    assert result.exit_code == 2
    assert f"file '{tmp_path / 'bad.csv'}': contracts row 7, column 'quantity'" in result.output
    assert not out.exists()  # nothing written
    scores = tmp_path / "scores.csv"
    cases = [
        (["--model", tmp_path, "--as-of", "2025-03-01"], "not a saved AccountPrioritizer"),
        (["--model", trained[0], "--as-of", "March"], "'March' is not a date"),
        (["--model", trained[0], "--as-of", "2025-03-02"], "first day of a month"),
        (["--model", trained[0], "--as-of", "1990-01-01"], "No account is under contract"),
    ]
    for args, message in cases:
        result = run("propensity", "score", *args, *tables(files), "--out", scores)
        assert result.exit_code == 2 and message in result.output, result.output
        assert not scores.exists()
    result = run(
        "propensity",
        "score",
        "--model",
        trained[0],
        *tables(files),
        "--as-of",
        "2025-03-01",
        "--out",
        tmp_path / "scores.xlsx",
    )
    assert result.exit_code == 2 and ".parquet, .csv or .jsonl" in result.output
    result = run("propensity", "train", *tables(files), "--out", trained[0])
    assert result.exit_code == 2 and "pass --overwrite" in result.output
    result = run(
        "propensity",
        "train",
        "--contracts",
        files / "missing.csv",
        "--usage",
        files / "usage.parquet",
        "--out",
        tmp_path / "m2",
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_a_purchase_log_trains_scores_and_narrates(files, tmp_path):
    book = saas(250, months=27, random_state=6)
    rng = np.random.default_rng(2)
    health = book.health
    rows = health.loc[health.index.repeat(rng.poisson(0.4 * np.exp(health["health"])))]
    days = pd.to_timedelta(rng.integers(0, 28, len(rows)), unit="D")
    log = pd.DataFrame({"account_id": rows["account_id"], "date": rows["month"] + days})
    log.to_csv(tmp_path / "purchases.csv", index=False)  # dates as text, read as dates
    out, scores = tmp_path / "model", tmp_path / "scores.csv"
    bought = ["--purchases", tmp_path / "purchases.csv"]
    result = run("propensity", "train", *tables(files), *bought, "--out", out, "--n-estimators", 30)
    assert result.exit_code == 0, result.output
    score = ["propensity", "score", "--model", out, *tables(files), "--as-of", "2025-03-01"]
    result = run(*score, *bought, "--out", scores)
    assert result.exit_code == 0, result.output
    assert (pd.read_csv(scores, keep_default_na=False)["why_purchases"] != "").any()
    result = run(*score, "--out", tmp_path / "again.csv")  # without the log it was trained on
    assert result.exit_code == 2 and "fitted with purchases" in result.output
    text = pd.read_csv(tmp_path / "purchases.csv")  # dates as strings
    text.loc[5, "date"] = "soon"
    text.to_csv(tmp_path / "purchases.csv", index=False)
    result = run(*score, *bought, "--out", tmp_path / "again.csv")
    assert result.exit_code == 2 and f"file '{tmp_path / 'purchases.csv'}'" in result.output
