"""Metrics and reports on models' predictions."""

from lumos.evaluate._propensity import propensity_report

__all__ = ["propensity_report"]
