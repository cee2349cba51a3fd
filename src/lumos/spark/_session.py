"""A Spark session for Lumos's jobs: a real cluster's, or ``local[2]`` on one machine."""

from __future__ import annotations

import os
import re
import shutil
import sys

from lumos.errors import LumosUserError

#: Where a worker's Python comes from, in the order Spark reads them.
PYTHON_CONF = "spark.pyspark.python"


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
    and a single machine — on a cluster, ``spark-submit`` sets these. On a
    local master the Python workers run this interpreter (``sys.executable``),
    not whatever ``python3`` is first on ``PATH``, unless ``PYSPARK_PYTHON`` or
    ``spark.pyspark.python`` says otherwise.
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
    conf = {key.replace("_", "."): value for key, value in conf.items()}
    local = (master or "local[2]").startswith("local")
    if local and PYTHON_CONF not in conf and not os.environ.get("PYSPARK_PYTHON"):
        conf[PYTHON_CONF] = sys.executable  # the driver's interpreter, which has Lumos
    for key, value in conf.items():
        builder = builder.config(key, value)
    made = builder.getOrCreate()
    _check_workers(made)
    return made


def worker_env_error(exc: BaseException) -> LumosUserError | None:
    """The clear error for a Spark job whose Python workers could not import a module (a
    worker interpreter without Lumos or its dependencies), or None for any other error."""
    if type(exc).__module__.split(".")[0] not in ("py4j", "pyspark"):
        return None
    missing = re.search(r"ModuleNotFoundError: No module named '([^']+)'", str(exc))
    if missing is None:
        return None
    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
    except Exception:  # the session may be gone with the error
        active = None
    return _worker_error(active, missing[1])


def _worker_error(spark, module: str) -> LumosUserError:
    python = os.environ.get("PYSPARK_PYTHON")
    if spark is not None:
        python = spark.conf.get(PYTHON_CONF, None) or python
    named = python or "the python3 first on PATH"
    return LumosUserError(
        f"Spark's Python workers run {named}, which cannot import {module!r}. Point "
        f"PYSPARK_PYTHON (or the spark.pyspark.python setting) at an interpreter with Lumos "
        f"installed — this one is {sys.executable} — or install Lumos into {named}.",
        code="spark_worker_env",
    )


def _check_workers(spark) -> None:
    """Fail at once, with the interpreter named, when the workers cannot import Lumos — not
    halfway through a job, under a JVM stack trace."""

    def probe(_):  # local: shipped by value, so a worker without Lumos can still run it
        for name in ("numpy", "pandas", "pyarrow", "lumos"):
            try:
                __import__(name)
            except ImportError:
                return name
        return None

    missing = spark.sparkContext.parallelize([0], 1).map(probe).collect()[0]
    if missing is not None:
        raise _worker_error(spark, missing)
