"""Estimators: skill affinity (cold start), logistic regression with offsets, GLMix, propensity."""

from lumos.models._glmix import GLMix
from lumos.models._logistic import LogisticRegression
from lumos.models._propensity import PropensityModel
from lumos.models._skills import SkillAffinity, SkillTagger, member_skills, tagging_report

__all__ = [
    "GLMix",
    "LogisticRegression",
    "PropensityModel",
    "SkillAffinity",
    "SkillTagger",
    "member_skills",
    "tagging_report",
]
