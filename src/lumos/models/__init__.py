"""Estimators: skill affinity (cold start), logistic regression with offsets, GLMix, propensity.

The solver pieces the Spark engine shares are public in :mod:`lumos.models.solvers`.
"""

from lumos.models._glmix import GLMix
from lumos.models._logistic import LogisticRegression
from lumos.models._propensity import PropensityModel, classify_change
from lumos.models._skills import (
    SkillAffinity,
    SkillTagger,
    course_skill_matrix,
    member_skills,
    tagging_report,
)

__all__ = [
    "GLMix",
    "LogisticRegression",
    "PropensityModel",
    "SkillAffinity",
    "SkillTagger",
    "classify_change",
    "course_skill_matrix",
    "member_skills",
    "tagging_report",
]
