"""Where a batch job runs: ``engine="local"`` (NumPy and XGBoost on this machine, the
default) or ``engine="spark"`` (Apache Spark, ``pip install 'lumos[spark]'``).

A library function that runs on either engine takes ``engine=`` and, for
Spark, hands the job to the function of the same name and signature in
:mod:`lumos.spark.engine`, loaded here by name at that moment. No package
imports ``lumos.spark``, so nothing depends on PySpark until a job asks for it.
"""

from __future__ import annotations

import importlib

from lumos.errors import LumosUserError

ENGINES = ("local", "spark")


def check_engine(engine: str) -> str:
    """``engine`` when it is one Lumos runs on; else ``bad_argument``.

    >>> check_engine("spark")
    'spark'
    >>> check_engine("dask")
    Traceback (most recent call last):
    lumos.errors.LumosUserError: engine must be 'local' or 'spark'; got 'dask'.
    """
    if engine not in ENGINES:
        raise LumosUserError(
            f"engine must be 'local' or 'spark'; got {engine!r}.", code="bad_argument"
        )
    return engine


def spark_job(name: str):
    """The Spark engine's function ``name`` (same signature as the local one)."""
    module = importlib.import_module("lumos.spark.engine")
    return getattr(module, name)
