"""The supervised course model: GLMix on clicks, scored as dot products.

Training rows are impressions labelled by clicks
(:func:`~lumos.features.click_labels`), with member features (seniority),
course features (difficulty, length), the member-course skill affinity, and
the context of the impression (channel, weekend). The model is a GLMix: a
global model, one model per member on the course features and one per course
on the member features (LinkedIn Learning's GLMix, "Learning to be Relevant"
§5).

At scoring time every term of the GLMix score is either the member's, the
course's, or a product of a member vector and a course vector — so the score
of a pair is one dot product ``U[m] · V[c]`` (:func:`glmix_factors`), and
:func:`~lumos.recommend.top_k` scores member batches against the whole
catalog. The context is held at its reference level (homepage, a weekday): it
shifts every course of a request alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.data import validate_table
from lumos.errors import LumosUserError
from lumos.features import FeatureRepository, Featurizer, click_labels
from lumos.models import GLMix, SkillAffinity

MEMBER_FEATURES = ["seniority"]
COURSE_FEATURES = ["difficulty_level", "log_duration"]
PAIR_FEATURES = ["affinity"]
_DIFFICULTY = {"beginner": -1.0, "intermediate": 0.0, "advanced": 1.0}


def member_features(members) -> pd.DataFrame:
    """``member_id`` and the member features (``seniority``, 0 when the table has none)."""
    m = validate_table("members", members)
    seniority = m["seniority"] if "seniority" in m else pd.Series(0.0, index=m.index)
    return pd.DataFrame(
        {
            "member_id": m["member_id"],
            "seniority": pd.to_numeric(seniority).fillna(0.0).to_numpy(float),
        }
    )


def course_features(courses) -> pd.DataFrame:
    """``course_id`` and the course features: difficulty (-1, 0, 1) and log duration (hours)."""
    c = validate_table("courses", courses)
    level = c["difficulty"].str.lower().map(_DIFFICULTY).fillna(0.0)
    return pd.DataFrame(
        {
            "course_id": c["course_id"],
            "difficulty_level": level.to_numpy(float),
            "log_duration": np.log(c["duration"].to_numpy() / 3600.0),
        }
    )


def write_snapshot(
    repository: FeatureRepository, date, members, courses, affinity: SkillAffinity
) -> None:
    """Write the member and course features of ``date`` (with skill vectors) to a repository."""
    mf = member_features(members)
    cf = course_features(courses)
    m = affinity.members_.get_indexer(mf["member_id"])
    c = affinity.courses_.get_indexer(cf["course_id"])
    if (m < 0).any() or (c < 0).any():
        raise LumosUserError(
            "members and courses must be among those the affinity was fitted on.", code="unknown_id"
        )
    repository.write("member", date, mf.assign(skills=list(affinity.member_vectors_[m])))
    repository.write("course", date, cf.assign(skills=list(affinity.course_vectors_[c])))


def featurizer(repository: FeatureRepository) -> Featurizer:
    """The features GLMix reads, by name, as of each row's date (affinity: skills · skills)."""
    return Featurizer(
        repository,
        member_features=MEMBER_FEATURES,
        course_features=COURSE_FEATURES,
        transforms=[("dot", "member_skills", "course_skills", "affinity")],
    )


def training_rows(
    interactions,
    members,
    courses,
    affinity: SkillAffinity | None = None,
    *,
    as_of=None,
    repository: FeatureRepository | None = None,
    channel=None,
) -> pd.DataFrame:
    """Impressions before ``as_of`` labelled by clicks, with every feature GLMix reads.

    ``channel`` (a name or a list) keeps those channels' impressions, to train
    a model per channel.

    The features come from the tables and ``affinity`` as they are now, or —
    given a ``repository`` (:func:`write_snapshot`) — from the snapshot as of
    each impression's own date; impressions with no snapshot yet are dropped.
    """
    rows = click_labels(interactions, channel=channel)
    if as_of is not None:
        rows = rows[rows["timestamp"] < pd.Timestamp(as_of)]
    if repository is not None:
        got = featurizer(repository).transform(rows[["member_id", "course_id", "date"]])
        rename = {f"member_{f}": f for f in MEMBER_FEATURES}
        rename |= {f"course_{f}": f for f in COURSE_FEATURES}
        got = got.rename(columns=rename)[[*MEMBER_FEATURES, *COURSE_FEATURES, *PAIR_FEATURES]]
        rows = pd.concat([rows.reset_index(drop=True), got.reset_index(drop=True)], axis=1)
        rows = rows.dropna(subset=[*MEMBER_FEATURES, *COURSE_FEATURES, *PAIR_FEATURES])
    else:
        if affinity is None:
            raise LumosUserError(
                "training_rows needs an affinity or a repository.", code="bad_argument"
            )
        rows = rows.merge(member_features(members), on="member_id", how="inner")
        rows = rows.merge(course_features(courses), on="course_id", how="inner")
        rows["affinity"] = affinity.score(
            rows["member_id"].to_numpy(), rows["course_id"].to_numpy()
        )
    for channel in ("email", "mobile"):
        rows[f"channel_{channel}"] = (rows["channel"] == channel).astype(float)
    rows["weekend"] = (rows["day_of_week"] >= 5).astype(float)
    return rows.reset_index(drop=True)


CONTEXT = ["channel_email", "channel_mobile", "weekend"]


def fit_course_glmix(rows: pd.DataFrame, *, fitter=None, **params) -> GLMix:
    """GLMix on :func:`training_rows`: per-member on course features, per-course on member ones.

    ``fitter(model, rows) -> fitted model`` fits the configured, unfitted GLMix
    elsewhere (``lumos.spark.glmix_fitter`` fits it on Spark); by default
    ``model.fit`` on the label column.
    """
    defaults = {"l2": 1.0, "passes": 2, "min_rows": 1}
    model = GLMix(
        fixed_effect=[*MEMBER_FEATURES, *COURSE_FEATURES, *PAIR_FEATURES, *CONTEXT],
        random_effects={"member_id": COURSE_FEATURES, "course_id": MEMBER_FEATURES},
        **(defaults | params),
    )
    if fitter is not None:
        return fitter(model, rows)
    return model.fit(rows, rows["label"].to_numpy())


class GLMixScorer:
    """A fitted course GLMix as ``factors(members, courses) -> (U, V)`` for batch scoring."""

    def __init__(self, model: GLMix, affinity: SkillAffinity):
        self.model = model
        self.affinity = affinity

    def factors(self, members, courses) -> tuple[np.ndarray, np.ndarray]:
        """``U`` (members × d) and ``V`` (courses × d) with ``U @ V.T`` the GLMix log-odds."""
        mf, cf = member_features(members), course_features(courses)
        m_at = self.affinity.members_.get_indexer(mf["member_id"])
        c_at = self.affinity.courses_.get_indexer(cf["course_id"])
        if (m_at < 0).any() or (c_at < 0).any():
            raise LumosUserError(
                "members and courses must be among those the affinity was fitted on.",
                code="unknown_id",
            )
        pairs = {
            "affinity": (self.affinity.member_vectors_[m_at], self.affinity.course_vectors_[c_at])
        }
        return glmix_factors(self.model, mf, cf, pairs=pairs)


def glmix_factors(
    model: GLMix,
    members: pd.DataFrame,
    courses: pd.DataFrame,
    *,
    pairs=None,
    member_id="member_id",
    course_id="course_id",
):
    """Write a fitted GLMix's score of every (member, course) pair as ``U[m] · V[c]``.

    Parameters
    ----------
    model : GLMix
        Its features are member columns (in ``members``), course columns (in
        ``courses``), pair features given in ``pairs`` as the dot product of a
        member vector and a course vector, or context features (absent from
        all three: held at 0). Random effects are keyed by ``member_id`` and
        ``course_id``.
    members, courses : DataFrame
        The id column and the side's feature columns.
    pairs : dict of {str: (ndarray, ndarray)}, optional
        ``{feature: (A, B)}``: the feature of (m, c) is ``A[m] · B[c]``.

    Returns
    -------
    U : ndarray of shape (n_members, d)
    V : ndarray of shape (n_courses, d)
        ``U @ V.T`` equals ``model.decision_function`` of the pairs (context 0).
    """
    pairs = pairs or {}
    mean = dict(zip(model.feature_columns_, model.scale_mean_, strict=True))
    std = dict(zip(model.feature_columns_, model.scale_std_, strict=True))
    n, C = len(members), len(courses)
    const = {"m": np.full(n, float(model.intercept_[0])), "c": np.zeros(C)}
    U, V = [const["m"], np.ones(n)], [np.ones(C), const["c"]]

    def term(a, b, f):
        """Add ``a[m] · b[c] · f(m, c)`` (standardized); ``a`` or ``b`` is a number."""
        if f in members:
            x = (members[f].to_numpy(float) - mean[f]) / std[f]
            if np.ndim(b) == 0:
                const["m"] += a * b * x
            else:
                U.append(a * x), V.append(b)
        elif f in courses:
            x = (courses[f].to_numpy(float) - mean[f]) / std[f]
            if np.ndim(a) == 0:
                const["c"] += a * b * x
            else:
                U.append(a), V.append(b * x)
        else:
            if f in pairs:  # (A[m]·B[c] - mean) / std: a bilinear part and a constant
                A, B = pairs[f]
                U.extend((A * (np.broadcast_to(a, n) / std[f])[:, None]).T)
                V.extend((B * np.broadcast_to(b, C)[:, None]).T)
            shift = -mean[f] / std[f]  # a context feature (absent) is held at 0
            const["m" if np.ndim(b) == 0 else "c"] += a * b * shift

    for f, w in zip(model.fixed_effect_, model.coef_[0], strict=True):
        term(float(w), 1.0, f)
    for col, feats in model.random_effects_.items():
        if col not in (member_id, course_id):
            raise LumosUserError(
                f"random effect {col!r} is neither {member_id!r} nor {course_id!r}; "
                "glmix_factors cannot place it.",
                code="bad_argument",
            )
        ids = (members if col == member_id else courses)[col].to_numpy()
        known = pd.Index(model.entity_ids_[col]).get_indexer(ids)
        have = known >= 0
        coef = np.zeros((len(ids), len(feats)))
        coef[have] = model.entity_coef_[col][known[have]]
        intercept = np.where(have, model.entity_intercept_[col][np.maximum(known, 0)], 0.0)
        const["m" if col == member_id else "c"] += intercept
        for j, f in enumerate(feats):
            a, b = (coef[:, j], 1.0) if col == member_id else (1.0, coef[:, j])
            term(a, b, f)
    return np.column_stack(U), np.column_stack(V)
