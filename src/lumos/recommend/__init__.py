"""Batch scoring with reasons: the Account Prioritizer (more to come: course recommendations)."""

from lumos.recommend._prioritizer import AccountPrioritizer

__all__ = ["AccountPrioritizer"]
