"""Batch scoring with reasons: the Account Prioritizer and course recommendations."""

from lumos.recommend._candidates import candidate_pools
from lumos.recommend._courses import CourseRecommender
from lumos.recommend._prioritizer import AccountPrioritizer
from lumos.recommend._publish import (
    LEARNING_TABLES,
    SCORERS,
    course_lists,
    fit_course_models,
    learning_tables,
    member_treatments,
    publish_courses,
    publish_lists,
)
from lumos.recommend._scoring import top_k

__all__ = [
    "LEARNING_TABLES",
    "SCORERS",
    "AccountPrioritizer",
    "CourseRecommender",
    "candidate_pools",
    "course_lists",
    "fit_course_models",
    "learning_tables",
    "member_treatments",
    "publish_courses",
    "publish_lists",
    "top_k",
]
