"""Course scoring and publishing on Spark: members scored on executors, records written in parallel.

The recommenders are fitted once on the driver
(:func:`lumos.recommend.fit_course_models`) and broadcast. Members are split
into partitions; each batch of members is scored by every model (candidates,
dot products, top K, reasons — the local engine's own code, which gives a
member the same list in any batch), and, to publish, built into compact
records and written straight from the executor into the new version's Redis
hash. The driver then switches the store to that version in one transaction,
exactly as a local publish does: readers see the old version until the switch.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from lumos._checks import check_fitted
from lumos.errors import LumosUserError
from lumos.recommend import member_treatments
from lumos.store import (
    COLD_START,
    RedisStore,
    build_records,
    check_version,
    new_version,
    write_records,
)

LIST_COLUMNS = ["model_id", "member_id", "rank", "course_id", "score", "reason", "reason_text"]
LIST_SCHEMA = (
    "model_id string, member_id string, rank long, course_id string, score double, "
    "reason string, reason_text string"
)


def course_lists(
    recommenders: dict,
    *,
    members=None,
    cold_start: pd.DataFrame | None = None,
    partitions: int | None = None,
    spark=None,
):
    """Every model's lists as one Spark DataFrame (``model_id`` and the local columns).

    Parameters
    ----------
    recommenders : dict of {str: CourseRecommender}
        Fitted recommenders by model id (:func:`lumos.recommend.fit_course_models`).
    members : sequence of str, optional
        Only these members (default: every member of the recommenders' tables).
    cold_start : DataFrame, optional
        The cold-start list, added under model id ``cold_start``.
    partitions : int, optional
        Member partitions (default: twice the cluster's parallelism).
    spark : SparkSession, optional
    """
    from lumos.spark._session import session

    spark = spark or session()
    ids, positions = _members(spark, recommenders, members, partitions)
    # the ids travel once per executor, not with every task
    shipped = spark.sparkContext.broadcast((_shippable(recommenders), ids))

    def score(batches):
        recs, every = shipped.value
        for batch in batches:
            members = every[batch["id"].to_numpy()]
            for model, rec in recs.items():
                yield rec.recommend(members).assign(model_id=model)[LIST_COLUMNS]

    lists = positions.mapInPandas(score, LIST_SCHEMA)
    if cold_start is not None:
        cold = cold_start.assign(model_id=COLD_START)[LIST_COLUMNS]
        lists = lists.unionByName(spark.createDataFrame(cold, LIST_SCHEMA))
    return lists


def publish_course_lists(
    store,
    recommenders: dict,
    *,
    members=None,
    cold_start: pd.DataFrame | None = None,
    router=None,
    version: str | None = None,
    partitions: int | None = None,
    spark=None,
) -> dict:
    """Score every member on the executors and publish the records into Redis as one version.

    The records are those :func:`lumos.recommend.publish_lists` publishes
    (each member's treatment only, with a ``router``), byte for byte. A job
    that fails leaves the live version as it was; the next publish removes
    what it wrote.

    Parameters
    ----------
    store : RedisStore or str
        The store, or its ``redis://`` URL. Executors connect to the same URL.
    recommenders, members, cold_start, partitions, spark
        As in :func:`course_lists`.
    router : ModelRouter, optional
        Which model serves each member (see :func:`lumos.recommend.publish_lists`).
    version : str, optional
        Default: a new version name.

    Returns
    -------
    dict
        ``version``, and the ``members``, list ``rows`` and record ``bytes`` written.
    """
    from pyspark.sql import functions as F

    from lumos.spark._session import session

    spark = spark or session()
    ids, positions = _members(spark, recommenders, members, partitions)
    if isinstance(store, str) and store.startswith(("redis://", "rediss://", "unix://")):
        with RedisStore(store) as own:
            return publish_course_lists(
                own,
                recommenders,
                members=members,
                cold_start=cold_start,
                router=router,
                version=version,
                partitions=partitions,
                spark=spark,
            )
    if not isinstance(store, RedisStore):
        raise LumosUserError(
            "The Spark engine publishes to a Redis store, which every executor writes to; got "
            f"{type(store).__name__}. Pass a RedisStore or a redis:// URL (an LMDB store is "
            "published by the local engine).",
            code="bad_argument",
        )
    version = new_version() if version is None else check_version(version)
    key = store.begin(version)
    url = store.url
    shipped = spark.sparkContext.broadcast((_shippable(recommenders), router, ids))

    def write(batches):
        import redis

        recs, route, every = shipped.value
        client = redis.Redis.from_url(url)
        try:
            for batch in batches:
                members = every[batch["id"].to_numpy()]
                lists = {model: rec.recommend(members) for model, rec in recs.items()}
                rows = sum(len(t) for t in lists.values())
                records = build_records(
                    lists, version=version, treatments=member_treatments(route, members)
                )
                write_records(client, key, records.member_ids, records.values)
                yield pd.DataFrame(
                    {
                        "members": [len(records)],
                        "rows": [rows],
                        "bytes": [sum(map(len, records.values))],
                    }
                )
        finally:
            client.close()

    schema = "members long, rows long, bytes long"
    written = positions.mapInPandas(write, schema).agg(
        *(F.coalesce(F.sum(c), F.lit(0)).alias(c) for c in ("members", "rows", "bytes"))
    )
    totals = written.first().asDict()
    if cold_start is not None:
        cold = build_records(
            {COLD_START: cold_start}, version=version, treatments=member_treatments(router, [])
        )
        write_records(store._r, key, cold.member_ids, cold.values)
        totals["members"] += len(cold)
        totals["rows"] += len(cold_start)
        totals["bytes"] += sum(map(len, cold.values))
    store.commit(version, count=totals["members"])  # a Redis that lost records: refused
    return {"version": version, **{k: int(v) for k, v in totals.items()}}


def _shippable(recommenders: dict) -> dict:
    """The fitted recommenders without what fitted them (a GLMix fitter holds the session)."""
    out = {}
    for model, rec in recommenders.items():
        out[model] = copy.copy(rec)
        out[model].glmix_fitter = None
    return out


def _check_recommenders(recommenders):
    if not isinstance(recommenders, dict) or not recommenders:
        raise LumosUserError(
            "recommenders must be a dict {model_id: fitted CourseRecommender} "
            "(lumos.recommend.fit_course_models); got "
            f"{type(recommenders).__name__}.",
            code="bad_argument",
        )
    for model, rec in recommenders.items():
        check_fitted(rec, "reasons_", what=f"the recommender of model {model!r}")


def _members(spark, recommenders, members, partitions):
    """The members' ids and a Spark DataFrame of their positions, ``partitions`` ranges."""
    _check_recommenders(recommenders)
    first = next(iter(recommenders.values()))
    ids = first.members_["member_id"].to_numpy(dtype=object)
    if members is not None:
        if isinstance(members, str):
            raise LumosUserError(
                f"members must be a list of member ids, not one id. Got {members!r}.",
                code="bad_argument",
            )
        wanted = np.asarray(list(members), dtype=object)
        known = pd.Index(ids).get_indexer(wanted)
        if (known < 0).any():
            bad = wanted[np.argmax(known < 0)]
            raise LumosUserError(
                f"member {bad!r} is not in the members table; check the id.", code="unknown_id"
            )
        ids = wanted
    if partitions is None:
        partitions = 2 * spark.sparkContext.defaultParallelism
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise LumosUserError(
            f"partitions must be an int >= 1. Got {partitions!r}.", code="bad_argument"
        )
    return ids, spark.range(0, len(ids), numPartitions=min(partitions, max(len(ids), 1)))
