"""A Spark session for Lumos's jobs: a real cluster's, or ``local[2]`` on one machine."""

from __future__ import annotations

import os
import shutil

from lumos.errors import LumosUserError


def _pyspark():
    try:
        import pyspark
    except ImportError:  # pragma: no cover - depends on the machine
        raise LumosUserError(
            "the Spark engine needs PySpark; install it with: pip install 'lumos[spark]' (and a "
            "Java 17+ runtime: apt-get install default-jre-headless)",
            code="missing_dependency",
        ) from None
    return pyspark


def session(master: str | None = None, *, app_name: str = "lumos", **conf):
    """The active Spark session, or a new one on ``master`` (default ``local[2]``).

    Arrow moves pandas batches between the JVM and Python (``mapInPandas``,
    ``applyInPandas``); the UI is off and shuffles are small, as suits tests
    and a single machine — on a cluster, ``spark-submit`` sets these.
    """
    _pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # one machine: bind to loopback
    if shutil.which("java") is None:
        raise LumosUserError(
            "the Spark engine needs a Java 17+ runtime on PATH (apt-get install "
            "default-jre-headless).",
            code="missing_dependency",
        )
    builder = (
        SparkSession.builder.master(master or "local[2]")
        .appName(app_name)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")  # months and cutoffs as written
    )
    for key, value in conf.items():
        builder = builder.config(key.replace("_", "."), value)
    return builder.getOrCreate()
