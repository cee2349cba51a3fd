"""Offline scoring into the online store: every model's lists, filtered by treatment, published.

:func:`course_lists` runs the course recommender once per model (the scorers
``glmix`` and ``affinity``) and adds the cold-start list — the most popular
courses, for members the store has nothing for. :func:`publish_lists` builds
one compact record per member holding only the lists of the models the
member's experiment treatment can serve, and publishes them as one version.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.errors import LumosUserError
from lumos.recommend._courses import CourseRecommender
from lumos.store import COLD_START, build_records

SCORERS = ("glmix", "affinity")


def course_lists(tables, *, as_of, models=SCORERS, k: int = 50, seed: int = 0) -> dict:
    """``{model_id: recommendations}`` for every member, plus ``cold_start``'s popular list.

    ``tables`` are the six learning tables in the order of
    :meth:`CourseRecommender.fit`; a model id is its scorer's name.
    """
    recommenders, cold = fit_course_models(tables, as_of=as_of, models=models, k=k, seed=seed)
    out = {model: rec.recommend() for model, rec in recommenders.items()}
    out[COLD_START] = cold
    return out


def fit_course_models(
    tables, *, as_of, models=SCORERS, k: int = 50, seed: int = 0, glmix_fitter=None
):
    """``({model_id: fitted CourseRecommender}, cold-start list)``: what scoring needs.

    Each recommender's :meth:`~CourseRecommender.recommend` gives a member the
    same list whichever members it is asked for with, so the members can be
    scored in batches anywhere (``lumos.spark`` scores them on executors).
    ``glmix_fitter`` is :class:`CourseRecommender`'s (where the GLMix is fitted).
    """
    unknown = [m for m in models if m not in SCORERS]
    if unknown or not models:
        raise LumosUserError(
            f"models must name scorers among {', '.join(SCORERS)}. Got {list(models)!r}.",
            code="bad_argument",
        )
    out, rec = {}, None
    for model in models:
        out[model] = rec = CourseRecommender(
            as_of=as_of, k=k, scorer=model, seed=seed, glmix_fitter=glmix_fitter
        )
        rec.fit(*tables)
    popular = rec.reasons_.popular_
    top = np.argsort(-popular, kind="stable")[:k]
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
