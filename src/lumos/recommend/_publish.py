"""Offline scoring into the online store: every model's lists, filtered by treatment, published.

:func:`course_lists` runs the course recommender once per model (the scorers
``glmix`` and ``affinity``) and adds the cold-start list — the most popular
courses, for members the store has nothing for. :func:`publish_lists` builds
one compact record per member holding only the lists of the models the
member's experiment treatment can serve, and publishes them as one version;
:func:`publish_courses` does both. Both run on this machine or on Spark
(``engine="spark"``).
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pandas as pd

from lumos._checks import renamed
from lumos._engines import check_engine, spark_job
from lumos.errors import LumosUserError
from lumos.recommend._courses import CourseRecommender
from lumos.store import COLD_START, build_records, open_store

SCORERS = ("glmix", "affinity")


def course_lists(
    tables,
    *,
    as_of,
    models=SCORERS,
    top_k: int = 50,
    random_state: int = 0,
    members=None,
    engine: str = "local",
    spark=None,
    k: int | None = None,
    seed: int | None = None,
) -> dict:
    """``{model_id: recommendations}`` for the members (default all), plus ``cold_start``'s
    popular list.

    ``tables`` are the six learning tables (a mapping by name, or the tuple in
    the order of :meth:`CourseRecommender.fit`); a model id is its scorer's
    name. With ``engine="spark"`` each GLMix is fitted on Spark and every member
    scored on the executors; the lists are Spark DataFrames with the same rows.
    """
    top_k = renamed(top_k, k, old="k", new="top_k", owner="course_lists")
    random_state = renamed(random_state, seed, old="seed", new="random_state", owner="course_lists")
    if check_engine(engine) == "spark":
        return spark_job("course_lists")(
            tables,
            as_of=as_of,
            models=models,
            top_k=top_k,
            random_state=random_state,
            members=members,
            spark=spark,
        )
    recommenders, cold = fit_course_models(
        tables, as_of=as_of, models=models, top_k=top_k, random_state=random_state
    )
    out = {model: rec.recommend(members) for model, rec in recommenders.items()}
    out[COLD_START] = cold
    return out


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
    engine: str = "local",
    spark=None,
) -> dict:
    """Score every member with each model and publish the lists into ``store`` as one version.

    ``store`` is a store, or its target (an LMDB folder or a Redis URL), opened
    with ``keep`` versions. Each member's record holds the lists of the models
    their treatment can serve (``router``, a
    :class:`~lumos.experiments.ModelRouter`; every model without one), and the
    ``cold_start`` list is published beside them. With ``engine="spark"`` the
    members are scored on the executors and their records written from there
    into Redis (``store`` must be a Redis store or URL, which is checked before
    anything is fitted), then switched live in one step, as a local publish does.

    Returns
    -------
    dict
        The ``version`` published, the number of ``members`` with a list, and the
        ``versions`` the store keeps.
    """
    if check_engine(engine) == "spark":
        return spark_job("publish_courses")(
            store,
            tables,
            as_of=as_of,
            models=models,
            top_k=top_k,
            random_state=random_state,
            router=router,
            version=version,
            keep=keep,
            spark=spark,
        )
    lists = course_lists(tables, as_of=as_of, models=models, top_k=top_k, random_state=random_state)
    members = set().union(*(set(t["member_id"]) for m, t in lists.items() if m != COLD_START))
    with _opened(store, keep=keep) as opened:
        version = publish_lists(opened, lists, router=router, version=version)
        return {"version": version, "members": len(members), "versions": opened.versions()}


@contextlib.contextmanager
def _opened(store, **options):
    """``store`` itself, or the store its target names, opened for the block."""
    if not isinstance(store, str | os.PathLike):
        yield store
        return
    with open_store(store, **options) as opened:
        yield opened


def fit_course_models(
    tables,
    *,
    as_of,
    models=SCORERS,
    top_k: int = 50,
    random_state: int = 0,
    glmix_fitter=None,
    k: int | None = None,
    seed: int | None = None,
):
    """``({model_id: fitted CourseRecommender}, cold-start list)``: what scoring needs.

    Each recommender's :meth:`~CourseRecommender.recommend` gives a member the
    same list whichever members it is asked for with, so the members can be
    scored in batches anywhere (``lumos.spark`` scores them on executors).
    ``glmix_fitter`` is :class:`CourseRecommender`'s (where the GLMix is fitted).
    """
    top_k = renamed(top_k, k, old="k", new="top_k", owner="fit_course_models")
    random_state = renamed(
        random_state, seed, old="seed", new="random_state", owner="fit_course_models"
    )
    tables = learning_tables(tables)
    unknown = [m for m in models if m not in SCORERS]
    if unknown or not models:
        raise LumosUserError(
            f"models must name scorers among {', '.join(SCORERS)}. Got {list(models)!r}.",
            code="bad_argument",
        )
    out, rec = {}, None
    for model in models:
        out[model] = rec = CourseRecommender(
            as_of=as_of,
            top_k=top_k,
            scorer=model,
            random_state=random_state,
            glmix_fitter=glmix_fitter,
        )
        rec.fit(dict(zip(LEARNING_TABLES, tables, strict=True)))
    popular = rec.reasons_.popular_
    top = np.argsort(-popular, kind="stable")[:top_k]
    courses = rec.courses_["course_id"].to_numpy(dtype=object)
    cold = pd.DataFrame(
        {
            "member_id": COLD_START,
            "rank": np.arange(1, len(top) + 1),
            "course_id": courses[top],
            "score": popular[top].astype(np.float64),
            "reason": "popular",
            "reason_text": "Popular with learners",
        }
    )
    return out, cold


def publish_lists(store, lists: dict, *, router=None, version: str | None = None) -> str:
    """Publish ``{model_id: recommendations}`` as one version, each member's treatment only.

    ``router`` (a :class:`~lumos.experiments.ModelRouter`) says which model
    serves each member; without one every member gets every model's list.
    The ``cold_start`` member keeps the ``cold_start`` list.
    """
    members = pd.unique(pd.concat([t["member_id"] for t in lists.values()]))
    treatments = member_treatments(router, members)
    return store.publish(build_records(lists, version=version, treatments=treatments))


def member_treatments(router, members) -> dict | None:
    """``{member_id: models}`` the ``router`` serves (None: every model for everyone)."""
    if router is None:
        return None
    members = np.asarray(members, dtype=object)
    treatments = router.models(members[members != COLD_START])
    treatments[COLD_START] = {COLD_START}
    return treatments


LEARNING_TABLES = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")


def learning_tables(tables) -> tuple:
    """The six learning tables in :meth:`CourseRecommender.fit`'s order, from a mapping by
    name (or an object with those attributes, such as a ``LearningBook``), or the tuple."""
    if isinstance(tables, tuple | list):
        return tuple(tables)
    if not hasattr(tables, "keys"):
        tables = {name: getattr(tables, name, None) for name in LEARNING_TABLES}
    missing = [name for name in LEARNING_TABLES if tables.get(name) is None]
    if missing:
        raise LumosUserError(
            f"the learning tables lack {', '.join(map(repr, missing))}; give all of "
            f"{', '.join(LEARNING_TABLES)}.",
            code="missing_table",
        )
    return tuple(tables[name] for name in LEARNING_TABLES)
