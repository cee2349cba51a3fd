"""Narratives on a local Spark equal the local engine's, byte for byte."""

import pandas as pd
import pytest
import xgboost as xgb

from lumos.data.demo import ACCOUNT_FEATURES, accounts, accounts_design_path
from lumos.errors import LumosUserError
from lumos.explain import InsightsDesign, import_model
from lumos.explain._pipeline import explain_table

pytest.importorskip("pyspark")


def test_spark_narratives_equal_the_local_engine(spark):
    from lumos.spark import explain

    book = accounts(600, random_state=3)
    model = import_model(
        xgb.XGBClassifier(n_estimators=40, max_depth=4).fit(book[ACCOUNT_FEATURES], book["upsell"])
    )
    design = InsightsDesign.load(accounts_design_path())
    local, scores, _ = explain_table(model, book, design, id_column="account_id", top_k=3)
    frame = spark.createDataFrame(book).repartition(3)
    narratives, spark_scores = explain(frame, model, design, id_column="account_id", top_k=3)
    got = narratives.toPandas()
    keys = ["row", "rank"] if "rank" in local.columns else ["row", "text"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = local.sort_values(keys).reset_index(drop=True)
    assert len(got) == len(want) > 600
    pd.testing.assert_frame_equal(
        got[want.columns].astype(object), want.astype(object), check_dtype=False
    )
    assert (got["text"] == want["text"]).all()  # the sentences, byte for byte
    s = spark_scores.toPandas().set_index("account_id")["score"]
    pd.testing.assert_series_equal(
        s.loc[scores.index.astype(str)].reset_index(drop=True),
        pd.Series(scores.to_numpy(), name="score"),
        check_names=False,
    )


def test_whole_table_methods_stay_local(spark):
    from lumos.spark import explain

    book = accounts(50, random_state=1)
    from sklearn.linear_model import LogisticRegression

    book = book.fillna(0.0)
    model = import_model(
        LogisticRegression(max_iter=5000).fit(book[ACCOUNT_FEATURES], book["upsell"])
    )
    design = InsightsDesign.load(accounts_design_path())
    with pytest.raises(LumosUserError, match="reads the whole table"):
        explain(spark.createDataFrame(book), model, design, id_column="account_id")


def test_the_command_line_runs_on_spark_and_names_bad_input(spark, tmp_path):
    from click.testing import CliRunner

    from lumos.cli import main

    book = accounts(300, random_state=5)
    clf = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(
        book[ACCOUNT_FEATURES], book["upsell"]
    )
    clf.save_model(tmp_path / "model.json")
    book.to_parquet(tmp_path / "book.parquet")
    args = [
        "explain",
        "run",
        "--model",
        tmp_path / "model.json",
        "--data",
        tmp_path / "book.parquet",
        "--design",
        accounts_design_path(),
        "--id-column",
        "account_id",
        "--engine",
        "spark",
    ]
    run = CliRunner().invoke(main, [str(a) for a in [*args, "--out", tmp_path / "n.parquet"]])
    assert run.exit_code == 0, run.output
    assert "300 rows explained on Spark" in run.output
    written = pd.read_parquet(tmp_path / "n.parquet")
    local = CliRunner().invoke(main, [str(a) for a in [*args[:-2], "--out", tmp_path / "l.jsonl"]])
    assert local.exit_code == 0, local.output
    import json

    with open(tmp_path / "l.jsonl") as fh:
        local_texts = sorted(n["text"] for line in fh for n in json.loads(line)["narratives"])
    assert sorted(written["text"]) == local_texts and len(local_texts) > 300
    again = CliRunner().invoke(main, [str(a) for a in [*args, "--out", tmp_path / "n.parquet"]])
    assert again.exit_code == 2 and "exists" in again.output
    csv = CliRunner().invoke(main, [str(a) for a in [*args, "--out", tmp_path / "n.csv"]])
    assert csv.exit_code == 2 and "writes a .parquet folder" in csv.output
