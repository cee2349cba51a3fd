"""Batch scoring with reasons: the Account Prioritizer and course recommendations."""

from lumos.recommend._candidates import candidate_pools
from lumos.recommend._courses import CourseRecommender
from lumos.recommend._prioritizer import AccountPrioritizer
from lumos.recommend._publish import course_lists, fit_course_models, publish_lists
from lumos.recommend._scoring import top_k

__all__ = [
    "AccountPrioritizer",
    "CourseRecommender",
    "candidate_pools",
    "course_lists",
    "fit_course_models",
    "publish_lists",
    "top_k",
]
