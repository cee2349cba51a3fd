"""Metrics and reports on models' predictions: propensity reports and the slice finder."""

from lumos.evaluate._propensity import propensity_report
from lumos.evaluate._slices import METRICS, Slices, find_slices

__all__ = ["METRICS", "Slices", "find_slices", "propensity_report"]
