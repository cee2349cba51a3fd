"""The Spark engine's jobs, with the signatures and return types of the local ones.

``lumos.explain.explain_table(..., engine="spark")``,
``lumos.recommend.course_lists(..., engine="spark")`` and
``lumos.recommend.publish_courses(..., engine="spark")`` hand their work to the
function of the same name here; call these directly only to skip that step.
Each takes ``spark`` (a session; default the active one, or ``local[2]``).
"""

from __future__ import annotations

from pathlib import Path

from lumos._targets import parse_target
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import Explained, resolve_method
from lumos.recommend import SCORERS, fit_course_models
from lumos.spark._explain import explain
from lumos.spark._glmix import glmix_fitter
from lumos.spark._recommend import course_lists as _lists
from lumos.spark._recommend import publish_course_lists
from lumos.spark._session import session
from lumos.store import COLD_START, RedisStore


def explain_table(
    model,
    data,
    design,
    *,
    id_column=None,
    method="auto",
    top_k=5,
    direction="auto",
    random_state=0,
    source="data",
    spark=None,
) -> Explained:
    """:func:`lumos.explain.explain_table` on Spark: ``data`` is a Spark DataFrame, a pandas
    one, or the path of a .parquet file or folder or a .csv file; the narratives and scores
    are lazy Spark DataFrames. Exact TreeSHAP only (``random_state`` changes nothing)."""
    if id_column is None:
        raise LumosUserError(
            "the Spark engine needs id_column: the column that identifies rows.",
            code="bad_argument",
        )
    spark = spark or session()
    frame = read_frame(spark, data, source)
    narratives, scores = explain(
        frame,
        model,
        design,
        id_column=id_column,
        method=method,
        top_k=top_k,
        direction=direction,
    )
    return Explained(narratives, scores, resolve_method(model, method))


def course_lists(
    tables,
    *,
    as_of,
    models=SCORERS,
    top_k: int = 50,
    random_state: int = 0,
    members=None,
    spark=None,
) -> dict:
    """:func:`lumos.recommend.course_lists` on Spark: each model's GLMix fitted on Spark and
    every member scored on the executors; ``{model_id: Spark DataFrame}``, ``cold_start`` too."""
    spark = spark or session()
    recommenders, cold = fit_course_models(
        tables,
        as_of=as_of,
        models=models,
        top_k=top_k,
        random_state=random_state,
        glmix_fitter=glmix_fitter(spark),
    )
    lists = _lists(recommenders, members=members, cold_start=cold, spark=spark)
    return {
        model: lists.filter(lists["model_id"] == model).drop("model_id")
        for model in [*recommenders, COLD_START]
    }


def publish_courses(
    store,
    tables,
    *,
    as_of,
    models=SCORERS,
    top_k: int = 50,
    random_state: int = 0,
    router=None,
    version: str | None = None,
    keep: int = 3,
    spark=None,
) -> dict:
    """:func:`lumos.recommend.publish_courses` on Spark: members scored on the executors and
    their records written from there into Redis, switched live in one transaction.

    ``store`` must be a Redis store or URL (every executor writes to it); that is
    checked before anything is fitted.
    """
    url = redis_url(store)
    if isinstance(store, str | Path):
        with RedisStore(url, keep=keep) as opened:
            return publish_courses(
                opened,
                tables,
                as_of=as_of,
                models=models,
                top_k=top_k,
                random_state=random_state,
                router=router,
                version=version,
                spark=spark,
            )
    spark = spark or session()
    recommenders, cold = fit_course_models(
        tables,
        as_of=as_of,
        models=models,
        top_k=top_k,
        random_state=random_state,
        glmix_fitter=glmix_fitter(spark),
    )
    report = publish_course_lists(
        store, recommenders, cold_start=cold, router=router, version=version, spark=spark
    )
    members = report["members"] - 1  # the cold-start record is no member
    return {"version": report["version"], "members": members, "versions": store.versions()}


def redis_url(store) -> str:
    """The Redis URL of ``store`` (a RedisStore or a URL); anything else is an error, since
    every executor writes to the store."""
    url = str(store) if isinstance(store, str | Path) else getattr(store, "url", None)
    if url is None or not parse_target(url, what="store").is_redis:
        raise LumosUserError(
            "the Spark engine publishes to Redis (every executor writes to it); give "
            "redis://host:port/db, or use the local engine for an LMDB folder "
            f"(got {type(store).__name__ if url is None else repr(url)}).",
            code="bad_argument",
        )
    return url


def read_frame(spark, data, source: str = "data"):
    """A Spark DataFrame of ``data`` (a Spark or pandas DataFrame, or a .parquet file or
    folder or a .csv file Spark reads); ``source`` names it in an error."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return spark.createDataFrame(data)
    if not isinstance(data, str | Path):
        return data
    path, suffix = str(data), Path(data).suffix.lower()
    if not Path(path).exists() or suffix not in (".parquet", ".csv"):
        where = source if path in source else f"{source} {path!r}"
        raise DataValidationError(
            f"{where}: the Spark engine reads an existing .parquet file or folder, or a .csv file.",
            code="file_not_found" if not Path(path).exists() else "unknown_format",
            file=path,
        )
    if suffix == ".parquet":
        return spark.read.parquet(path)
    return spark.read.csv(path, header=True, inferSchema=True)
