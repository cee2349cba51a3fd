"""Spark's Python workers run the driver's interpreter, whatever ``python3`` is on ``PATH``; a
worker that cannot import Lumos is named as such, not as a JVM stack trace."""

from __future__ import annotations

import os
import subprocess
import sys

import xgboost as xgb

from lumos.data.demo import ACCOUNT_FEATURES, accounts, accounts_design_path


def explain_on_spark(tmp_path, env) -> subprocess.CompletedProcess:
    book = accounts(120, random_state=5)
    clf = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(
        book[ACCOUNT_FEATURES], book["upsell"]
    )
    clf.save_model(tmp_path / "model.json")
    book.to_parquet(tmp_path / "book.parquet")
    args = [
        sys.executable,  # as venv/bin/lumos runs, the venv not on PATH
        "-m",
        "lumos.cli",
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
        "--out",
        tmp_path / "n.parquet",
    ]
    return subprocess.run(
        [str(a) for a in args], env=env, capture_output=True, text=True, timeout=300
    )


def bare_path() -> str:
    """PATH without this interpreter's folder: ``python3`` there, if any, is another one."""
    mine = os.path.dirname(sys.executable)
    return os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p and os.path.realpath(p) != mine
    )


def test_workers_run_the_drivers_interpreter_not_the_one_on_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_PYTHON"}
    env["PATH"] = bare_path()
    done = explain_on_spark(tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rows explained on Spark" in done.stdout


def test_a_worker_that_cannot_import_lumos_is_named(tmp_path):
    python = tmp_path / "python-without-packages"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')  # no site-packages
    python.chmod(0o755)
    env = {**os.environ, "PYSPARK_PYTHON": str(python)}
    done = explain_on_spark(tmp_path, env)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "error [spark_worker_env]" in done.stderr
    assert str(python) in done.stderr and sys.executable in done.stderr
    assert "Traceback" not in done.stderr and "Py4J" not in done.stderr
