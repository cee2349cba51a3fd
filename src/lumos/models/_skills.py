"""Cold start in skill space: courses and members mapped to skills, and their affinity.

Before anyone has clicked, a member and a course meet through the skills they
share (LinkedIn Learning's first recommender, "Learning to be Relevant", §3):

* **Course → skills.** The taxonomy's tags (precise, partial), widened by
  :class:`SkillTagger`: TF-IDF of a course's title, category and description,
  and one logistic regression per skill trained on the tagged courses.
* **Member → skills.** Profile skills with their scores, mixed with the skills
  of the member's {title, industry} cohort — ``δ1·profile + δ2·cohort`` — so
  members with an empty profile are covered too (:func:`member_skills`).
* **Affinity.** :class:`SkillAffinity` scores a member-course pair by the
  cosine of their skill vectors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from lumos._checks import check_fitted, check_number, renamed, tables_argument
from lumos.data import id_positions, validate_table
from lumos.errors import DataValidationError


def course_skill_matrix(courses, course_skills, skills) -> sparse.csr_matrix:
    """The taxonomy's course × skill 0/1 matrix, rows and columns in table order."""
    c = pd.Index(validate_table("courses", courses)["course_id"])
    s = pd.Index(validate_table("skills", skills)["skill_id"])
    tags = validate_table("course_skills", course_skills)
    i = id_positions(tags["course_id"].to_numpy(), c, "course_skills", "course_id")
    j = id_positions(tags["skill_id"].to_numpy(), s, "course_skills", "skill_id")
    m = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(len(c), len(s)))
    m.data[:] = 1.0  # a repeated tag counts once
    return m


class SkillTagger:
    """Tag courses with skills from their text: TF-IDF and one logistic regression per skill.

    Parameters
    ----------
    threshold : float, default=0.5
        A skill is tagged when its probability reaches this.
    C : float, default=4.0
        Inverse L2 strength of each skill's logistic regression.
    min_df : int, default=1
        TF-IDF's minimum document frequency.

    Attributes
    ----------
    skills_ : ndarray of str
        The skill ids with at least one tagged course (the others cannot be learned).
    vectorizer_ : TfidfVectorizer
    model_ : OneVsRestClassifier

    Examples
    --------
    >>> from lumos.data.demo import learning
    >>> book = learning(50, 200, days=7, random_state=0)
    >>> tagger = SkillTagger().fit(book.courses, book.course_skills)
    >>> tagged = tagger.predict(book.courses)
    >>> tagged["course_id"].nunique() > book.course_skills["course_id"].nunique()
    True
    """

    def __init__(self, *, threshold: float = 0.5, C: float = 4.0, min_df: int = 1):
        self.threshold = threshold
        self.C = C
        self.min_df = min_df

    def fit(self, courses, course_skills) -> SkillTagger:
        """Learn from the tagged courses (those with at least one row in ``course_skills``)."""
        check_number(
            "SkillTagger", "threshold", self.threshold, strict=True, high=1, high_strict=True
        )
        courses = validate_table("courses", courses)
        tags = validate_table("course_skills", course_skills)
        known = pd.Index(courses["course_id"])
        rows = id_positions(tags["course_id"].to_numpy(), known, "course_skills", "course_id")
        self.skills_ = np.array(sorted(tags["skill_id"].unique()), dtype=object)
        if len(self.skills_) < 2:
            raise DataValidationError(
                "course_skills tags fewer than 2 distinct skills; a tagger needs at least two.",
                code="too_few_labels",
                file="course_skills",
            )
        tagged = np.unique(rows)
        cols = pd.Index(self.skills_).get_indexer(tags["skill_id"])
        Y = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(courses), len(self.skills_))
        )[tagged]
        Y.data[:] = 1
        self.vectorizer_ = TfidfVectorizer(
            min_df=self.min_df, ngram_range=(1, 2), sublinear_tf=True
        )
        X = self.vectorizer_.fit_transform(_text(courses.iloc[tagged]))
        base = LogisticRegression(C=self.C, max_iter=1000, class_weight="balanced")
        self.model_ = OneVsRestClassifier(base).fit(X, Y.toarray().astype(int))
        return self

    def predict_proba(self, courses) -> np.ndarray:
        """Course × skill probabilities (columns: ``skills_``)."""
        check_fitted(self, "model_")
        courses = validate_table("courses", courses)
        return self.model_.predict_proba(self.vectorizer_.transform(_text(courses)))

    def predict(self, courses) -> pd.DataFrame:
        """``course_id, skill_id, probability`` for every tag at or above the threshold."""
        courses = validate_table("courses", courses)
        p = self.predict_proba(courses)
        i, j = np.nonzero(p >= self.threshold)
        return pd.DataFrame(
            {
                "course_id": courses["course_id"].to_numpy()[i],
                "skill_id": self.skills_[j],
                "probability": p[i, j],
            }
        )


def _text(courses: pd.DataFrame) -> pd.Series:
    return courses["title"] + ". " + courses["category"] + ". " + courses["description"]


def tagging_report(taxonomy, predicted, skills, *, courses=None) -> dict:
    """Skill coverage, course coverage and precision/recall of ``predicted`` against ``taxonomy``.

    Both are ``course_id, skill_id`` tables. Precision and recall count the
    pairs of the courses the taxonomy tags (the paper's Tables 1-2); coverage
    is the share of all skills (and of ``courses``, when given) the mapping
    reaches.
    """
    skills = validate_table("skills", skills)
    truth = set(zip(taxonomy["course_id"], taxonomy["skill_id"], strict=True))
    judged = predicted[predicted["course_id"].isin(taxonomy["course_id"])]
    guess = set(zip(judged["course_id"], judged["skill_id"], strict=True))
    hits = len(truth & guess)
    out = {
        "skill_coverage": predicted["skill_id"].nunique() / len(skills),
        "precision": hits / len(guess) if guess else np.nan,
        "recall": hits / len(truth) if truth else np.nan,
    }
    if courses is not None:
        out["course_coverage"] = predicted["course_id"].nunique() / len(courses)
    return out


def member_skills(
    members,
    member_skills=None,
    skills=None,
    *,
    profile_weight: float = 1.0,
    cohort_weight: float = 0.5,
    min_cohort: int = 5,
    profile_skills=None,
) -> np.ndarray:
    """Members × skills: ``profile_weight·profile + cohort_weight·cohort`` (ms02).

    ``member_skills`` (``member_id, skill_id, score``; ``profile_skills`` is its
    older name) holds each member's profile skill scores: ``profile``. ``cohort`` is the
    mean profile vector of the members with a profile in the same {title,
    industry} cohort; a cohort with fewer than ``min_cohort`` such members uses
    its title's, and a title without any uses everyone's. ``cohort_weight=0``
    is the profile alone (ms01).

    Examples
    --------
    >>> members = pd.DataFrame({"member_id": ["a", "b"], "title": ["Dev", "Dev"],
    ...     "industry": ["IT", "IT"], "company": "", "region": "NA"})
    >>> skills = pd.DataFrame({"skill_id": ["py", "sql"], "name": ["Python", "SQL"],
    ...                        "category": "Software"})
    >>> profile = pd.DataFrame({"member_id": ["a"], "skill_id": ["py"], "score": [0.8]})
    >>> member_skills(members, profile, skills, min_cohort=1).round(2)
    array([[1.2, 0. ],
           [0.4, 0. ]])
    """
    member_skills = renamed(
        member_skills,
        profile_skills,
        old="profile_skills",
        new="member_skills",
        owner="member_skills",
    )
    if member_skills is None or skills is None:
        raise TypeError("member_skills() needs members, member_skills and skills")
    check_number("member_skills", "profile_weight", profile_weight)
    check_number("member_skills", "cohort_weight", cohort_weight)
    members = validate_table("members", members)
    skills = validate_table("skills", skills)
    prof = validate_table("member_skills", member_skills)
    m = id_positions(
        prof["member_id"].to_numpy(), pd.Index(members["member_id"]), "member_skills", "member_id"
    )
    s = id_positions(
        prof["skill_id"].to_numpy(), pd.Index(skills["skill_id"]), "member_skills", "skill_id"
    )
    P = np.zeros((len(members), len(skills)))
    np.maximum.at(P, (m, s), prof["score"].to_numpy())
    has = P.any(1)
    cohort = np.zeros_like(P)
    if cohort_weight > 0:
        fallback = P[has].mean(0) if has.any() else np.zeros(len(skills))
        for keys in (["title"], ["title", "industry"]):  # the finer cohort overwrites
            code = pd.MultiIndex.from_frame(members[keys]).factorize()[0]
            sums = np.zeros((code.max() + 1, len(skills)))
            np.add.at(sums, code[has], P[has])
            count = np.bincount(code[has], minlength=code.max() + 1)
            ok = count >= (min_cohort if len(keys) == 2 else 1)
            means = np.divide(sums, count[:, None], out=np.zeros_like(sums), where=ok[:, None])
            if len(keys) == 1:
                cohort = np.where(ok[code, None], means[code], fallback)
            else:
                cohort = np.where(ok[code, None], means[code], cohort)
    return profile_weight * P + cohort_weight * cohort


#: The tables :meth:`SkillAffinity.fit` reads, by name.
AFFINITY_TABLES = ("members", "member_skills", "courses", "course_skills", "skills")


class SkillAffinity:
    """Cosine affinity of members and courses in skill space.

    Parameters
    ----------
    profile_weight, cohort_weight : float
        δ1 and δ2 of :func:`member_skills` (``cohort_weight=0``: profile only).
    tagger : SkillTagger, optional
        Widens the taxonomy with the tagger's tags (weighted by probability).

    Examples
    --------
    >>> from lumos.data.demo import learning
    >>> book = learning(60, 40, days=7, random_state=0)
    >>> aff = SkillAffinity().fit(book.tables)
    >>> aff.score(["M000000", "M000001"], ["C00000", "C00003"]).shape
    (2,)
    """

    def __init__(
        self,
        *,
        profile_weight: float = 1.0,
        cohort_weight: float = 0.5,
        tagger: SkillTagger | None = None,
    ):
        self.profile_weight = profile_weight
        self.cohort_weight = cohort_weight
        self.tagger = tagger

    def fit(self, tables=None, *more, **named) -> SkillAffinity:
        """Build the member and course skill vectors (nothing is learned from clicks).

        ``tables`` maps ``members``, ``member_skills``, ``courses``,
        ``course_skills`` and ``skills`` to their tables (a ``LearningBook``'s
        ``tables``, or the book itself). The five tables one by one (``profile_skills``
        the older name of ``member_skills``) still work for a release, with a
        ``DeprecationWarning``.
        """
        tables = tables_argument(
            tables,
            more,
            named,
            names=AFFINITY_TABLES,
            aliases={"profile_skills": "member_skills"},
            owner="SkillAffinity.fit",
        )
        members, courses, skills = tables["members"], tables["courses"], tables["skills"]
        course_skills = tables["course_skills"]
        M = member_skills(
            members,
            tables["member_skills"],
            skills,
            profile_weight=self.profile_weight,
            cohort_weight=self.cohort_weight,
        )
        C = course_skill_matrix(courses, course_skills, skills).toarray()
        if self.tagger is not None:
            p = self.tagger.predict_proba(courses)
            cols = pd.Index(validate_table("skills", skills)["skill_id"]).get_indexer(
                self.tagger.skills_
            )
            wide = np.zeros_like(C)
            wide[:, cols[cols >= 0]] = np.where(p >= self.tagger.threshold, p, 0)[:, cols >= 0]
            C = np.maximum(C, wide)
        self.members_ = pd.Index(validate_table("members", members)["member_id"])
        self.courses_ = pd.Index(validate_table("courses", courses)["course_id"])
        self.member_vectors_ = _unit(M)
        self.course_vectors_ = _unit(C)
        return self

    def coverage(self) -> dict:
        """Shares of members and courses with any skill, and of skills any course has."""
        return {
            "member_coverage": float(self.member_vectors_.any(1).mean()),
            "course_coverage": float(self.course_vectors_.any(1).mean()),
            "skill_coverage": float(self.course_vectors_.any(0).mean()),
        }

    def score(self, member_ids, course_ids) -> np.ndarray:
        """The affinity of each (member, course) pair; unknown ids are an error."""
        m = id_positions(np.asarray(member_ids, dtype=object), self.members_, "pairs", "member_id")
        c = id_positions(np.asarray(course_ids, dtype=object), self.courses_, "pairs", "course_id")
        return np.einsum("ij,ij->i", self.member_vectors_[m], self.course_vectors_[c])

    def matrix(self, member_index=None) -> np.ndarray:
        """Members (all, or the given positions) × all courses."""
        M = self.member_vectors_ if member_index is None else self.member_vectors_[member_index]
        return M @ self.course_vectors_.T


def _unit(X: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norm, out=np.zeros_like(X, dtype=np.float64), where=norm > 0)
