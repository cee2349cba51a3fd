"""Course recommendations with a reason each: candidates → batch scores → top K → reasons.

:class:`CourseRecommender` wires the pieces over the learning platform's
tables: the skill tagger and affinities (cold start, :mod:`lumos.models`), the
candidate pools, batch scoring by dot products, and the reasons of
:class:`~lumos.explain.CourseReasons`. The score comes from the cold-start
affinity, or from any model that writes its score of a (member, course) pair
as a dot product ``U[m] · V[c]`` (``scorer.factors(members, courses)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos._checks import (
    check_fitted,
    check_number,
    renamed,
    renamed_attribute,
    tables_argument,
)
from lumos.data import validate_table
from lumos.errors import LumosUserError, NotFittedError
from lumos.explain import CourseReasons
from lumos.models import SkillAffinity, SkillTagger
from lumos.recommend._candidates import candidate_pools
from lumos.recommend._scoring import top_k
from lumos.recommend._supervised import GLMixScorer, fit_course_glmix, training_rows

#: The tables :meth:`CourseRecommender.fit` reads, by name.
COURSE_TABLES = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")


class CourseRecommender:
    """Top-K courses per member, each with its reason.

    Parameters
    ----------
    as_of : date-like
        Recommend as of this day: only interactions before it are read.
    top_k : int, default=50
        Courses kept per member (``k`` is its older name).
    scorer : {"affinity", "glmix"} or object, default="affinity"
        ``"affinity"``: the cold-start skill affinity (taxonomy widened by the
        tagger, profile and title/industry skills). ``"glmix"``: a GLMix
        trained by :meth:`fit` on the clicks before ``as_of``
        (:mod:`lumos.recommend._supervised`). Or any fitted model with
        ``factors(members, courses) -> (U, V)``.
    glmix_params : dict, optional
        Parameters of the GLMix (``scorer="glmix"``).
    glmix_fitter : callable, optional
        ``fitter(model, rows) -> fitted GLMix``: where the GLMix is fitted
        (``lumos.spark.glmix_fitter()`` fits it on Spark); default ``model.fit``.
    channel : str or list of str, optional
        Train the GLMix on these channels' impressions only: a model per
        channel (``"email"``, ``"homepage"``, …).
    pool_sizes : dict, optional
        See :func:`candidate_pools`.
    reasons : list of str, optional
        See :class:`~lumos.explain.CourseReasons`.
    random_state : int, default=0
        The candidate pools' down-sampling seed (``seed`` is its older name).

    Examples
    --------
    >>> from lumos.data.demo import learning
    >>> book = learning(100, 60, days=14, random_state=0)
    >>> rec = CourseRecommender(as_of=book.end, top_k=5).fit(book.tables)
    >>> top = rec.recommend(["M000001"])
    >>> list(top.columns), len(top)
    (['member_id', 'rank', 'course_id', 'score', 'reason', 'reason_text'], 5)
    """

    def __init__(
        self,
        *,
        as_of,
        top_k: int = 50,
        scorer="affinity",
        glmix_params=None,
        glmix_fitter=None,
        channel=None,
        pool_sizes=None,
        reasons=None,
        random_state: int = 0,
        k: int | None = None,
        seed: int | None = None,
    ):
        self.as_of = as_of
        self.top_k = renamed(top_k, k, old="k", new="top_k", owner="CourseRecommender")
        self.scorer = scorer
        self.glmix_params = glmix_params
        self.glmix_fitter = glmix_fitter
        self.channel = channel
        self.pool_sizes = pool_sizes
        self.reasons = reasons
        self.random_state = renamed(
            random_state, seed, old="seed", new="random_state", owner="CourseRecommender"
        )

    k = renamed_attribute("top_k", "k", "CourseRecommender")
    seed = renamed_attribute("random_state", "seed", "CourseRecommender")

    def fit(self, tables=None, *more, **named) -> CourseRecommender:
        """Tag courses, map members to skills and prepare the reasons (no click is learned).

        ``tables`` maps ``members``, ``member_skills``, ``courses``,
        ``course_skills``, ``skills`` and ``interactions`` to their tables (a
        ``LearningBook``'s ``tables``, or the book itself). The six tables one by
        one still work for a release, with a ``DeprecationWarning``.
        """
        tables = tables_argument(
            tables, more, named, names=COURSE_TABLES, owner="CourseRecommender.fit"
        )
        check_number("CourseRecommender", "top_k", self.top_k, low=1, integer=True)
        members, courses = tables["members"], tables["courses"]
        interactions = tables["interactions"]
        self.members_ = validate_table("members", members)
        self.courses_ = validate_table("courses", courses)
        self.tagger_ = SkillTagger().fit(courses, tables["course_skills"])
        self.precise_ = SkillAffinity(cohort_weight=0.5).fit(tables)
        self.wide_ = SkillAffinity(cohort_weight=0.5, tagger=self.tagger_).fit(tables)
        if isinstance(self.scorer, str) and self.scorer not in ("affinity", "glmix"):
            raise LumosUserError(
                f"The 'scorer' parameter of CourseRecommender must be "
                f"'affinity', 'glmix' or a model with factors(). Got "
                f"{self.scorer!r}.",
                code="bad_argument",
            )
        if isinstance(self.scorer, str) and self.scorer == "glmix":
            rows = training_rows(
                interactions, members, courses, self.wide_, as_of=self.as_of, channel=self.channel
            )
            self.glmix_ = fit_course_glmix(
                rows, fitter=self.glmix_fitter, **(self.glmix_params or {})
            )
            self.scorer_ = GLMixScorer(self.glmix_, self.wide_)
        else:
            self.scorer_ = None if isinstance(self.scorer, str) else self.scorer
        tagged = self.tagger_.predict(courses)
        self.reasons_ = CourseReasons(as_of=self.as_of, reasons=self.reasons).fit(
            tables, tagged=tagged
        )
        return self

    def candidates(self, member_index: np.ndarray):
        """The candidate matrix (rows: ``member_index``) and the pools' report."""
        r = self.reasons_
        trend = r.trends_["trending"][2][0]
        popular = trend + r.popular_ / max(r.popular_.max(), 1) * 1e-3  # trends, then popular
        return candidate_pools(
            len(member_index),
            precise=(self.precise_.member_vectors_[member_index], self.precise_.course_vectors_),
            wide=(self.wide_.member_vectors_[member_index], self.wide_.course_vectors_),
            engaged=r.engaged_[member_index],
            similar=r.similar_,
            popular=popular,
            sizes=self.pool_sizes,
            random_state=self.random_state,
            member_index=member_index,
        )

    def recommend(self, member_ids=None) -> pd.DataFrame:
        """``member_id, rank, course_id, score, reason, reason_text`` for the members (all)."""
        check_fitted(self, "reasons_")
        ids = self.members_["member_id"].to_numpy(dtype=object)
        index = np.arange(len(ids)) if member_ids is None else _positions(member_ids, ids)
        cand, self.candidates_report_ = self.candidates(index)
        if self.scorer_ is None:
            U, V = self.wide_.member_vectors_[index], self.wide_.course_vectors_
        else:
            U, V = self.scorer_.factors(self.members_.iloc[index], self.courses_)
        best, score = top_k(U, V, self.top_k, candidates=cand)
        rows, rank = np.nonzero(best >= 0)
        out = pd.DataFrame(
            {
                "member_id": ids[index][rows],
                "rank": rank + 1,
                "course_id": self.courses_["course_id"].to_numpy(dtype=object)[best[rows, rank]],
                "score": score[rows, rank].astype(np.float64),
            }
        )
        why = self.reasons_.annotate(out[["member_id", "course_id"]])
        return out.assign(
            reason=why["reason"].to_numpy(), reason_text=why["reason_text"].to_numpy()
        )

    def click_predictions(self, interactions, *, start=None, end=None) -> pd.DataFrame:
        """The GLMix's click probability of each impression from ``start`` (default
        :attr:`as_of`) until ``end``: held-out predictions for
        :func:`lumos.evaluate.model_health`.

        Returns ``model, member_id, course_id, channel, timestamp, label, score``
        twice over: model ``glmix`` (global + per-member + per-course) and
        ``global`` (the global model alone), so the per-entity models' worth shows.
        """
        if getattr(self, "scorer", None) != "glmix" or not hasattr(self, "glmix_"):
            raise NotFittedError(
                "click_predictions needs a CourseRecommender fitted with scorer='glmix'."
            )
        rows = training_rows(
            interactions, self.members_, self.courses_, self.wide_, channel=self.channel
        )
        start = pd.Timestamp(self.as_of if start is None else start)
        keep = rows["timestamp"] >= start
        if end is not None:
            keep &= rows["timestamp"] < pd.Timestamp(end)
        rows = rows[keep].reset_index(drop=True)
        shown = rows[["member_id", "course_id", "channel", "timestamp"]].assign(
            label=rows["label"].astype(int)
        )
        unseen = rows.assign(member_id="", course_id="")  # ids no entity model has
        return pd.concat(
            [
                shown.assign(score=self.glmix_.predict_proba(frame)[:, 1]).assign(model=name)
                for name, frame in (("glmix", rows), ("global", unseen))
            ],
            ignore_index=True,
        )[["model", *shown.columns, "score"]]


def _positions(member_ids, ids: np.ndarray) -> np.ndarray:
    at = pd.Index(ids).get_indexer(np.asarray(member_ids, dtype=object))
    if (at < 0).any():
        bad = np.asarray(member_ids, dtype=object)[np.argmax(at < 0)]
        raise LumosUserError(
            f"member {bad!r} is not in the members table; check the id.", code="unknown_id"
        )
    return at
